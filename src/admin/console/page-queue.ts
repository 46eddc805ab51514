/** The queue (SOST's view): filters and search, state badges, relative times, bulk retry/cancel, keyset paging; it follows the queue live. */
import { api, ApiError, mayAct } from './api.js';
import { badge, h, size, when } from './dom.js';
import { follow } from './live.js';
import type { MessageSummary } from './types.js';

const FILTERS = ['state', 'app', 'sender', 'recipient', 'route', 'kind', 'since', 'until'] as const;

interface Page {
  messages: MessageSummary[];
  nextCursor: string | null;
  states: string[];
}

export async function queuePage(main: HTMLElement, go: (url: string) => void): Promise<void> {
  const params = new URLSearchParams(location.search);
  const query = new URLSearchParams();
  for (const f of [...FILTERS, 'cursor']) {
    const v = params.get(f);
    if (v) query.set(f, v);
  }
  query.set('limit', '50');
  const load = () => api<Page>('GET', `/api/messages?${query}`);
  const first = await load();

  const form = h(
    'form',
    { class: 'filters', role: 'search', onsubmit: (e: Event) => {
      e.preventDefault();
      const data = new FormData(e.target as HTMLFormElement);
      const next = new URLSearchParams();
      for (const [k, v] of data) if (typeof v === 'string' && v.trim()) next.set(k, v.trim());
      go(`/queue?${next}`);
    } },
    h('label', {}, 'State ', h('select', { name: 'state' }, h('option', { value: '' }, 'any'), ...first.states.map((s) => h('option', { value: s, selected: params.get('state') === s }, s)))),
    ...(['sender', 'recipient', 'app', 'route'] as const).map((f) => h('label', {}, `${f[0]!.toUpperCase()}${f.slice(1)} `, h('input', { name: f, value: params.get(f) ?? '', type: 'search', size: 18 }))),
    h('button', { type: 'submit' }, 'Search'),
  );

  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  let boxes: HTMLInputElement[] = [];
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

  const admin = mayAct(); // selecting is for acting, which a read-only user may not
  const list = h('div', { class: 'queue-list' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  /** Draws the rows; ticked boxes stay ticked across a live redraw. */
  const draw = (page: Page) => {
    const ticked = new Set(boxes.filter((b) => b.checked).map((b) => b.value));
    boxes = [];
    const all = h('input', { type: 'checkbox', 'aria-label': 'Select all', onchange: (e: Event) => boxes.forEach((b) => (b.checked = (e.target as HTMLInputElement).checked)) });
    const rows = page.messages.map((m) => {
      const box = h('input', { type: 'checkbox', value: m.id, 'aria-label': `Select ${m.id}`, checked: ticked.has(m.id) });
      boxes.push(box);
      return h(
        'tr',
        { 'data-id': m.id },
        admin ? h('td', {}, box) : null,
        h('td', {}, h('a', { href: `/messages/${m.id}`, class: 'mono' }, m.id)),
        h('td', {}, badge(m.state), m.kind && m.kind !== 'normal' ? [' ', badge(m.kind === 'dsn' ? 'DSN' : 'notice', 'kind')] : null),
        h('td', { class: 'nowrap' }, when(m.receivedAt)),
        h('td', { class: 'clip', title: m.mailFrom || '<>' }, m.mailFrom || '<>'),
        h('td', { class: 'clip', title: m.recipients.join(', ') }, m.recipients.length > 1 ? `${m.recipients[0]} +${m.recipients.length - 1}` : (m.recipients[0] ?? '')),
        h('td', { class: 'subject' }, m.subject ?? h('span', { class: 'muted' }, '(no subject)')),
        h('td', { class: 'hide-narrow' }, m.app ?? ''),
        h('td', { class: 'hide-narrow nowrap' }, size(m.size)),
        // Wrapped, never cut: the words are what the admin acts on.
        h('td', { class: 'hide-narrow last-error' }, m.lastError ?? ''),
      );
    });
    list.replaceChildren(
      page.messages.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'queue' },
              h('thead', {}, h('tr', {}, admin ? h('th', {}, all) : null, ...['ID', 'State', 'Received', 'From', 'To', 'Subject'].map((t) => h('th', {}, t)), ...['App', 'Size', 'Last error'].map((t) => h('th', { class: 'hide-narrow' }, t)))),
              h('tbody', {}, ...rows),
            ),
          )
        : h('p', {}, 'No messages match.'),
    );
    const next = new URLSearchParams(params);
    if (page.nextCursor) next.set('cursor', page.nextCursor);
    pager.replaceChildren(
      ...(params.get('cursor') ? [h('a', { href: `/queue?${new URLSearchParams([...params].filter(([k]) => k !== 'cursor'))}` }, '« Newest')] : []),
      ...(page.nextCursor ? [h('a', { href: `/queue?${next}` }, 'Older »')] : []),
    );
  };
  draw(first);

  const how = h('p', { class: 'live muted', title: 'This page follows the queue as mail moves.' });
  main.replaceChildren(
    h('h1', {}, 'Queue'),
    how,
    form,
    ...(admin ? [h('div', { class: 'actions' }, h('button', { type: 'button', onclick: bulk('retry') }, 'Retry selected'), h('button', { type: 'button', onclick: bulk('cancel') }, 'Cancel selected'), status)] : []),
    list,
    pager,
  );
  follow(async () => draw(await load()), (text) => (how.textContent = text));
}
