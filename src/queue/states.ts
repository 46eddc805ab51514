/**
 * The states of a message and of its recipients, and every way one becomes another.
 * Like Postfix's queue directories, each state is a plain, named place; this file is the
 * only place that decides which moves are allowed, so it can be read top to bottom.
 *
 * A message's state follows from its recipients' states after each delivery attempt
 * (see stateAfterAttempt); admin actions and crash recovery move it directly, and only
 * from the states listed in ACTIONS.
 */

export const State = {
  /** Accepted and committed; due for delivery now or at next_attempt_at. */
  queued: 'queued',
  /** Claimed by a node under a lease; the lease's expiry returns it to the queue. */
  sending: 'sending',
  /** A transient failure; retried at next_attempt_at. */
  deferred: 'deferred',
  /** Every recipient accepted by the upstream. */
  delivered: 'delivered',
  /** At least one recipient refused for good (or expired); none left to try. */
  failed: 'failed',
  /**
   * Accepted by Microsoft 365 (delivered), then refused after all: Exchange put a
   * non-delivery report into the route's mailbox (550 5.1.10 RecipientNotFound after Graph's
   * 202). Reached only from delivered, by the bounce reader (src/notify/bounces.ts).
   */
  bounced: 'bounced',
  /** Its route is broken (bad secret, SMTP AUTH disabled…): kept, not tried, until released. */
  held: 'held',
  /** Stopped by an admin before delivery. */
  cancelled: 'cancelled',
} as const;
export type State = (typeof State)[keyof typeof State];

/** Recipients pass through the same places, except `sending`, which belongs to the message. */
export type RecipientState = Exclude<State, 'sending'>;

export const FINAL_STATES: readonly State[] = [State.delivered, State.failed, State.bounced, State.cancelled];
export const PENDING_RECIPIENT_STATES: readonly RecipientState[] = [State.queued, State.deferred];

export const isFinal = (state: State): boolean => FINAL_STATES.includes(state);

/**
 * Moves that are not the result of a delivery attempt: which message states each may
 * start from, and what recipients in which states become.
 */
export const ACTIONS = {
  /** Admin "retry now": try again at once, including recipients that failed or are held. */
  retry: {
    from: [State.queued, State.deferred, State.held, State.failed],
    to: State.queued,
    recipients: { from: [State.queued, State.deferred, State.held, State.failed], to: State.queued },
  },
  /** Admin "cancel": what is not yet delivered is not delivered. */
  cancel: {
    from: [State.queued, State.deferred, State.held],
    to: State.cancelled,
    recipients: { from: [State.queued, State.deferred, State.held], to: State.cancelled },
  },
  /** A held route works again: its held messages go back to the queue. */
  release: {
    from: [State.held],
    to: State.queued,
    recipients: { from: [State.held], to: State.queued },
  },
  /** The message outlived delivery.lifetime: what is still pending fails with the reason. */
  expire: {
    from: [State.queued, State.deferred, State.held],
    to: State.failed,
    recipients: { from: [State.queued, State.deferred, State.held], to: State.failed },
  },
  /** Shutdown: a message whose delivery did not finish goes back without waiting for its lease. */
  requeue: {
    from: [State.sending],
    to: State.queued,
    recipients: { from: [] as RecipientState[], to: State.queued },
  },
  /** Admin "delete": gone from the store, body included. Never while a node is delivering it. */
  delete: {
    from: [State.queued, State.deferred, State.held, State.delivered, State.failed, State.bounced, State.cancelled],
    to: null,
    recipients: { from: [] as RecipientState[], to: null },
  },
} as const satisfies Record<string, { from: readonly State[]; to: State | null; recipients: { from: readonly RecipientState[]; to: RecipientState | null } }>;
export type Action = keyof typeof ACTIONS;

/**
 * A non-delivery report arrived for a recipient Microsoft had accepted: only a delivered
 * recipient bounces, once. Its message changes state only when it was finished (its other
 * recipients done); one still in delivery keeps its state until its attempt ends.
 */
export const BOUNCE = {
  recipients: { from: [State.delivered] as RecipientState[], to: State.bounced },
  messages: { from: [State.delivered, State.failed, State.bounced] as State[] },
} as const;

/** What a delivery attempt concluded for one recipient. */
export type Verdict = 'delivered' | 'transient' | 'permanent' | 'route-broken';

export const recipientStateFor = (verdict: Verdict): RecipientState =>
  ({ delivered: State.delivered, transient: State.deferred, permanent: State.failed, 'route-broken': State.held })[verdict];

/**
 * The message's state after an attempt, from all of its recipients' states: work still to
 * do wins (deferred; queued when due at once), then held, then the final states.
 */
export function stateAfterAttempt(recipients: readonly RecipientState[], dueNow: boolean): State {
  if (recipients.some((s) => s === State.queued || s === State.deferred)) return dueNow ? State.queued : State.deferred;
  if (recipients.some((s) => s === State.held)) return State.held;
  if (recipients.some((s) => s === State.failed)) return State.failed;
  if (recipients.some((s) => s === State.bounced)) return State.bounced;
  if (recipients.some((s) => s === State.delivered)) return State.delivered;
  return State.cancelled;
}
