/** The API's answers, as much of them as the console reads (src/queue/store.ts has the full types). */
/**
 * A message's or recipient's state, as the API names it: drawn as a badge of that name (its
 * colour from the style sheet, plain when it has none), so a state the relay adds later needs
 * no change here. The queue's filter lists what /api/messages says the states are.
 */
export type State = string;

export interface Reply {
  code: number | null;
  enhanced: string | null;
  text: string;
}

export interface MessageSummary {
  id: string;
  receivedAt: number;
  updatedAt: number;
  state: State;
  /** Mail from an app, a DSN relay365 wrote, or its notification to the admins. */
  kind?: 'normal' | 'dsn' | 'notification';
  mailFrom: string;
  recipients: string[];
  size: number;
  app: string | null;
  attemptCount: number;
  nextAttemptAt: number | null;
  lastError: string | null;
  subject?: string | null;
}

export interface MessageView extends MessageSummary {
  listener: string;
  clientAddress: string;
  clientHelo: string | null;
  tls: string | null;
  sha256: string;
  expiresAt: number;
  leaseOwner: string | null;
  headers: { name: string; value: string }[];
  /** Microsoft 365 may still bounce a delivered recipient and relay365 would not hear it: where the reports go; null when it would hear. */
  bounceNote: string | null;
  /** bouncedAt: when Microsoft's non-delivery report was read (state bounced; reply and diagnosis are then the report's). */
  recipientDetails: { idx: number; address: string; state: State; route: string | null; reply: Reply | null; verdict: string | null; diagnosis: string | null; retryAt: number | null; bouncedAt: number | null }[];
  attempts: Attempt[];
  /** For a DSN: the message it reports on. */
  about?: string | null;
  /** The DSNs relay365 wrote about this message. */
  notices?: { id: string; kind: string; state: State; receivedAt: number }[];
}

export interface Attempt {
  attempt: number;
  recipientIdx: number;
  startedAt: number;
  durationMs: number;
  node: string;
  route: string;
  transport: string;
  verdict: string;
  reply: Reply | null;
  diagnosis: string | null;
  fix: string | null;
}

export interface RouteView {
  name: string;
  transport: string;
  state: 'active' | 'paused' | 'held';
  health: 'ok' | 'degraded' | 'held' | 'paused';
  reason: string | null;
  fix: string | null;
  since: number | null;
  probeAt: number | null;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  lastError: string | null;
  warnings: string[];
  budget: { mailbox: string; messagesPerMinute: number; recipientsPerDay: number; messagesThisMinute: number; recipientsToday: number; messagesLeftThisMinute: number; recipientsLeftToday: number; connections: number; connectionsOpen: Record<string, number> } | null;
  expiry: { kind: string; key: string; expiresAt: number; daysLeft: number; level: string; warning: string | null } | null;
  auth: { flow: string; mailbox: string; credential: string; account: string | null; accessTokenExpiresAt: number | null; lastRefreshAt: number | null; problems: string[]; fix: string | null } | null;
  /** `relay365 setup ROUTE`'s guide (src/doctor/setup-guide.ts). */
  setupGuide: { summary: string; sections: { title: string; steps: { text: string; command?: string; url?: string }[] }[] } | null;
}

export interface Overview {
  now: number;
  since: number;
  bucketMs: number;
  counts: Record<State, number>;
  activity: { at: number; received: number; delivered: number; failed: number }[];
  routes: Pick<RouteView, 'name' | 'transport' | 'health' | 'state' | 'reason' | 'fix' | 'lastError'>[];
}
