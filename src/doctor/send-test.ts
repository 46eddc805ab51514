/**
 * `--send-test ADDRESS`: one real message through the route's own transport — the code the relay
 * delivers with, not a copy of it — and its outcome with the transport's diagnosis and fix. The
 * message does not go through the queue: the doctor tests the route, not the relay.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { createTransport } from '../transports/index.js';
import { formatReply } from '../transports/smtp-reply.js';
import type { DeliveryJob } from '../transports/transport.js';
import { failed, passed, since, type CheckResult } from './check.js';
import type { DoctorContext, RouteState } from './context.js';

function fromAddress(state: RouteState): string {
  const c = state.target.config;
  if ('mailbox' in c) return c.mailbox;
  if ('domain' in c) return `relay365-doctor@${c.domain}`;
  if (c.transport === 'smarthost' && c.auth?.user.includes('@')) return c.auth.user;
  return `relay365-doctor@${hostname()}`;
}

export async function sendTestCheck(ctx: DoctorContext, state: RouteState, to: string): Promise<CheckResult> {
  const title = `send test to ${to}`;
  const from = fromAddress(state);
  const id = randomUUID();
  const raw = Buffer.from(
    [
      `From: ${from}`,
      `To: ${to}`,
      `Subject: relay365 doctor test through route ${state.target.name}`,
      `Message-ID: <${id}@${ctx.ehloName}>`,
      `Date: ${new Date(ctx.now).toUTCString()}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      `This is a test message sent by relay365 doctor --send-test through the route ${state.target.name} (${state.target.config.transport}).`,
      '',
    ].join('\r\n'),
  );
  const transport = createTransport(state.target.name, state.target.config, { ehloName: ctx.ehloName, log: ctx.log, hasRoute: () => false });
  const job: DeliveryJob = {
    messageId: id,
    mailFrom: from,
    mailParams: {},
    recipients: [{ idx: 0, address: to, params: {} }],
    size: raw.length,
    openMessage: async () => Readable.from([raw]),
    handOver: async () => new Map([[0, { verdict: 'permanent', reply: null, diagnosis: `the route hands this recipient to another route; the doctor tests one route at a time`, fix: null, retryAt: null }]]),
    signal: new AbortController().signal,
    log: ctx.log,
  };
  const start = performance.now();
  try {
    const outcome = (await transport.deliver(job)).get(0);
    if (outcome?.verdict === 'delivered') return passed('send-test', title, `delivered from ${from}: ${outcome.reply ? formatReply(outcome.reply) : 'accepted'}`, since(start));
    return failed('send-test', title, `${outcome?.verdict ?? 'no outcome'}: ${outcome?.diagnosis ?? 'the transport reported nothing'}`, outcome?.fix ?? null, since(start));
  } catch (err) {
    return failed('send-test', title, `The route could not send: ${(err as Error).message}`, null, since(start));
  } finally {
    await transport.close();
  }
}
