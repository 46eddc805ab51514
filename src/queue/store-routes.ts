/**
 * The store's part for routes (src/delivery/route-gate.ts): each route's own state (paused,
 * held with its probe) and the mailboxes' sending budgets, shared by every node.
 */

/** A route's own state, apart from its messages: admins pause it; a route-broken answer holds it. */
export type RouteState = 'active' | 'paused' | 'held';

export interface RouteStatus {
  name: string;
  state: RouteState;
  /** Why it is paused or held, and what to do about it. */
  reason: string | null;
  fix: string | null;
  since: number | null;
  /** When a held route next lets one message through to see whether it works again. */
  probeAt: number | null;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  lastError: string | null;
}

/** A mailbox's sending budget (Exchange Online's limits by default). */
export interface SendLimits {
  messages: number;
  minuteMs: number;
  recipients: number;
  dayMs: number;
}

export type Reservation =
  | { ok: true; id: number }
  | { ok: false; until: number; limit: 'messages' | 'recipients'; used: number };

export interface SendUsage {
  messagesThisMinute: number;
  recipientsToday: number;
}

/** A connection slot a live node holds for a mailbox. */
export interface ConnectionInUse {
  node: string;
  slot: number;
  takenAt: number;
}

export interface RouteStore {
  /** The state of every route that ever had one (routes not listed are active). */
  routeStatuses(): Promise<RouteStatus[]>;
  routeStatus(name: string): Promise<RouteStatus>;
  /** Pauses, holds or re-activates a route; a held route gets its first probe at `probeAt`. */
  setRouteState(name: string, state: RouteState, now: number, details?: { reason?: string | null; fix?: string | null; probeAt?: number | null }): Promise<void>;
  /** Notes the outcome of a delivery on a route (last success / last failure). */
  noteRouteResult(name: string, ok: boolean, now: number, error?: string | null): Promise<void>;
  /** For a held route whose probe is due: claims the probe (true) and schedules the next one. */
  claimProbe(name: string, now: number, nextProbeAt: number): Promise<boolean>;

  /**
   * Takes one message of `recipients` recipients from a mailbox's budget, or says when the
   * budget allows it. The budget is shared by every node using the store.
   */
  reserveSend(key: string, recipients: number, now: number, limits: SendLimits): Promise<Reservation>;
  /**
   * Moves a reserved send to when it finished. Microsoft counts a message when it arrives,
   * which is after the reservation; counting it from its end keeps the window conservative.
   */
  settleSend(id: number, at: number): Promise<void>;
  sendUsage(key: string, now: number, limits: SendLimits): Promise<SendUsage>;

  /**
   * Takes one of the `limit` connections a mailbox may have open at once, for `node`: the
   * slot's number (0 … limit-1), or null while every one is taken. Counted for every node
   * sharing the store; a slot held by a node that stopped or went silent (no heartbeat since
   * `aliveSince`) is free.
   */
  takeConnection(key: string, node: string, limit: number, now: number, aliveSince: number): Promise<number | null>;
  /** Gives a slot back once its connection is closed. */
  releaseConnection(key: string, slot: number, node: string): Promise<void>;
  /** Gives back every slot a node holds: at its start (its earlier life's) and at a clean stop. */
  releaseConnections(node: string): Promise<void>;
  /** The slots live nodes hold for a mailbox. */
  connectionsInUse(key: string, aliveSince: number): Promise<ConnectionInUse[]>;
  /** Notes that `node` found every slot of the mailbox taken, so that the holders share (a fair share each). */
  wantConnection(key: string, node: string, now: number): Promise<void>;
  /** How many other nodes found the mailbox's slots taken since `since`. */
  connectionWanted(key: string, node: string, since: number): Promise<number>;
}
