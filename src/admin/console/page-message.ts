/**
 * One message: the path it took (app → listener → route → Microsoft 365) with each step's time
 * and outcome, what happened said once (Microsoft's words, the diagnosis, the fix with each
 * command to copy), the DSN it caused, envelope, recipients, the attempts, headers and the
 * actions. It follows the message live.
 */
import { api, ApiError, mayAct } from './api.js';
import { fixParts } from './commands.js';
import { badge, h, size, when } from './dom.js';
import { follow } from './live.js';
import type { Attempt, MessageView, Reply } from './types.js';

const reply = (r: Reply | null) => (r ? [r.code, r.enhanced, r.text].filter((x) => x !== null && x !== '').join(' ') : '');
const FINAL = ['delivered', 'failed', 'bounced', 'cancelled'];
const MICROSOFT = ['graph', 'smtp-oauth', 'smtp-basic', 'direct-send', 'connector'];

/** Where a transport hands the message to Microsoft 365 (or, for the others, to whom). */
const ENDPOINTS: Record<string, string> = {
  graph: 'Microsoft Graph sendMail',
  'smtp-oauth': 'Exchange Online SMTP (OAuth)',
  'smtp-basic': 'Exchange Online SMTP (password)',
  'direct-send': 'Exchange Online MX (direct send)',
  connector: 'Exchange Online inbound connector',
  smarthost: 'Smarthost',
  capture: 'Capture (kept, not sent)',
};

/** The sending host: its HELO name and address, or just the address when the HELO was that address. */
const client = (m: MessageView) => (m.clientHelo && m.clientHelo !== `[${m.clientAddress}]` ? `${m.clientHelo} [${m.clientAddress}]` : m.clientAddress);

/** A verdict or state as the colour of a path step. */
function tone(outcome: string): string {
  if (outcome === 'delivered') return 'ok';
  if (['permanent', 'route-broken', 'failed', 'bounced'].includes(outcome)) return 'bad';
  if (['transient', 'deferred'].includes(outcome)) return 'warn';
  return 'wait';
}

function step(title: string, name: string, time: Node | null, outcome: Node | string, toneOf: string, detail?: string | null): HTMLElement {
  return h(
    'li',
    {},
    h(
      'div',
      { class: `step step-${toneOf}` },
      h('div', { class: 'step-title' }, title),
      h('div', { class: 'step-name' }, name),
      detail ? h('div', { class: 'step-detail' }, detail) : null,
      h('div', { class: 'step-detail' }, time ?? '', time ? ' · ' : '', outcome),
    ),
  );
}

/** The path drawn once per route the recipients took (or are waiting for). */
function paths(m: MessageView): HTMLElement[] {
  const byRoute = new Map<string, { recipients: string[]; attempts: Attempt[]; states: string[] }>();
  for (const r of m.recipientDetails) {
    const tried = m.attempts.filter((a) => a.recipientIdx === r.idx);
    const route = tried.at(-1)?.route ?? r.route ?? '';
    const group = byRoute.get(route) ?? { recipients: [], attempts: [], states: [] };
    group.recipients.push(r.address);
    group.attempts.push(...tried);
    group.states.push(r.state);
    byRoute.set(route, group);
  }
  const own = m.kind && m.kind !== 'normal';
  return [...byRoute].map(([route, g]) => {
    const last = g.attempts.reduce<Attempt | null>((a, b) => (!a || b.startedAt >= a.startedAt ? b : a), null);
    const waiting = !FINAL.includes(m.state) && m.nextAttemptAt ? h('span', {}, 'next try ', when(m.nextAttemptAt)) : null;
    const state = g.states.every((s) => s === g.states[0]) ? g.states[0]! : m.state;
    return h(
      'div',
      { class: 'path-group' },
      byRoute.size > 1 ? h('p', { class: 'muted' }, `To ${g.recipients.join(', ')}`) : null,
      h(
        'ol',
        { class: 'path', 'aria-label': `Path to ${g.recipients.join(', ')}` },
        step('App', own ? 'relay365' : (m.app ?? 'unknown app'), when(m.receivedAt), own ? `wrote this ${m.kind === 'dsn' ? 'DSN' : 'notice'}` : 'sent it', 'ok', own ? null : client(m)),
        step('Listener', m.listener, when(m.receivedAt), `accepted, ${size(m.size)}`, 'ok', m.tls ? `over ${m.tls}` : own ? null : 'no TLS'),
        step('Route', route || 'not chosen yet', last ? when(last.startedAt) : null, last ? `${g.attempts.length} attempt${g.attempts.length === 1 ? '' : 's'}` : (waiting ?? badge(state)), last ? tone(state) : 'wait', last ? `${last.transport} on ${last.node}` : null),
        step(
          MICROSOFT.includes(last?.transport ?? 'graph') ? 'Microsoft 365' : 'Upstream',
          last ? (ENDPOINTS[last.transport] ?? last.transport) : 'not reached yet',
          last ? when(last.startedAt + last.durationMs) : null,
          last ? h('span', {}, badge(last.verdict), last.reply?.code ? ` ${[last.reply.code, last.reply.enhanced].filter(Boolean).join(' ')}` : '', ` in ${last.durationMs} ms`, state === 'bounced' ? h('span', {}, ', then ', badge('bounced')) : '') : (waiting ?? '–'),
          last ? tone(state === 'bounced' ? state : last.verdict) : 'wait',
        ),
      ),
    );
  });
}

/** A fix: its words, and each command alone in a block with a button that copies it. */
function fixBlock(fix: string): HTMLElement {
  return h(
    'div',
    { class: 'fix' },
    h('span', { class: 'label' }, 'Fix: '),
    ...fixParts(fix).map((part) => {
      if ('text' in part) return h('span', { class: 'fix-text' }, part.text);
      const code = h('code', {}, part.command);
      const copy = h('button', { type: 'button', 'aria-label': `Copy: ${part.command}`, onclick: async () => {
        try {
          await navigator.clipboard.writeText(part.command);
        } catch {
          // No clipboard API (plain HTTP on a network address): select it for Ctrl+C, and try the old way.
          getSelection()?.selectAllChildren(code);
          document.execCommand('copy');
        }
        copy.textContent = 'Copied';
        setTimeout(() => (copy.textContent = 'Copy'), 2000);
      } }, 'Copy');
      return h('div', { class: 'command' }, h('pre', {}, code), copy);
    }),
  );
}

/**
 * A diagnosis often quotes the reply it explains ("… (403 ErrorSendAsDenied: The user account …): …");
 * the reply is shown just above it, so the quote is left out rather than said twice.
 */
function withoutReply(diagnosis: string, r: Reply | null): string {
  if (!r?.text || !diagnosis.includes(r.text)) return diagnosis;
  const at = diagnosis.indexOf(r.text);
  const open = diagnosis.lastIndexOf('(', at);
  const close = diagnosis.indexOf(')', at + r.text.length);
  if (open >= 0 && close >= 0 && !diagnosis.slice(open + 1, at).includes(')')) return diagnosis.slice(0, open).trimEnd() + diagnosis.slice(close + 1);
  return diagnosis.replace(r.text, '(the words above)');
}

interface Outcome {
  verdict: string;
  to: string[];
  reply: Reply | null;
  diagnosis: string | null;
  fix: string | null;
}

/** Each recipient's latest word, the same words said once for all the recipients they apply to. */
function outcomes(m: MessageView): Outcome[] {
  const found = new Map<string, Outcome>();
  for (const r of m.recipientDetails) {
    const last = m.attempts.filter((a) => a.recipientIdx === r.idx).at(-1);
    // A bounce comes after the attempt that delivered: Microsoft's non-delivery report has the last word.
    const o = r.state === 'bounced' ? { verdict: 'bounced', reply: r.reply, diagnosis: r.diagnosis, fix: null } : last ? { verdict: last.verdict, reply: last.reply, diagnosis: last.diagnosis, fix: last.fix } : { verdict: r.verdict ?? r.state, reply: r.reply, diagnosis: r.diagnosis, fix: null };
    if (!o.reply && !o.diagnosis && !o.fix) continue;
    const key = JSON.stringify([o.verdict, reply(o.reply), o.diagnosis, o.fix]);
    const seen = found.get(key);
    if (seen) seen.to.push(r.address);
    else found.set(key, { ...o, to: [r.address] });
  }
  return [...found.values()];
}

export async function messagePage(main: HTMLElement, id: string, go: (url: string) => void): Promise<void> {
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const how = h('p', { class: 'live muted', title: 'This page follows the message as it moves.' });
  const load = () => api<MessageView>('GET', `/api/messages/${encodeURIComponent(id)}`);
  const draw = (m: MessageView) => {
    const act = (label: string, method: string, path: string, after: () => void) =>
      h('button', { type: 'button', onclick: async () => {
        try {
          await api(method, path);
          status.textContent = `${label}: done`;
          after();
        } catch (err) {
          status.textContent = err instanceof ApiError ? err.message : String(err);
        }
      } }, label);
    const reload = () => setTimeout(() => go(`/messages/${m.id}`), 400);
    const admin = mayAct(); // a read-only user may look, not act, and not read the body
    const dl = (pairs: [string, Node | string][]) => h('dl', { class: 'pairs' }, ...pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    const said = outcomes(m);
    const shownReplies = new Set(said.map((o) => reply(o.reply)));
    const subject = m.headers.find((f) => f.name.toLowerCase() === 'subject')?.value ?? m.subject ?? null;
    const dsns = (m.notices ?? []).filter((n) => n.kind === 'dsn');
    const upstream = (transport: string | undefined) => (MICROSOFT.includes(transport ?? '') ? 'Microsoft 365 said: ' : 'Upstream said: ');

    main.replaceChildren(
      ...([
      h('h1', {}, 'Message ', h('span', { class: 'mono' }, m.id), ' ', badge(m.state)),
      subject ? h('p', { class: 'subject-line' }, h('span', { class: 'label' }, 'Subject: '), subject) : null,
      how,
      h(
        'div',
        { class: 'actions' },
        admin && ['deferred', 'held', 'failed', 'queued'].includes(m.state) ? act('Retry now', 'POST', `/api/messages/${m.id}/retry`, reload) : null,
        admin && ['deferred', 'held', 'queued'].includes(m.state) ? act('Cancel', 'POST', `/api/messages/${m.id}/cancel`, reload) : null,
        admin && m.state !== 'sending' ? act('Delete', 'DELETE', `/api/messages/${m.id}`, () => setTimeout(() => go('/queue'), 400)) : null,
        admin ? h('a', { class: 'button', href: `/api/messages/${m.id}/eml`, download: `${m.id}.eml` }, 'Download .eml') : null,
        status,
      ),
      h('section', {}, h('h2', {}, 'Path'), ...paths(m), m.bounceNote ? h('p', { class: 'bounce-note muted' }, m.bounceNote) : null),
      said.length
        ? h(
            'section',
            { class: 'what-happened' },
            h('h2', {}, 'What happened'),
            ...said.map((o) => {
              const transport = m.attempts.findLast((a) => reply(a.reply) === reply(o.reply))?.transport;
              return h(
                'div',
                { class: `outcome verdict-${o.verdict}` },
                h('p', {}, badge(o.verdict), ` for ${o.to.join(', ')}`),
                o.reply ? h('div', { class: 'upstream' }, h('span', { class: 'label' }, o.verdict === 'bounced' ? "Microsoft 365's non-delivery report: " : upstream(transport)), reply(o.reply)) : null,
                o.diagnosis ? h('p', { class: 'diagnosis' }, h('span', { class: 'label' }, 'Diagnosis: '), withoutReply(o.diagnosis, o.reply)) : null,
                o.fix ? fixBlock(o.fix) : null,
              );
            }),
          )
        : null,
      h(
        'section',
        {},
        h('h2', {}, 'Envelope'),
        dl([
          ['From', m.mailFrom || '<> (null sender)'],
          ['To', m.recipients.join(', ')],
          ['App', m.app ?? '–'],
          ['Received', h('span', {}, when(m.receivedAt), ` on ${m.listener} from ${m.clientHelo ?? '?'} [${m.clientAddress}]${m.tls ? ` over ${m.tls}` : ''}`)],
          ['Size', h('span', { class: 'nowrap' }, size(m.size))],
          ['Expires', when(m.expiresAt)],
          ...(m.nextAttemptAt && !FINAL.includes(m.state) ? [['Next try', when(m.nextAttemptAt)] as [string, Node]] : []),
          // Said above when an attempt gave it; shown here only when nothing else says it (an expiry, a cancel).
          ...(m.lastError && !said.some((o) => [reply(o.reply), o.diagnosis ?? ''].some((words) => words !== '' && m.lastError!.includes(words))) ? [['Last error', m.lastError] as [string, string]] : []),
          ...dsns.map((n): [string, Node] => ['DSN sent', h('span', { class: 'dsn-link' }, h('a', { href: `/messages/${n.id}`, class: 'mono' }, n.id), ' ', badge(n.state), ' ', when(n.receivedAt))]),
          ...(m.about ? [['Reports on', h('a', { href: `/messages/${m.about}`, class: 'mono' }, m.about)] as [string, Node]] : []),
        ]),
      ),
      h(
        'section',
        {},
        h('h2', {}, 'Recipients'),
        h('ul', { class: 'recipients' }, ...m.recipientDetails.map((r) => h('li', {}, h('strong', {}, r.address), ' ', badge(r.state), r.route ? ` via ${r.route}` : ''))),
      ),
      h(
        'section',
        {},
        h('h2', {}, 'Attempts'),
        m.attempts.length
          ? h(
              'ol',
              { class: 'timeline' },
              ...m.attempts.map((a) => {
                const to = m.recipientDetails.find((r) => r.idx === a.recipientIdx)?.address ?? `#${a.recipientIdx}`;
                const words = reply(a.reply);
                return h(
                  'li',
                  { class: `verdict-${a.verdict}` },
                  h('div', {}, h('strong', {}, `#${a.attempt}`), ' ', when(a.startedAt), ` · ${a.durationMs} ms · ${a.route} (${a.transport}) on ${a.node} · ${to} `, badge(a.verdict)),
                  // The words of the latest outcome are said once, above; an earlier, different answer is told here.
                  words && !shownReplies.has(words) ? h('div', { class: 'upstream' }, h('span', { class: 'label' }, upstream(a.transport)), words) : a.reply?.code ? h('div', { class: 'muted' }, `${a.reply.code} ${a.reply.enhanced ?? ''} (as above)`) : null,
                  words && !shownReplies.has(words) && a.diagnosis ? h('p', { class: 'diagnosis' }, h('span', { class: 'label' }, 'Diagnosis: '), withoutReply(a.diagnosis, a.reply)) : null,
                );
              }),
            )
          : h('p', {}, 'No attempt yet.'),
      ),
      h(
        'section',
        {},
        h('h2', {}, 'Headers'),
        h('table', { class: 'headers' }, h('tbody', {}, ...m.headers.map((f) => h('tr', {}, h('th', { scope: 'row' }, f.name), h('td', {}, f.value))))),
      ),
      ].filter((x): x is HTMLElement => x !== null)),
    );
  };
  draw(await load());
  follow(async () => draw(await load()), (text) => (how.textContent = text), id);
}
