/** One message: envelope, headers, recipients, the attempt timeline with the upstream's words, diagnosis and fix, and the actions. */
import { api, ApiError, mayAct } from './api.js';
import { badge, h, size, when } from './dom.js';
import type { MessageView, Reply } from './types.js';

const reply = (r: Reply | null) => (r ? [r.code, r.enhanced, r.text].filter((x) => x !== null && x !== '').join(' ') : '');

export async function messagePage(main: HTMLElement, id: string, go: (url: string) => void): Promise<void> {
  const m = await api<MessageView>('GET', `/api/messages/${encodeURIComponent(id)}`);
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
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
  main.replaceChildren(
    h('h1', {}, 'Message ', h('span', { class: 'mono' }, m.id), ' ', badge(m.state)),
    h(
      'div',
      { class: 'actions' },
      admin && ['deferred', 'held', 'failed', 'queued'].includes(m.state) ? act('Retry now', 'POST', `/api/messages/${m.id}/retry`, reload) : null,
      admin && ['deferred', 'held', 'queued'].includes(m.state) ? act('Cancel', 'POST', `/api/messages/${m.id}/cancel`, reload) : null,
      admin && m.state !== 'sending' ? act('Delete', 'DELETE', `/api/messages/${m.id}`, () => setTimeout(() => go('/queue'), 400)) : null,
      admin ? h('a', { class: 'button', href: `/api/messages/${m.id}/eml`, download: `${m.id}.eml` }, 'Download .eml') : null,
      status,
    ),
    h(
      'section',
      {},
      h('h2', {}, 'Envelope'),
      dl([
        ['From', m.mailFrom || '<> (null sender)'],
        ['To', m.recipients.join(', ')],
        ['App', m.app ?? '–'],
        ['Received', h('span', {}, when(m.receivedAt), ` on ${m.listener} from ${m.clientHelo ?? '?'} [${m.clientAddress}]${m.tls ? ` over ${m.tls}` : ''}`)],
        ['Size', `${size(m.size)}`],
        ['Expires', when(m.expiresAt)],
        ...(m.nextAttemptAt && !['delivered', 'failed', 'cancelled'].includes(m.state) ? [['Next try', when(m.nextAttemptAt)] as [string, Node]] : []),
        ...(m.lastError ? [['Last error', m.lastError] as [string, string]] : []),
      ]),
    ),
    h(
      'section',
      {},
      h('h2', {}, 'Recipients'),
      h(
        'ul',
        { class: 'recipients' },
        ...m.recipientDetails.map((r) =>
          h('li', {}, h('strong', {}, r.address), ' ', badge(r.state), r.route ? ` via ${r.route}` : '', r.reply ? h('div', { class: 'upstream' }, reply(r.reply)) : null, r.diagnosis && r.state !== 'delivered' ? h('p', { class: 'diagnosis' }, r.diagnosis) : null),
        ),
      ),
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
              return h(
                'li',
                { class: `verdict-${a.verdict}` },
                h('div', {}, h('strong', {}, `#${a.attempt}`), ' ', when(a.startedAt), ` · ${a.durationMs} ms · ${a.route} (${a.transport}) on ${a.node} · ${to} `, badge(a.verdict)),
                a.reply ? h('div', { class: 'upstream' }, h('span', { class: 'label' }, 'Upstream said: '), reply(a.reply)) : null,
                a.diagnosis ? h('p', { class: 'diagnosis' }, h('span', { class: 'label' }, 'Diagnosis: '), a.diagnosis) : null,
                a.fix ? h('p', { class: 'fix' }, h('span', { class: 'label' }, 'Fix: '), a.fix) : null,
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
  );
}
