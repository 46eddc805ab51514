/**
 * The console's entry point: asks who is signed in, shows the sign-in form or the page the
 * address names, and follows links inside the console without reloading.
 */
import { api, ApiError, setCsrf, setRole } from './api.js';
import { h } from './dom.js';
import { stopFollowing } from './live.js';
import { messagePage } from './page-message.js';
import { overviewPage } from './page-overview.js';
import { queuePage } from './page-queue.js';
import { routesPage } from './page-routes.js';

interface Session {
  user: string | null;
  role: 'admin' | 'read-only' | null;
  csrfToken: string | null;
  needsSetup: boolean;
  node?: string | null;
}

const main = document.getElementById('main') as HTMLElement;
const who = document.getElementById('who') as HTMLElement;

function go(url: string): void {
  history.pushState(null, '', url);
  void render();
}

async function render(): Promise<void> {
  stopFollowing();
  const session = await api<Session>('GET', '/api/session');
  setCsrf(session.csrfToken);
  setRole(session.role);
  if (!session.user) return loginPage(session);
  who.replaceChildren(
    session.node ? h('span', { class: 'muted' }, `${session.node} · `) : '',
    session.user,
    session.role === 'read-only' ? h('span', { class: 'muted' }, ' (read-only)') : '',
    ' ',
    h('button', { type: 'button', class: 'link', onclick: async () => {
      // The page's live stream and timers go first: one that asked after the sign-out would be refused.
      stopFollowing();
      await api('POST', '/api/logout');
      go('/login');
    } }, 'Sign out'),
  );
  const path = location.pathname;
  try {
    if (path === '/queue') await queuePage(main, go);
    else if (path.startsWith('/messages/')) await messagePage(main, decodeURIComponent(path.slice('/messages/'.length)), go);
    else if (path === '/routes') await routesPage(main, go);
    else await overviewPage(main);
    if (session.needsSetup) main.prepend(h('p', { class: 'warning' }, 'Signed in with the one-time setup token. Add admin users: run ', h('code', {}, 'relay365 admin passwd <user>'), ' and put the hash under admin.users in the config.'));
  } catch (err) {
    main.replaceChildren(h('h1', {}, 'Not available'), h('p', { class: 'error', role: 'alert' }, err instanceof ApiError ? err.message : String(err)));
  }
  document.title = `relay365 – ${main.querySelector('h1')?.textContent ?? ''}`;
  main.focus({ preventScroll: true }); // keyboard users start on the new page, not on the link they left
}

function loginPage(session: Session): void {
  who.replaceChildren();
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    { class: 'login', onsubmit: async (e: Event) => {
      e.preventDefault();
      const data = new FormData(form);
      try {
        const signedIn = await api<{ csrfToken: string }>('POST', '/api/login', { user: String(data.get('user')), password: String(data.get('password')) });
        setCsrf(signedIn.csrfToken);
        go(location.pathname === '/login' ? '/' : location.pathname + location.search);
      } catch (err) {
        error.textContent = err instanceof ApiError ? err.problem.detail : String(err);
      }
    } },
    h('h1', {}, 'Sign in to relay365'),
    session.needsSetup ? h('p', {}, 'No admin users are configured yet: sign in as ', h('code', {}, 'setup'), ' with the one-time token in the file the relay\'s log names (admin.setupTokenFile, default data/admin-setup-token).') : null,
    h('label', {}, 'User', h('input', { name: 'user', autocomplete: 'username', required: true, value: session.needsSetup ? 'setup' : '' })),
    h('label', {}, 'Password', h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    h('button', { type: 'submit' }, 'Sign in'),
    error,
  );
  main.replaceChildren(form);
  (form.querySelector('input[name=user]') as HTMLInputElement).focus();
}

// Links inside the console change the page without a reload (downloads and other origins excepted).
document.addEventListener('click', (e) => {
  const a = (e.target as Element).closest('a');
  if (!a || a.hasAttribute('download') || a.origin !== location.origin || a.pathname.startsWith('/api/') || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  if (a.pathname === location.pathname && a.search === location.search && a.hash) return void document.getElementById(a.hash.slice(1))?.scrollIntoView();
  go(a.pathname + a.search + a.hash);
});
window.addEventListener('popstate', () => void render());
void render();
