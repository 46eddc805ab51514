/**
 * One delivery attempt of one claimed message: its pending recipients are grouped by
 * route; each group passes the route gate (route state, mailbox budget) and goes to its
 * route's transport, in submissions of at most the mailbox's recipients-per-message; and
 * every recipient's outcome becomes its new state (queue/states.ts). The result is the
 * AttemptReport the store records.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { RetryConfig } from '../config/schema.js';
import { recipientStateFor, stateAfterAttempt, State } from '../queue/states.js';
import type { AttemptReport, ClaimedMessage, RecipientResult, Store } from '../queue/store.js';
import { formatReply } from '../transports/smtp-reply.js';
import { outcome, type DeliveryResult, type Outcome, type Transport } from '../transports/transport.js';
import { retryDelay } from './backoff.js';
import type { RouteGate } from './route-gate.js';
import type { Router } from './router.js';

export interface AttemptDeps {
  store: Store;
  router: Router;
  gate: RouteGate;
  transports: Map<string, Transport>;
  retry: RetryConfig;
  node: string;
  log: Logger;
}

type Recipient = ClaimedMessage['recipients'][number];

export async function attemptDelivery(message: ClaimedMessage, deps: AttemptDeps, signal: AbortSignal): Promise<AttemptReport> {
  const startedAt = Date.now();
  const log = deps.log.child({ msgId: message.id });
  const byRoute = new Map<string, Recipient[]>();
  for (const recipient of message.recipients) {
    const route = deps.router.routeFor(message, recipient.address);
    byRoute.set(route, [...(byRoute.get(route) ?? []), recipient]);
  }
  const groups = await Promise.all([...byRoute].map(([route, recipients]) => deliverToRoute(route, recipients, message, deps, signal, log)));
  const results = groups.flat().sort((a, b) => a.idx - b.idx);

  const states = [...results.map((r) => r.state), ...message.otherRecipientStates];
  const retryTimes = results.filter((r) => r.state === State.deferred).map((r) => r.retryAt as number);
  const problem = results.find((r) => r.verdict !== 'delivered');
  const report: AttemptReport = {
    messageId: message.id,
    attempt: message.attemptCount + 1,
    node: deps.node,
    startedAt,
    durationMs: Date.now() - startedAt,
    results,
    state: stateAfterAttempt(states, false),
    nextAttemptAt: retryTimes.length ? Math.min(...retryTimes) : null,
    lastError: problem ? (problem.reply ? formatReply(problem.reply) : problem.diagnosis) : null,
  };
  for (const r of results) {
    const address = message.recipients.find((x) => x.idx === r.idx)?.address;
    const fields = { to: address, route: r.route, verdict: r.verdict, reply: r.reply ? formatReply(r.reply) : undefined, ms: report.durationMs };
    if (r.verdict === 'delivered') log.info(fields, 'delivered');
    else log.warn({ ...fields, attempted: r.attempted, diagnosis: r.diagnosis, retryAt: r.retryAt ? new Date(r.retryAt).toISOString() : undefined }, r.state);
  }
  return report;
}

async function deliverToRoute(
  route: string,
  recipients: Recipient[],
  message: ClaimedMessage,
  deps: AttemptDeps,
  signal: AbortSignal,
  log: Logger,
): Promise<RecipientResult[]> {
  const now = Date.now();
  const transport = deps.transports.get(route);
  const failures = message.attemptCount + 1;
  const results = (list: Recipient[], result: Outcome, attempted: boolean) =>
    list.map((r) => toRecipientResult(r.idx, route, transport?.kind ?? 'none', result, attempted, failures, deps.retry, now));
  if (!transport) return results(recipients, missingRoute(route), false);

  const admission = await deps.gate.admit(route, now);
  if (!admission.go) return results(recipients, admission.outcome, false);

  const out: RecipientResult[] = [];
  const tried: Outcome[] = [];
  const size = transport.pacing?.recipientsPerMessage ?? recipients.length;
  for (let i = 0; i < recipients.length; i += size) {
    const chunk = recipients.slice(i, i + size);
    const paced = transport.pacing ? await deps.gate.pace(transport.pacing, chunk.length, Date.now()) : null;
    if (paced && !paced.go) {
      out.push(...results(recipients.slice(i), paced.outcome, false)); // the rest waits with it
      break;
    }
    try {
      const outcomes = await deliverSafely(transport, message, chunk, deps.store, signal, log);
      for (const r of chunk) {
        const result = outcomes.get(r.idx) ?? outcome('transient', `The ${route} route gave no result for this recipient.`);
        tried.push(result);
        out.push(...results([r], result, true));
      }
    } finally {
      if (paced?.go) await paced.done();
    }
  }
  if (tried.length) await deps.gate.record(route, tried, Date.now());
  return out;
}

async function deliverSafely(
  transport: Transport,
  message: ClaimedMessage,
  recipients: Recipient[],
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
  attempted: boolean,
  failures: number,
  retry: RetryConfig,
  now: number,
): RecipientResult {
  const state = recipientStateFor(result.verdict);
  return {
    idx,
    attempted,
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
