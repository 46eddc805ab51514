/** Overview: messages per minute, queue depth by state, and every route's health with the reason. */
import { api } from './api.js';
import { activityChart } from './chart.js';
import { badge, h } from './dom.js';
import type { Overview } from './types.js';

export async function overviewPage(main: HTMLElement): Promise<void> {
  const o = await api<Overview>('GET', '/api/overview?hours=6');
  main.replaceChildren(
    h('h1', {}, 'Overview'),
    h('section', { 'aria-labelledby': 'chart-h' }, h('h2', { id: 'chart-h' }, 'Messages per minute, last 6 hours'), activityChart(o)),
    h(
      'section',
      { 'aria-labelledby': 'depth-h' },
      h('h2', { id: 'depth-h' }, 'Queue by state'),
      h('ul', { class: 'counts' }, ...Object.entries(o.counts).map(([s, n]) => h('li', {}, h('a', { href: `/queue?state=${s}` }, badge(s), h('strong', {}, String(n)))))),
    ),
    h(
      'section',
      { 'aria-labelledby': 'routes-h' },
      h('h2', { id: 'routes-h' }, 'Routes'),
      h(
        'ul',
        { class: 'route-list' },
        ...o.routes.map((r) =>
          h(
            'li',
            {},
            h('a', { href: `/routes#route-${r.name}` }, r.name),
            ' ',
            badge(r.health === 'ok' ? 'OK' : r.health, r.health),
            ' ',
            h('span', { class: 'muted' }, r.transport),
            r.reason ? h('p', { class: 'reason' }, r.reason) : null,
            !r.reason && r.health === 'degraded' && r.lastError ? h('p', { class: 'reason' }, `Last error: ${r.lastError}`) : null,
          ),
        ),
      ),
    ),
  );
}
