// Sending the browser back to the app with a code or an error, in the response mode it asked for.
import type { FastifyReply } from 'fastify';
import type { EntraContext } from './context.js';
import { aadErrorBody, type AadError } from './errors.js';
import { escapeHtml, page } from './pages.js';

export interface RedirectTarget {
  redirectUri: string;
  responseMode: 'query' | 'fragment' | 'form_post';
  state?: string;
}

export function redirectWith(reply: FastifyReply, target: RedirectTarget, params: Record<string, string>): FastifyReply {
  const all: Record<string, string> = { ...params, ...(target.state !== undefined ? { state: target.state } : {}) };
  if (target.responseMode === 'form_post') {
    const fields = Object.entries(all).map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('');
    const body = `<form method="post" action="${escapeHtml(target.redirectUri)}">${fields}<noscript><p>Continue to the application:</p></noscript><button type="submit">Continue</button></form>`;
    return reply.type('text/html; charset=utf-8').send(page('Working...', body));
  }
  const url = new URL(target.redirectUri);
  if (target.responseMode === 'fragment') url.hash = new URLSearchParams(all).toString();
  else for (const [k, v] of Object.entries(all)) url.searchParams.set(k, v);
  return reply.redirect(url.toString(), 302);
}

/** `error`, `error_description` (AADSTS text with trace and correlation ids) back to the app. */
export function redirectWithError(ctx: EntraContext, reply: FastifyReply, target: RedirectTarget, err: AadError, extra: Record<string, string> = {}): FastifyReply {
  const body = aadErrorBody(err, ctx.clock.date());
  return redirectWith(reply, target, { error: err.error, error_description: body.error_description, ...extra });
}

/** Entra's error page, for problems it cannot send back to the app (unknown app, bad redirect URI). */
export function errorPage(ctx: EntraContext, reply: FastifyReply, err: AadError): FastifyReply {
  const body = aadErrorBody(err, ctx.clock.date());
  const lines = body.error_description.split('\r\n').map((l) => `<p>${escapeHtml(l)}</p>`).join('');
  return reply.code(400).type('text/html; charset=utf-8').send(page('Sign in', `<h1>Sorry, but we're having trouble signing you in.</h1>${lines}`));
}
