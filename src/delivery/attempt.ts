/**
 * One delivery attempt of one claimed message: its pending recipients are grouped by
 * route, each group goes to its route's transport, and every recipient's outcome becomes
 * its new state (queue/states.ts). The result is the AttemptReport the store records.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { RetryConfig } from '../config/schema.js';
import { recipientStateFor, stateAfterAttempt, State } from '../queue/states.js';
import type { AttemptReport, ClaimedMessage, RecipientResult, Store } from '../queue/store.js';
import { formatReply } from '../transports/smtp-reply.js';
import { outcome, type DeliveryResult, type Outcome, type Transport } from '../transports/transport.js';
import { retryDelay } from './backoff.js';
import type { Router } from './router.js';

export interface AttemptDeps {
  store: Store;
  router: Router;
  transports: Map<string, Transport>;
  retry: RetryConfig;
  node: string;
  log: Logger;
}

export async function attemptDelivery(message: ClaimedMessage, deps: AttemptDeps, signal: AbortSignal): Promise<AttemptReport> {
  const startedAt = Date.now();
  const log = deps.log.child({ msgId: message.id });
  const byRoute = new Map<string, ClaimedMessage['recipients']>();
  for (const recipient of message.recipients) {
    const route = deps.router.routeFor(message, recipient.address);
    byRoute.set(route, [...(byRoute.get(route) ?? []), recipient]);
  }

  const results: RecipientResult[] = [];
  await Promise.all(
    [...byRoute].map(async ([route, recipients]) => {
      const transport = deps.transports.get(route);
      const outcomes = transport
        ? await deliverSafely(transport, message, recipients, deps.store, signal, log)
        : new Map(recipients.map((r) => [r.idx, missingRoute(route)]));
      for (const recipient of recipients) {
        const result = outcomes.get(recipient.idx) ?? outcome('transient', `The ${route} route gave no result for this recipient.`);
        results.push(toRecipientResult(recipient.idx, route, transport?.kind ?? 'none', result, message.attemptCount + 1, deps.retry, startedAt));
      }
    }),
  );

  const finishedAt = Date.now();
  const states = [...results.map((r) => r.state), ...message.otherRecipientStates];
  const retryTimes = results.filter((r) => r.state === State.deferred).map((r) => r.retryAt as number);
  const nextAttemptAt = retryTimes.length ? Math.min(...retryTimes) : null;
  const problem = results.find((r) => r.verdict !== 'delivered');
  const report: AttemptReport = {
    messageId: message.id,
    attempt: message.attemptCount + 1,
    node: deps.node,
    startedAt,
    durationMs: finishedAt - startedAt,
    results: results.sort((a, b) => a.idx - b.idx),
    state: stateAfterAttempt(states, false),
    nextAttemptAt,
    lastError: problem ? (problem.reply ? formatReply(problem.reply) : problem.diagnosis) : null,
  };
  for (const r of report.results) {
    const address = message.recipients.find((x) => x.idx === r.idx)?.address;
    const fields = { to: address, route: r.route, verdict: r.verdict, reply: r.reply ? formatReply(r.reply) : undefined, ms: report.durationMs };
    if (r.verdict === 'delivered') log.info(fields, 'delivered');
    else log.warn({ ...fields, diagnosis: r.diagnosis, retryAt: r.retryAt ? new Date(r.retryAt).toISOString() : undefined }, r.state);
  }
  return report;
}

async function deliverSafely(
  transport: Transport,
  message: ClaimedMessage,
  recipients: ClaimedMessage['recipients'],
  store: Store,
  signal: AbortSignal,
  log: Logger,
): Promise<DeliveryResult> {
  try {
    return await transport.deliver({
      messageId: message.id,
      mailFrom: message.mailFrom,
      mailParams: message.mailParams,
      recipients: recipients.map((r) => ({ idx: r.idx, address: r.address, params: r.params })),
      size: message.size,
      openMessage: () => openOutgoing(store, message),
      signal,
      log,
    });
  } catch (err) {
    // A transport reports upstream refusals as outcomes; a throw is relay365's own fault.
    log.error({ err }, 'transport failed unexpectedly');
    return new Map(recipients.map((r) => [r.idx, outcome('transient', `relay365 could not run the ${transport.kind} transport: ${(err as Error).message}`)]));
  }
}

/** The message as it leaves: this relay's Received header, then the body exactly as stored. */
async function openOutgoing(store: Store, message: ClaimedMessage): Promise<Readable> {
  const body = await store.openBody(message.id);
  const out = new PassThrough({ highWaterMark: 256 * 1024 });
  out.write(message.receivedHeader);
  body.on('error', (err) => out.destroy(err));
  body.pipe(out);
  return out;
}

function missingRoute(route: string): Outcome {
  return outcome('route-broken', `The route "${route}" chosen for this recipient is not configured.`, {
    fix: `Add routes.${route} to the config, or change the routing, then release the held messages.`,
  });
}

function toRecipientResult(
  idx: number,
  route: string,
  transport: string,
  result: Outcome,
  failures: number,
  retry: RetryConfig,
  now: number,
): RecipientResult {
  const state = recipientStateFor(result.verdict);
  return {
    idx,
    route,
    transport,
    verdict: result.verdict,
    state,
    reply: result.reply,
    diagnosis: result.diagnosis,
    fix: result.fix,
    retryAt: state === State.deferred ? (result.retryAt ?? now + retryDelay(failures, retry)) : null,
  };
}
