/** Routes: health, sign-in and secret expiry, budgets, pause/resume/release, the setup guide, and "send a test mail" with the result live. */
import { api, ApiError, mayAct } from './api.js';
import { badge, h, when } from './dom.js';
import type { MessageView, RouteView } from './types.js';

export async function routesPage(main: HTMLElement, go: (url: string) => void): Promise<void> {
  const { routes } = await api<{ routes: RouteView[] }>('GET', '/api/routes');
  main.replaceChildren(h('h1', {}, 'Routes'), ...(mayAct() ? [testMail()] : []), ...routes.map((r) => routeCard(r, go)));
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}

function routeCard(r: RouteView, go: (url: string) => void): HTMLElement {
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const button = (label: string, verb: string) =>
    h('button', { type: 'button', onclick: async () => {
      try {
        const result = await api<{ released?: number }>('POST', `/api/routes/${encodeURIComponent(r.name)}/${verb}`);
        status.textContent = `${label}: done${result.released !== undefined ? `, ${result.released} held message(s) queued again` : ''}`;
        setTimeout(() => go('/routes'), 500);
      } catch (err) {
        status.textContent = err instanceof ApiError ? err.message : String(err);
      }
    } }, label);
  const b = r.budget;
  return h(
    'section',
    { class: 'card', id: `route-${r.name}`, 'aria-labelledby': `route-h-${r.name}` },
    h('h2', { id: `route-h-${r.name}` }, r.name, ' ', badge(r.health === 'ok' ? 'OK' : r.health, r.health), ' ', h('span', { class: 'muted' }, r.transport)),
    r.reason ? h('p', { class: 'reason' }, r.reason) : null,
    r.fix ? h('p', { class: 'fix' }, h('span', { class: 'label' }, 'Fix: '), r.fix) : null,
    h(
      'dl',
      { class: 'pairs' },
      h('dt', {}, 'State'), h('dd', {}, r.state, r.since ? h('span', {}, ' since ', when(r.since)) : null, r.probeAt ? h('span', {}, ' · next probe ', when(r.probeAt)) : null),
      h('dt', {}, 'Last success'), h('dd', {}, when(r.lastSuccessAt)),
      h('dt', {}, 'Last failure'), h('dd', {}, when(r.lastFailureAt), r.lastError ? ` – ${r.lastError}` : ''),
      h('dt', {}, 'Budget'), h('dd', {}, b ? `${b.mailbox}: ${b.messagesThisMinute}/${b.messagesPerMinute} this minute (${b.messagesLeftThisMinute} left), ${b.recipientsToday}/${b.recipientsPerDay} recipients today (${b.recipientsLeftToday} left)` : 'no pacing'),
      h('dt', {}, 'Connections'), h('dd', {}, b ? openConnections(b.connections, b.connectionsOpen) : '–'),
      h('dt', {}, 'Sign-in'), h('dd', {}, r.auth ? `${r.auth.flow}, ${r.auth.credential}${r.auth.account ? `, signed in as ${r.auth.account}` : ''}` : '–', r.auth?.accessTokenExpiresAt ? h('span', {}, ' · token expires ', when(r.auth.accessTokenExpiresAt)) : null),
      h('dt', {}, 'Secret/certificate'), h('dd', {}, r.expiry ? h('span', {}, `${r.expiry.kind} expires `, when(r.expiry.expiresAt), ` (${r.expiry.daysLeft} days) `, badge(r.expiry.level === 'ok' ? 'OK' : r.expiry.level, r.expiry.level === 'ok' ? 'ok' : 'degraded')) : '–'),
    ),
    ...r.warnings.map((w) => h('p', { class: 'warning' }, w)),
    ...(r.auth?.problems ?? []).map((p) => h('p', { class: 'warning' }, p)),
    mayAct()
      ? h('div', { class: 'actions' }, r.state === 'active' ? button('Pause', 'pause') : null, r.state === 'paused' ? button('Resume', 'resume') : null, r.state === 'held' ? button('Release held messages', 'release') : null, status)
      : null,
    h(
      'details',
      { class: 'guide' },
      h('summary', {}, 'Setup guide'),
      r.setupGuide ? setupGuide(r.setupGuide) : h('p', {}, 'Run ', h('code', {}, `relay365 setup ${r.name}`), ' on the relay for the tenant-side steps of this route.'),
    ),
  );
}

function setupGuide(guide: NonNullable<RouteView['setupGuide']>): HTMLElement {
  return h(
    'div',
    {},
    h('p', {}, guide.summary),
    ...guide.sections.map((section) =>
      h(
        'div',
        {},
        h('h3', {}, section.title),
        h('ol', {}, ...section.steps.map((step) => h('li', {}, step.text, step.command ? h('pre', {}, h('code', {}, step.command)) : null, step.url ? h('div', {}, h('a', { href: step.url, rel: 'noreferrer', target: '_blank' }, step.url)) : null))),
      ),
    ),
  );
}

/** Submits a test message and follows it until it is delivered, failed or held. */
function testMail(): HTMLElement {
  const result = h('div', { class: 'test-result', role: 'status', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'test-mail', onsubmit: async (e: Event) => {
      e.preventDefault();
      const data = new FormData(form);
      const to = String(data.get('to') ?? '').trim();
      const from = String(data.get('from') ?? '').trim();
      result.replaceChildren('Sending…');
      try {
        const sent = await api<{ response: string; id: string | null }>('POST', '/api/test-send', { to, ...(from ? { from } : {}) });
        result.replaceChildren(h('p', {}, sent.response));
        if (sent.id) await follow(sent.id, result);
      } catch (err) {
        result.replaceChildren(h('p', { class: 'error' }, err instanceof ApiError ? err.message : String(err)));
      }
    } },
    h('label', {}, 'To ', h('input', { name: 'to', type: 'email', required: true, size: 28 })),
    h('label', {}, 'From ', h('input', { name: 'from', type: 'email', size: 28, placeholder: 'relay365@this-node' })),
    h('button', { type: 'submit' }, 'Send test mail'),
  );
  return h('section', { class: 'card' }, h('h2', {}, 'Send a test mail'), form, result);
}

async function follow(id: string, into: HTMLElement): Promise<void> {
  const line = h('p', {});
  into.append(line);
  for (let i = 0; i < 120; i++) {
    const m = await api<MessageView>('GET', `/api/messages/${id}`);
    const last = m.attempts.at(-1);
    line.replaceChildren(h('a', { href: `/messages/${id}`, class: 'mono' }, id), ' ', badge(m.state), last?.reply ? ` ${[last.reply.code, last.reply.enhanced, last.reply.text].filter(Boolean).join(' ')}` : '', last?.diagnosis ? h('span', { class: 'diagnosis' }, ` ${last.diagnosis}`) : '');
    if (['delivered', 'failed', 'held', 'cancelled'].includes(m.state)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** "2 of 3 open (node-a 1, node-b 1)": a mailbox's connections on every node together. */
function openConnections(limit: number, open: Record<string, number>): string {
  const nodes = Object.entries(open);
  const total = nodes.reduce((sum, [, n]) => sum + n, 0);
  return `${total} of ${limit} open${nodes.length ? ` (${nodes.map(([node, n]) => `${node} ${n}`).join(', ')})` : ''}`;
}
