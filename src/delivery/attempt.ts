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
import { outcome, type DeliveryJob, type DeliveryResult, type Outcome, type Transport } from '../transports/transport.js';
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

/** One recipient's outcome on a route, and whether it was actually tried. */
interface Tried {
  outcome: Outcome;
  attempted: boolean;
}

/** A chain of hand-overs longer than this is a configuration loop (graph -> smtp -> …). */
const MAX_HANDOVERS = 2;

async function deliverToRoute(
  route: string,
  recipients: Recipient[],
  message: ClaimedMessage,
  deps: AttemptDeps,
  signal: AbortSignal,
  log: Logger,
): Promise<RecipientResult[]> {
  const now = Date.now();
  const kind = deps.transports.get(route)?.kind ?? 'none';
  const outcomes = await outcomesOnRoute(route, recipients, message, deps, signal, log, 0);
  return recipients.map((r) => {
    const tried = outcomes.get(r.idx) ?? { outcome: noResult(route), attempted: false };
    return toRecipientResult(r.idx, route, kind, tried.outcome, tried.attempted, message.attemptCount + 1, deps.retry, now);
  });
}

/**
 * The route's gate, then its transport in submissions the mailbox's limits allow. Used for
 * the route a recipient was routed to and, through DeliveryJob.handOver, for a route a
 * transport hands recipients over to — so a fallback route's hold and budget apply too.
 */
async function outcomesOnRoute(
  route: string,
  recipients: Recipient[],
  message: ClaimedMessage,
  deps: AttemptDeps,
  signal: AbortSignal,
  log: Logger,
  depth: number,
): Promise<Map<number, Tried>> {
  const results = new Map<number, Tried>();
  const all = (list: Recipient[], result: Outcome, attempted: boolean) => list.forEach((r) => results.set(r.idx, { outcome: result, attempted }));
  const transport = deps.transports.get(route);
  if (!transport || depth > MAX_HANDOVERS) {
    all(recipients, transport ? handOverLoop(route) : missingRoute(route), false);
    return results;
  }
  const admission = await deps.gate.admit(route, Date.now());
  if (!admission.go) {
    const fallback = depth === 0 ? deps.router.fallbackFor(message, route) : undefined;
    if (!fallback) {
      all(recipients, admission.outcome, false);
      return results;
    }
    // The app's fallback route stands in while this one is held or paused.
    const there = await outcomesOnRoute(fallback, recipients, message, deps, signal, log, depth + 1);
    for (const [idx, t] of there) {
      const diagnosis = `${admission.outcome.diagnosis} Sent through the app's fallback route ${fallback} instead: ${t.outcome.diagnosis}`;
      results.set(idx, { outcome: { ...t.outcome, diagnosis, via: t.outcome.via ?? fallback }, attempted: t.attempted });
    }
    return results;
  }

  const own: Outcome[] = [];
  const size = transport.pacing?.recipientsPerMessage ?? recipients.length;
  for (let i = 0; i < recipients.length; i += size) {
    const chunk = recipients.slice(i, i + size);
    const paced = transport.pacing ? await deps.gate.pace(transport.pacing, route, chunk.length, Date.now()) : null;
    if (paced && !paced.go) {
      all(recipients.slice(i), paced.outcome, false); // the rest waits with it
      break;
    }
    const handOver = async (target: string, handed: DeliveryJob['recipients']): Promise<DeliveryResult> => {
      const byIdx = new Map(chunk.map((r) => [r.idx, r]));
      const list = handed.map((h) => byIdx.get(h.idx)).filter((r): r is Recipient => r !== undefined);
      const there = await outcomesOnRoute(target, list, message, deps, signal, log, depth + 1);
      for (const [idx, t] of there) if (t.attempted) results.set(idx, t); // provisional: the transport's outcome replaces it
      return new Map([...there].map(([idx, t]) => [idx, { ...t.outcome, via: t.outcome.via ?? target }]));
    };
    try {
      const outcomes = await deliverSafely(transport, message, chunk, deps.store, signal, log, handOver, paced?.go ? paced.connection : undefined);
      for (const r of chunk) {
        const result = outcomes.get(r.idx) ?? noResult(route);
        const handed = results.get(r.idx);
        results.set(r.idx, { outcome: result, attempted: result.via === undefined || handed?.attempted === true });
        if (result.via === undefined) own.push(result); // a hand-over's outcome is the other route's business
      }
    } finally {
      if (paced?.go) await paced.done();
    }
  }
  if (own.length) await deps.gate.record(route, admission.state, own, Date.now());
  return results;
}

async function deliverSafely(
  transport: Transport,
  message: ClaimedMessage,
  recipients: Recipient[],
  store: Store,
  signal: AbortSignal,
  log: Logger,
  handOver: DeliveryJob['handOver'],
  connection: number | undefined,
): Promise<DeliveryResult> {
  try {
    return await transport.deliver({
      messageId: message.id,
      mailFrom: message.mailFrom,
      mailParams: message.mailParams,
      recipients: recipients.map((r) => ({ idx: r.idx, address: r.address, params: r.params })),
      size: message.size,
      openMessage: () => openOutgoing(store, message),
      handOver,
      connection,
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

const noResult = (route: string) => outcome('transient', `The ${route} route gave no result for this recipient.`);

function handOverLoop(route: string): Outcome {
  return outcome('route-broken', `Recipients were handed over more than ${MAX_HANDOVERS} times before reaching route "${route}": the hand-over routes (fallback, largeMessages.route) form a loop.`, {
    fix: 'Point fallback and largeMessages.route at routes that deliver themselves.',
  });
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
    ...(result.via ? { via: result.via } : {}),
    transport,
    verdict: result.verdict,
    state,
    reply: result.reply,
    diagnosis: result.diagnosis,
    fix: result.fix,
    retryAt: state === State.deferred ? (result.retryAt ?? now + retryDelay(failures, retry)) : null,
  };
}
