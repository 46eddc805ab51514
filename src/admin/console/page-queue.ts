/** The queue (SOST's view): filters and search, state badges, relative times, bulk retry/cancel, keyset paging. */
import { api, ApiError, mayAct } from './api.js';
import { badge, h, size, when } from './dom.js';
import { STATES, type MessageSummary } from './types.js';

const FILTERS = ['state', 'app', 'sender', 'recipient', 'route', 'kind', 'since', 'until'] as const;

export async function queuePage(main: HTMLElement, go: (url: string) => void): Promise<void> {
  const params = new URLSearchParams(location.search);
  const query = new URLSearchParams();
  for (const f of [...FILTERS, 'cursor']) {
    const v = params.get(f);
    if (v) query.set(f, v);
  }
  query.set('limit', '50');
  const page = await api<{ messages: MessageSummary[]; nextCursor: string | null }>('GET', `/api/messages?${query}`);

  const form = h(
    'form',
    { class: 'filters', role: 'search', onsubmit: (e: Event) => {
      e.preventDefault();
      const data = new FormData(e.target as HTMLFormElement);
      const next = new URLSearchParams();
      for (const [k, v] of data) if (typeof v === 'string' && v.trim()) next.set(k, v.trim());
      go(`/queue?${next}`);
    } },
    h('label', {}, 'State ', h('select', { name: 'state' }, h('option', { value: '' }, 'any'), ...STATES.map((s) => h('option', { value: s, selected: params.get('state') === s }, s)))),
    ...(['sender', 'recipient', 'app', 'route'] as const).map((f) => h('label', {}, `${f[0]!.toUpperCase()}${f.slice(1)} `, h('input', { name: f, value: params.get(f) ?? '', type: 'search', size: 18 }))),
    h('button', { type: 'submit' }, 'Search'),
  );

  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const boxes: HTMLInputElement[] = [];
  const bulk = (action: 'retry' | 'cancel') => async () => {
    const ids = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!ids.length) return void (status.textContent = 'Select messages first.');
    try {
      const { results } = await api<{ results: { id: string; ok: boolean; error?: string }[] }>('POST', '/api/messages/actions', { action, ids });
      const failed = results.filter((r) => !r.ok);
      status.textContent = `${action}: ${results.length - failed.length} done${failed.length ? `, ${failed.length} not (${failed.map((f) => `${f.id}: ${f.error}`).join('; ')})` : ''}`;
      setTimeout(() => go(location.pathname + location.search), 600);
    } catch (err) {
      status.textContent = err instanceof ApiError ? err.message : String(err);
    }
  };
  const all = h('input', { type: 'checkbox', 'aria-label': 'Select all', onchange: (e: Event) => boxes.forEach((b) => (b.checked = (e.target as HTMLInputElement).checked)) });

  const admin = mayAct(); // selecting is for acting, which a read-only user may not
  const rows = page.messages.map((m) => {
    const box = h('input', { type: 'checkbox', value: m.id, 'aria-label': `Select ${m.id}` });
    boxes.push(box);
    return h(
      'tr',
      {},
      admin ? h('td', {}, box) : null,
      h('td', {}, h('a', { href: `/messages/${m.id}`, class: 'mono' }, m.id)),
      h('td', {}, badge(m.state), m.kind && m.kind !== 'normal' ? [' ', badge(m.kind === 'dsn' ? 'DSN' : 'notice', 'kind')] : null),
      h('td', {}, when(m.receivedAt)),
      h('td', { class: 'clip' }, m.mailFrom || '<>'),
      h('td', { class: 'clip' }, m.recipients.length > 1 ? `${m.recipients[0]} +${m.recipients.length - 1}` : (m.recipients[0] ?? '')),
      h('td', { class: 'hide-narrow' }, m.app ?? ''),
      h('td', { class: 'hide-narrow' }, size(m.size)),
      h('td', { class: 'clip hide-narrow' }, m.lastError ?? ''),
    );
  });

  const next = new URLSearchParams(params);
  if (page.nextCursor) next.set('cursor', page.nextCursor);
  main.replaceChildren(
    h('h1', {}, 'Queue'),
    form,
    ...(admin ? [h('div', { class: 'actions' }, h('button', { type: 'button', onclick: bulk('retry') }, 'Retry selected'), h('button', { type: 'button', onclick: bulk('cancel') }, 'Cancel selected'), status)] : []),
    page.messages.length
      ? h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'queue' },
            h('thead', {}, h('tr', {}, admin ? h('th', {}, all) : null, ...['ID', 'State', 'Received', 'From', 'To'].map((t) => h('th', {}, t)), ...['App', 'Size', 'Last error'].map((t) => h('th', { class: 'hide-narrow' }, t)))),
            h('tbody', {}, ...rows),
          ),
        )
      : h('p', {}, 'No messages match.'),
    h('nav', { class: 'pager', 'aria-label': 'Pages' }, params.get('cursor') ? h('a', { href: `/queue?${new URLSearchParams([...params].filter(([k]) => k !== 'cursor'))}` }, '« Newest') : null, page.nextCursor ? h('a', { href: `/queue?${next}` }, 'Older »') : null),
  );
}
