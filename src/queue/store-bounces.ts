/**
 * What the bounce reader (src/notify/bounces.ts) keeps: recipients Microsoft accepted and then
 * refused in a non-delivery report, found by the Message-ID they were delivered with, and which
 * node reads each route's mailbox and how far it has read. A lease per route, as message claims
 * are, lets one node of a cluster read a mailbox at a time and another take over when it dies.
 */
import type { RecipientState, State } from './states.js';
import type { UpstreamReply } from './store.js';

/** A recipient of a message delivered with a given Message-ID. */
export interface BounceTarget {
  messageId: string;
  idx: number;
  address: string;
  state: RecipientState;
  /** The route it was delivered on. */
  route: string | null;
}

export interface Bounce {
  messageId: string;
  idx: number;
  /** Microsoft's words from the report: its status and diagnostic code. */
  reply: UpstreamReply;
  diagnosis: string;
  at: number;
}

/** `bounced`: marked now (its DSN is due); `already`: a report for it was read before; `not-delivered`: it is in another state. */
export type BounceOutcome = { ok: true; state: State } | { ok: false; reason: 'already' | 'not-delivered' | 'not-found' };

export interface BounceStore {
  /** Recipients of the messages delivered with this Message-ID (with its angle brackets). */
  recipientsByMessageIdHeader(header: string): Promise<BounceTarget[]>;
  /** Marks a delivered recipient bounced (BOUNCE in states.ts), due for its DSN, in one transaction. */
  bounce(b: Bounce): Promise<BounceOutcome>;
  /**
   * Takes (or keeps) `node`'s turn reading `route`'s bounces until now + leaseMs; null while
   * another node holds it. Returns how far the route's mailbox was read (null: never).
   */
  takeBounceTurn(route: string, node: string, now: number, leaseMs: number): Promise<{ watermark: string | null } | null>;
  /**
   * Records, while `node` holds the turn, how far it has read `route`'s mailbox (a Graph
   * receivedDateTime; unchanged when absent) and what stops it reading (null: nothing).
   */
  recordBounceRead(route: string, node: string, read: { watermark?: string; problem: string | null }): Promise<void>;
  /** Every route's reader as last recorded: `relay365 queue show` says when bounces are not read. */
  bounceReaders(): Promise<BounceReader[]>;
}

export interface BounceReader {
  route: string;
  node: string;
  watermark: string | null;
  /** Why the mailbox cannot be read (no Mail.Read…), in the reader's words; null when it can. */
  problem: string | null;
}
