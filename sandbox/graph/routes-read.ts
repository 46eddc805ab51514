// Reading a mailbox's messages, as a program watching for non-delivery reports does:
//
//   GET /v1.0/users/{id}/mailFolders/{folder}/messages   ?$filter ?$orderby ?$select ?$top ?$skip → 200 {value, @odata.nextLink}
//   GET /v1.0/users/{id}/messages                         the same over every folder
//   GET /v1.0/users/{id}/messages/{id}/$value             the message's MIME (text/plain … as Graph serves it)
//
// Listing needs Mail.ReadBasic (or Mail.Read, Mail.ReadWrite); the MIME needs Mail.Read, as the
// body is not part of ReadBasic. Graph's rules kept here: 10 messages a page by default, $top up
// to 1000; newest first unless $orderby says otherwise; $filter on receivedDateTime (ge, gt, le,
// lt, eq, joined by `and`) and $orderby on receivedDateTime; anything else is not supported by the
// sandbox (400). Graph wants the $orderby property first in $filter (else 400 InefficientFilter):
// with receivedDateTime in both, as a reader of new mail asks, that always holds.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { describe } from '../http-route.js';
import { MailFolder, type MailEntry } from '../state/mailboxes.js';
import type { GraphContext } from './context.js';
import { fail, done, Graph, sendGraphError, type GraphOutcome } from './errors.js';
import { guard, stateOf } from './guard.js';
import { graphBaseOf } from './routes-drafts.js';
import { graphRoute, USER_BASES } from './route-config.js';

type ListParams = { user?: string; folder?: string };
type ListQuery = Record<string, string | undefined>;

/** Well-known folder names (case-insensitive), as Graph takes them in the URL. */
const FOLDERS: Record<string, MailFolder> = { inbox: MailFolder.inbox, sentitems: MailFolder.sentItems, drafts: MailFolder.drafts, outbox: MailFolder.outbox };

export function readRoutes(app: FastifyInstance, g: GraphContext): void {
  for (const base of USER_BASES) {
    app.get<{ Params: ListParams; Querystring: ListQuery }>(`${base}/mailFolders/:folder/messages`, { ...graphRoute(g), onRequest: guard(g, 'Mail.ReadBasic', 'listMessages') }, (request, reply) =>
      listMessages(g, request, reply),
    );
    app.get<{ Params: ListParams; Querystring: ListQuery }>(`${base}/messages`, { ...graphRoute(g), onRequest: guard(g, 'Mail.ReadBasic', 'listMessages') }, (request, reply) => listMessages(g, request, reply));
    app.get<{ Params: { user?: string; messageId: string } }>(`${base}/messages/:messageId/$value`, { ...graphRoute(g), onRequest: guard(g, 'Mail.Read', 'getMessageMime') }, (request, reply) =>
      messageMime(g, request, reply),
    );
  }
}

async function listMessages(g: GraphContext, request: FastifyRequest<{ Params: ListParams; Querystring: ListQuery }>, reply: FastifyReply): Promise<FastifyReply> {
  const state = stateOf(request);
  const now = g.sandbox.clock.date();
  const folderName = request.params.folder;
  const folder = folderName === undefined ? undefined : FOLDERS[folderName.toLowerCase()];
  if (folderName !== undefined && !folder) return sendGraphError(request, reply, Graph.itemNotFound(), now);
  const q = request.query;
  const query = readQuery(q);
  if (!query.ok) return sendGraphError(request, reply, query.error, now);
  const { filters, order, select, top, skip } = query.value;
  const all = g.sandbox.mailboxes.list({ mailbox: state.mailbox.address, ...(folder ? { folder } : {}) }).filter((e) => filters.every((f) => f(e)));
  all.sort((a, b) => (order === 'asc' ? 1 : -1) * (Date.parse(a.receivedAt) - Date.parse(b.receivedAt)));
  const page = all.slice(skip, skip + top);
  const base = graphBaseOf(request);
  const path = request.url.split('?')[0]!;
  const body: Record<string, unknown> = {
    '@odata.context': `${base}/v1.0/$metadata#users('${encodeURIComponent(request.params.user ?? state.mailbox.id)}')/${folder ? `mailFolders('${folderName}')/` : ''}messages`,
    value: page.map((e) => pick(messageProperties(e), select)),
  };
  if (skip + top < all.length) {
    const next = new URLSearchParams(Object.entries(q).filter((kv): kv is [string, string] => kv[1] !== undefined && kv[0] !== '$skip'));
    next.set('$skip', String(skip + top));
    body['@odata.nextLink'] = `https://${request.host}${path}?${next.toString()}`;
  }
  describe(request, { detail: { folder: folder ?? 'all', returned: page.length, matched: all.length } });
  return reply.code(200).type('application/json; charset=utf-8').send(body);
}

async function messageMime(g: GraphContext, request: FastifyRequest<{ Params: { messageId: string } }>, reply: FastifyReply): Promise<FastifyReply> {
  const state = stateOf(request);
  const entry = g.sandbox.mailboxes.get(request.params.messageId);
  if (!entry || entry.mailbox !== state.mailbox.address) return sendGraphError(request, reply, Graph.itemNotFound(), g.sandbox.clock.date());
  const stream = g.sandbox.mailboxes.rawStream(entry.id)!;
  describe(request, { detail: { messageId: entry.id, size: entry.size } });
  return reply.code(200).type('text/plain').send(stream);
}

/** Graph's receivedDateTime: seconds, UTC, `Z`. */
const graphTime = (iso: string) => `${iso.slice(0, 19)}Z`;

function messageProperties(e: MailEntry): Record<string, unknown> {
  const address = (a: string) => ({ emailAddress: { name: a, address: a } });
  return {
    '@odata.etag': `W/"${Buffer.from(e.receivedAt).toString('base64')}"`,
    id: e.id,
    createdDateTime: graphTime(e.receivedAt),
    lastModifiedDateTime: graphTime(e.receivedAt),
    receivedDateTime: graphTime(e.receivedAt),
    sentDateTime: graphTime(e.date ?? e.receivedAt),
    hasAttachments: false,
    internetMessageId: e.messageId ?? null,
    subject: e.subject ?? '',
    parentFolderId: e.folder,
    isRead: false,
    isDraft: e.folder === MailFolder.drafts,
    from: e.from ? address(e.from) : null,
    sender: e.from ? address(e.from) : null,
    toRecipients: e.to.map(address),
    ccRecipients: e.cc.map(address),
  };
}

function pick(resource: Record<string, unknown>, select: string[] | null): Record<string, unknown> {
  if (!select) return resource;
  // Graph always returns the etag and the id, whatever $select says.
  return Object.fromEntries(Object.entries(resource).filter(([k]) => k === '@odata.etag' || k === 'id' || select.includes(k)));
}

interface ReadQuery {
  filters: Array<(e: MailEntry) => boolean>;
  order: 'asc' | 'desc';
  select: string[] | null;
  top: number;
  skip: number;
}

const COMPARE: Record<string, (a: number, b: number) => boolean> = { ge: (a, b) => a >= b, gt: (a, b) => a > b, le: (a, b) => a <= b, lt: (a, b) => a < b, eq: (a, b) => a === b };

function readQuery(q: ListQuery): GraphOutcome<ReadQuery> {
  const filters: ReadQuery['filters'] = [];
  if (q.$filter !== undefined) {
    for (const clause of q.$filter.split(/\s+and\s+/i)) {
      const m = /^\s*(\w+)\s+(ge|gt|le|lt|eq)\s+'?([0-9T:.\-+Z]+)'?\s*$/i.exec(clause);
      if (!m || m[1]!.toLowerCase() !== 'receiveddatetime') return fail(Graph.badQuery('Invalid filter clause'));
      const at = Math.floor(Date.parse(m[3]!) / 1000);
      if (Number.isNaN(at)) return fail(Graph.badQuery(`The DateTimeOffset text '${m[3]}' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range.`));
      const compare = COMPARE[m[2]!.toLowerCase()]!;
      filters.push((e) => compare(Math.floor(Date.parse(e.receivedAt) / 1000), at));
    }
  }
  let order: ReadQuery['order'] = 'desc';
  if (q.$orderby !== undefined) {
    const m = /^\s*(\w+)(?:\s+(asc|desc))?\s*$/i.exec(q.$orderby);
    if (!m || m[1]!.toLowerCase() !== 'receiveddatetime') return fail(Graph.badQuery(`Could not find a property named '${q.$orderby.trim().split(/\s+/)[0]}' on type 'microsoft.graph.message'.`));
    order = (m[2]?.toLowerCase() as 'asc' | 'desc' | undefined) ?? 'asc';
  }
  const top = q.$top === undefined ? 10 : Number(q.$top);
  if (!Number.isInteger(top) || top < 1 || top > 1000) return fail(Graph.badQuery(`Invalid value '${q.$top}' for $top query option found. The $top query option requires a non-negative integer value.`));
  const skip = q.$skip === undefined ? 0 : Number(q.$skip);
  if (!Number.isInteger(skip) || skip < 0) return fail(Graph.badQuery(`Invalid value '${q.$skip}' for $skip query option found.`));
  const select = q.$select === undefined ? null : q.$select.split(',').map((s) => s.trim()).filter(Boolean);
  return done({ filters, order, select, top, skip });
}
