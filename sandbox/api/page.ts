// The sandbox's HTML page at /sandbox/: mailboxes, recent messages, recent events.
// Server-rendered, no scripts and no external assets; reload to refresh.
import type { SandboxHttpPlugin } from '../http-route.js';
import { escapeHtml } from '../entra/pages.js';
import { INTERNET_OUTBOX } from '../state/mailboxes.js';

const STYLE = `body{font-family:system-ui,sans-serif;margin:24px;color:#222}h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;font-size:13px;width:100%}th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.refused,.error,.fault{color:#a80000}.ok{color:#0a6b0a}code{font-size:12px}.muted{color:#777}`;

const cell = (v: unknown) => `<td>${escapeHtml(v === undefined || v === null ? '' : String(v))}</td>`;

export const sandboxPagePlugin: SandboxHttpPlugin = async (app, ctx) => {
  app.get('/', async (_request, reply) => reply.redirect('/sandbox/', 302));
  app.get('/sandbox', async (_request, reply) => reply.redirect('/sandbox/', 302));

  app.get<{ Querystring: { mailbox?: string } }>('/sandbox/', async (request, reply) => {
    const t = ctx.tenant.current;
    const filter = request.query.mailbox;
    const mailboxRows = [...t.mailboxes.map((m) => ({ address: m.address, type: m.type, name: m.displayName ?? '' })), { address: INTERNET_OUTBOX, type: 'external', name: 'Internet outbox' }]
      .map((m) => `<tr><td><a href="/sandbox/?mailbox=${encodeURIComponent(m.address)}">${escapeHtml(m.address)}</a></td>${cell(m.type)}${cell(m.name)}${cell(ctx.mailboxes.list({ mailbox: m.address }).length)}</tr>`)
      .join('');
    const messages = ctx.mailboxes.list(filter ? { mailbox: filter } : {}).slice(-50).reverse();
    const messageRows = messages
      .map((m) => `<tr>${cell(m.receivedAt)}${cell(`${m.mailbox} / ${m.folder}`)}${cell(m.from)}${cell([...m.to, ...m.cc].join(', '))}<td><a href="/sandbox/api/messages/${m.id}/raw">${escapeHtml(m.subject ?? '(no subject)')}</a></td>${cell(m.size)}${cell(m.via)}</tr>`)
      .join('');
    const events = ctx.events.list({ limit: 50 }).reverse();
    const eventRows = events
      .map((e) => `<tr>${cell(e.at)}${cell(e.endpoint)}${cell(e.action)}<td class="${e.outcome}">${escapeHtml(e.outcome)}</td>${cell(e.status)}${cell(e.code)}${cell(e.appId ?? '')}${cell(e.user ?? e.mailbox ?? '')}${cell(e.message)}</tr>`)
      .join('');
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>relay365 sandbox</title><style>${STYLE}</style></head><body>
<h1>relay365 sandbox: ${escapeHtml(t.displayName)} (${escapeHtml(t.domains[0] ?? '')})</h1>
<p>Tenant id <code>${escapeHtml(t.tenantId)}</code> &middot; authority <code>${escapeHtml(ctx.urls.authority())}</code> &middot; CA <code>${escapeHtml(ctx.pki.caPath)}</code> &middot; <a href="/sandbox/ca.pem">download CA</a> &middot; <a href="/sandbox/api">JSON API</a></p>
${ctx.tenant.lastError ? `<p class="error">The tenant file has an error; the previous tenant stays in force: ${escapeHtml(ctx.tenant.lastError.message)}</p>` : ''}
<h2>Mailboxes</h2><table><tr><th>Address</th><th>Type</th><th>Name</th><th>Messages</th></tr>${mailboxRows}</table>
<h2>Messages${filter ? ` in ${escapeHtml(filter)} <a class="muted" href="/sandbox/">(all)</a>` : ''}</h2>
${messageRows ? `<table><tr><th>Received</th><th>Mailbox / folder</th><th>From</th><th>To</th><th>Subject</th><th>Bytes</th><th>Via</th></tr>${messageRows}</table>` : '<p class="muted">No messages yet.</p>'}
<h2>Recent events</h2>
${eventRows ? `<table><tr><th>Time</th><th>Endpoint</th><th>Action</th><th>Outcome</th><th>Status</th><th>Code</th><th>App</th><th>User / mailbox</th><th>Message</th></tr>${eventRows}</table>` : '<p class="muted">No events yet.</p>'}
</body></html>`;
    return reply.type('text/html; charset=utf-8').send(html);
  });
};
