// Exchange Online's per-mailbox sending limits, counted on the sandbox clock.
//
// Three counters per mailbox: signed-in connections open now (3), messages in the last minute
// (30), and recipients in the last 24 hours (10,000). Time windows use sandbox time, so a test
// advances the clock instead of waiting a day.
import type { SandboxClock } from '../../clock.js';
import type { SubmissionLimits } from '../settings.js';

const DAY_MS = 24 * 60 * 60_000;

export class SendingLimits {
  private readonly sessions = new Map<string, Set<string>>();
  /** Per mailbox: when each recent message is (or will be) released for delivery. */
  private readonly releases = new Map<string, number[]>();
  private readonly recipients = new Map<string, Array<{ at: number; count: number }>>();

  constructor(
    readonly limits: SubmissionLimits,
    private readonly clock: SandboxClock,
  ) {}

  /** Counts a signed-in session against its mailbox: the mailbox's signed-in sessions now, or null when it already had its maximum. */
  openSession(mailbox: string, sessionId: string): number | null {
    const open = this.sessions.get(mailbox) ?? new Set<string>();
    if (!open.has(sessionId) && open.size >= this.limits.concurrentConnectionsPerMailbox) return null;
    open.add(sessionId);
    this.sessions.set(mailbox, open);
    return open.size;
  }

  closeSession(mailbox: string, sessionId: string): void {
    const open = this.sessions.get(mailbox);
    open?.delete(sessionId);
    if (open?.size === 0) this.sessions.delete(mailbox);
  }

  /** Messages released in the last minute, for the 'reject' behaviour's check at MAIL FROM. */
  messagesInLastMinute(mailbox: string): number {
    const now = this.clock.now();
    return this.recent(mailbox, now).filter((t) => t <= now).length;
  }

  /**
   * Takes a slot for one message and says when it may be delivered: now, or (over 30 a minute)
   * one minute after the 30th most recent release, so no 60-second window holds more than 30.
   */
  takeMessageSlot(mailbox: string): number {
    const now = this.clock.now();
    const recent = this.recent(mailbox, now);
    const limit = this.limits.messagesPerMinute;
    const at = recent.length < limit ? now : Math.max(now, recent[recent.length - limit]! + this.limits.minuteMs);
    recent.push(at);
    recent.sort((a, b) => a - b);
    this.releases.set(mailbox, recent);
    return at;
  }

  /** Whether `count` more recipients fit in the mailbox's rolling 24 hours. */
  recipientsFit(mailbox: string, count: number): boolean {
    return this.recipientsInLastDay(mailbox) + count <= this.limits.recipientsPerDay;
  }

  countRecipients(mailbox: string, count: number): void {
    const list = this.recipients.get(mailbox) ?? [];
    list.push({ at: this.clock.now(), count });
    this.recipients.set(mailbox, list);
  }

  recipientsInLastDay(mailbox: string): number {
    const since = this.clock.now() - DAY_MS;
    const list = (this.recipients.get(mailbox) ?? []).filter((r) => r.at > since);
    this.recipients.set(mailbox, list);
    return list.reduce((sum, r) => sum + r.count, 0);
  }

  private recent(mailbox: string, now: number): number[] {
    return (this.releases.get(mailbox) ?? []).filter((t) => t > now - this.limits.minuteMs);
  }
}
