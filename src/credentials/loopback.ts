/**
 * The loopback half of `relay365 auth login`: listens on the redirect URI's port (3017 for
 * http://localhost:3017/, as the app registration has it), waits for the browser to come back
 * from Entra ID, hands the redirect to the sign-in and shows the user a page that says how it
 * went. Only loopback redirect URIs can be listened on; others belong to the console.
 *
 * A request whose state is not this sign-in's (an old tab coming back, another program on the
 * port's path, a forged link) gets a 400 page and is otherwise ignored: the sign-in keeps
 * waiting for its own redirect instead of being aborted by whoever calls first.
 */
import { createServer, type Server } from 'node:http';
import type { BrowserSignIn, SignedIn } from './sign-in.js';
import { TokenError } from './token.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface LoopbackOptions {
  /** How long to wait for the browser (default 10 minutes). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Whether relay365 can receive this redirect URI itself. */
export function isLoopbackRedirect(redirectUri: string): boolean {
  const url = new URL(redirectUri);
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

export async function finishThroughLoopback(pending: BrowserSignIn, options: LoopbackOptions = {}): Promise<SignedIn> {
  const target = new URL(pending.redirectUri);
  if (!isLoopbackRedirect(pending.redirectUri)) {
    throw new TokenError(`the redirect URI ${pending.redirectUri} is not on this host (http://localhost:<port>/): relay365 cannot receive it; use --device-code, or a loopback redirect URI`, null, 'redirect_not_loopback', null);
  }
  const port = Number(target.port || 80);
  const hosts = target.hostname === 'localhost' ? ['127.0.0.1', '::1'] : [target.hostname.replace(/^\[|\]$/g, '')];
  let settle!: { resolve: (v: SignedIn) => void; reject: (e: unknown) => void };
  const result = new Promise<SignedIn>((resolve, reject) => (settle = { resolve, reject }));
  let busy = false;
  const servers: Server[] = hosts.map(() =>
    createServer((req, res) => {
      const url = new URL(req.url ?? '/', pending.redirectUri);
      if (url.pathname !== target.pathname || busy || (!url.searchParams.has('code') && !url.searchParams.has('error'))) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('relay365 is waiting for the sign-in to come back here.\n');
        return;
      }
      if (url.searchParams.get('state') !== pending.state) {
        res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }).end(page('Not this sign-in', 'This page came back with another state than the sign-in relay365 is waiting for (an old tab, or a link from elsewhere). It was ignored; finish the sign-in in the window relay365 opened.'));
        return;
      }
      busy = true;
      pending.finish(url.searchParams).then(
        (signedIn) => {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page('Signed in', `relay365 now sends as ${escape(signedIn.account)} through route ${escape(signedIn.route)}. You can close this window.`));
          settle.resolve(signedIn);
        },
        (e: unknown) => {
          res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }).end(page('Not signed in', escape((e as Error).message)));
          settle.reject(e);
        },
      );
    }),
  );
  const listening = await Promise.allSettled(servers.map((s, i) => listen(s, port, hosts[i] as string)));
  // The first address must work (a browser tries 127.0.0.1 for localhost); ::1 is a bonus.
  if (listening[0]?.status !== 'fulfilled') {
    await Promise.all(servers.map((s) => new Promise<void>((done) => (s.listening ? s.close(() => done()) : done()))));
    const reason = (listening[0] as PromiseRejectedResult).reason as NodeJS.ErrnoException;
    throw new TokenError(`cannot listen on ${target.host} for the redirect (${reason.code ?? reason.message})${reason.code === 'EADDRINUSE' ? `: another program uses port ${port}` : ''}`, null, 'redirect_listen_failed', null);
  }
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  const timer = setTimeout(() => settle.reject(new TokenError(`nobody came back from the sign-in page within ${Math.round(timeoutMs / 60_000)} minutes`, null, 'sign_in_timeout', null)), timeoutMs);
  const abort = () => settle.reject(new TokenError('the sign-in was cancelled', null, 'sign_in_cancelled', null));
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    return await result;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', abort);
    await Promise.all(servers.map((s) => new Promise<void>((done) => (s.listening ? s.close(() => done()) : done()))));
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
const page = (title: string, body: string) => `<!doctype html><meta charset="utf-8"><title>relay365: ${title}</title><h1>${title}</h1><p>${body}</p>\n`;
