/**
 * SMTP: connect, STARTTLS, AUTH — then QUIT without sending. Exchange Online's refusals (535 5.7.139
 * SMTP AUTH disabled for the mailbox or the tenant, 535 5.7.3 for an app without service principal
 * or FullAccess, 5.7.30, …) are explained by the transports' classifier (classify-smtp.ts) with
 * the PowerShell fix. Direct Send and connector routes do not sign in: their session is checked
 * up to EHLO after STARTTLS, with the connector's client certificate.
 */
import { readFileSync } from 'node:fs';
import type { SmtpError } from '../transports/smtp-reply.js';
import { explainSmtpError } from '../transports/m365/smtp-send.js';
import { failed, passed, since, skipped, type CheckResult } from './check.js';
import type { DoctorContext, RouteState } from './context.js';
import { SmtpSession, type SessionSignIn } from './smtp-session.js';

/** How the route signs in on its SMTP endpoint; null for routes that do not. */
export function signInOf(state: RouteState): SessionSignIn | null | 'no-token' {
  const c = state.target.config;
  if (c.transport === 'smtp-basic') return { method: 'LOGIN', user: c.mailbox, pass: c.password };
  if (c.transport === 'smarthost' && c.auth) return { method: 'LOGIN', user: c.auth.user, pass: c.auth.pass };
  if (c.transport === 'smtp-oauth') return state.token ? { method: 'XOAUTH2', user: c.mailbox, accessToken: state.token } : 'no-token';
  return null;
}

/** Opens a session as the route would: its TLS rules, its client certificate, its CAs. */
export function openRouteSession(ctx: DoctorContext, state: RouteState): Promise<SmtpSession> {
  const endpoint = state.target.endpoint!;
  const c = state.target.config;
  const minVersion = 'minTlsVersion' in c ? c.minTlsVersion : 'TLSv1.2';
  const clientCert = c.transport === 'connector' && c.certificate ? { key: readFileSync(c.certificate.key), cert: readFileSync(c.certificate.cert) } : {};
  return SmtpSession.open({
    address: state.reachable as string,
    host: endpoint.host,
    port: endpoint.port,
    tls: endpoint.tls,
    tlsOptions: { minVersion: minVersion as 'TLSv1.2', rejectUnauthorized: !(c.transport === 'smarthost' && !c.verifyCertificate), ...clientCert },
    ca: state.target.ca,
    timeoutMs: ctx.settings.timeout,
    ehloName: ctx.ehloName,
  });
}

export async function smtpAuthCheck(ctx: DoctorContext, state: RouteState): Promise<CheckResult | null> {
  const endpoint = state.target.endpoint;
  if (!endpoint || endpoint.protocol !== 'smtp') return null;
  const signIn = signInOf(state);
  const check = signIn === null ? 'smtp-session' : 'smtp-auth';
  const title = signIn === null ? `SMTP session ${endpoint.host}:${endpoint.port}` : `SMTP AUTH ${signIn === 'no-token' ? 'XOAUTH2' : signIn.method} ${endpoint.host}:${endpoint.port}`;
  if (!state.reachable) return skipped(check, title, 'the port did not answer');
  if (endpoint.tls !== 'none' && endpoint.tls !== 'opportunistic' && !state.tlsOk) return skipped(check, title, 'TLS did not pass');
  if (signIn === 'no-token') return skipped(check, title, 'no token to sign in with');
  const start = performance.now();
  let session: SmtpSession | null = null;
  try {
    session = await openRouteSession(ctx, state);
    if (signIn) await session.signIn(signIn);
    return passed(check, title, signIn ? `signed in as ${signIn.user} (EHLO, STARTTLS, AUTH, QUIT; nothing sent)` : `EHLO${session.tlsSocket ? ', STARTTLS' : ''} and QUIT; nothing sent`, since(start));
  } catch (err) {
    return refusal(check, title, err as SmtpError, state, since(start));
  } finally {
    session?.close();
  }
}

export function refusal(check: 'smtp-auth' | 'smtp-session' | 'sender', title: string, err: SmtpError, state: RouteState, ms: number, envelopeFrom?: string): CheckResult {
  const endpoint = state.target.endpoint!;
  if (!state.target.facts) {
    return failed(check, title, `${endpoint.host}:${endpoint.port} refused: ${err.response ?? err.message}`, `Check routes.${state.target.name}.auth (user and pass) and what the smarthost's admin allows.`, ms);
  }
  const certificateNames = certificateNamesOf(state);
  const o = explainSmtpError(err, { facts: state.target.facts, command: err.command, ...(envelopeFrom ? { envelopeFrom } : {}), ...(state.claims ? { token: state.claims } : {}), ...(certificateNames ? { certificateNames } : {}) }, endpoint);
  return failed(check, title, o.diagnosis, o.fix, ms);
}

function certificateNamesOf(state: RouteState): string[] | undefined {
  const c = state.target.config;
  if (c.transport !== 'connector' || !c.certificate) return undefined;
  return state.certificateNames ?? undefined;
}
