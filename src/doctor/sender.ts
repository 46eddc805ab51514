/**
 * Sender: the From addresses the route is configured to send as (sender.allowed) against its
 * mailbox. Every address other than the mailbox needs Send As. On an SMTP route the doctor asks
 * Exchange Online itself: it signs in, says MAIL FROM:<address> and RCPT TO:<the mailbox>, and
 * ends the session when DATA is accepted, before a single byte of a message — Exchange answers
 * 550 5.7.60 at MAIL when Send As is missing. A Graph route learns it only when sending
 * (--send-test).
 */
import { Readable } from 'node:stream';
import { sendAsCommand } from '../transports/m365/fixes-entra.js';
import type { SmtpError } from '../transports/smtp-reply.js';
import { failed, passed, since, skipped, warned, type CheckResult } from './check.js';
import type { DoctorContext, RouteState } from './context.js';
import { openRouteSession, refusal, signInOf } from './smtp-auth.js';

export async function senderChecks(ctx: DoctorContext, state: RouteState, authPassed: boolean): Promise<CheckResult[]> {
  const c = state.target.config;
  if (c.transport !== 'graph' && c.transport !== 'smtp-oauth' && c.transport !== 'smtp-basic') return [];
  const mailbox = c.mailbox.toLowerCase();
  const others = c.sender.allowed.filter((a) => a.toLowerCase() !== mailbox);
  const key = `routes.${state.target.name}.sender`;
  if (!others.length) {
    const rewrite = c.sender.rewriteFrom === 'never' ? `a message From another address goes out as it is and needs Send As (list such addresses in ${key}.allowed to have them checked)` : `other From addresses are rewritten to ${c.mailbox} (${key}.rewriteFrom: ${c.sender.rewriteFrom})`;
    return [passed('sender', `sender ${c.mailbox}`, `${key}.allowed names no address besides ${c.mailbox}; ${rewrite}`)];
  }
  const checks: CheckResult[] = [];
  for (const address of others) {
    const title = `Send As ${address}`;
    if (address.includes('*')) {
      checks.push(warned('sender', title, `${address} is a pattern: Send As cannot be checked for it; each address it matches needs Send As for ${c.mailbox}.`, `For each address: ${sendAsCommand(state.target.facts!, '<address>')}`));
      continue;
    }
    if (c.transport === 'graph') {
      checks.push(warned('sender', title, `${c.mailbox} needs Send As on ${address}; Graph tells only when a message is sent.`, `${sendAsCommand(state.target.facts!, address)} — then check with relay365 doctor --route ${state.target.name} --send-test <address>.`));
      continue;
    }
    if (!authPassed) {
      checks.push(skipped('sender', title, 'SMTP AUTH did not pass'));
      continue;
    }
    checks.push(await probeSendAs(ctx, state, address, title));
  }
  return checks;
}

/** MAIL FROM:<address>, RCPT TO:<mailbox>, DATA — and the session ends before the message. */
async function probeSendAs(ctx: DoctorContext, state: RouteState, address: string, title: string): Promise<CheckResult> {
  const c = state.target.config as { mailbox: string };
  const start = performance.now();
  const session = await openRouteSession(ctx, state).catch((err: SmtpError) => err);
  if (session instanceof Error) return refusal('sender', title, session, state, since(start));
  const signIn = signInOf(state);
  try {
    if (signIn && signIn !== 'no-token') await session.signIn(signIn);
    const stopBeforeMessage = new Readable({
      read() {
        this.destroy(new Error('relay365 doctor: the Send As probe ends before the message'));
      },
    });
    const err = await new Promise<SmtpError | null>((resolve) => session.connection.send({ from: address, to: [c.mailbox] }, stopBeforeMessage, (e) => resolve((e as SmtpError | null) ?? null)));
    // ESTREAM is the probe's own stop after DATA was accepted; anything else is the server's or the network's answer.
    if (err && err.code !== 'ESTREAM') return refusal('sender', title, err, state, since(start), address);
    return passed('sender', title, `Exchange Online accepts ${address} as sender for ${c.mailbox} (MAIL FROM accepted; the probe ended before any message)`, since(start));
  } catch (err) {
    return refusal('sender', title, err as SmtpError, state, since(start));
  } finally {
    session.abort();
  }
}
