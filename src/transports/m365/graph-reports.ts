/**
 * A graph route's mailbox as the place Microsoft 365 returns its non-delivery reports: the
 * Inbox listed through Graph (Mail.ReadBasic would do) and a report's MIME read with $value,
 * which needs Mail.Read. A refusal is said in the admin's terms, with the permission to grant.
 */
import type { GraphRouteConfig } from '../../config/routes.js';
import type { InboxMessage, MailboxRead, ReportMailbox } from '../transport.js';
import type { GraphFailure } from './classify-graph.js';
import type { GraphApi } from './graph-api.js';

export class GraphReportMailbox implements ReportMailbox {
  readonly mailbox: string;
  readonly every: number;

  constructor(
    private readonly route: string,
    private readonly config: GraphRouteConfig,
    private readonly api: GraphApi,
  ) {
    this.mailbox = config.mailbox;
    this.every = config.bounces.every;
  }

  async arrivedSince(since: string, limit: number, signal: AbortSignal): Promise<MailboxRead<InboxMessage[]>> {
    const found: InboxMessage[] = [];
    let page: { since: string } | { next: string } = { since };
    while (found.length < limit) {
      const r = await this.api.listInbox(page, signal);
      if (!r.ok) return this.refused(r.failure, 'list the Inbox of');
      found.push(...r.value.messages.map((m) => ({ id: m.id, receivedAt: m.receivedDateTime, subject: m.subject, from: m.from })));
      if (!r.value.next) break;
      page = { next: r.value.next };
    }
    return { ok: true, value: found.slice(0, limit) };
  }

  async mime(id: string, signal: AbortSignal): Promise<MailboxRead<string>> {
    const r = await this.api.messageMime(id, signal);
    return r.ok ? r : this.refused(r.failure, 'read the messages of');
  }

  private refused(failure: GraphFailure, doing: string): { ok: false; problem: string; denied: boolean } {
    const app = this.config.credentials.clientId;
    if (failure.kind === 'token') return { ok: false, problem: `no token for Graph: ${failure.error.message}`, denied: false };
    if (failure.kind === 'network') return { ok: false, problem: `Microsoft Graph did not answer: ${failure.reason}`, denied: false };
    const said = `${failure.status}${failure.code ? ` ${failure.code}` : ''}: ${failure.message}`;
    if (failure.status === 403) {
      return {
        ok: false,
        denied: true,
        problem:
          `app ${app} may not ${doing} ${this.mailbox} (${said}): reading Microsoft's non-delivery reports needs the Microsoft Graph application permission Mail.Read ` +
          `(admin consent; fence it to the mailbox with New-ManagementRoleAssignment -Role "Application Mail.Read" -App ${app} -CustomResourceScope <scope>), or routes.${this.route}.bounces.read: off`,
      };
    }
    return { ok: false, problem: `Graph answered ${said}`, denied: false };
  }
}
