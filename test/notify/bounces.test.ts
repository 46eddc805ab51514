/**
 * "Delivered" must mean delivered, end to end: an app submits to an address of the sandbox
 * tenant that does not exist, the graph route delivers it (Graph's 202), Exchange puts its
 * non-delivery report into the route's mailbox, relay365's bounce reader reads it through Graph
 * (Mail.Read), marks the recipient bounced with Microsoft's words and a diagnosis, and the app
 * gets its DSN (a loopback sink stands in for the app's mail server) — once; `queue show`, the
 * admin API's message view and /metrics say so. Without Mail.Read, `queue show` of a delivered
 * message says where the reports go instead.
 */
import nodemailer from 'nodemailer';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { messageView } from '../../src/admin/message-views.js';
import { registry } from '../../src/admin/metrics.js';
import { effectiveRoutes } from '../../src/delivery/router.js';
import { startSink, until, type Sink } from '../helpers/sink.js';
import { fastRetry, routeTo, runCli, startTestRelay, writeConfig, type TestRelay } from '../helpers/relay.js';
import { DEMO, useSandbox } from '../helpers/sandbox.js';
import { loadConfig } from '../../src/config/load.js';
import { join } from 'node:path';

/** The demo app may send (Mail.Send) and read the mailbox's reports (Mail.Read). */
const t = useSandbox({
  tenant: (tenant) => {
    const app = tenant.apps.find((a) => a.appId === DEMO.appOnly.clientId)!;
    app.applicationPermissions = [...app.applicationPermissions.filter((p) => p.resource !== 'Microsoft Graph'), { resource: 'Microsoft Graph', roles: ['Mail.Send', 'Mail.Read'] }];
  },
});
const GHOST = 'ghost@contoso.example';
const ALICE = DEMO.alice.address;
const APP = 'erp@apps.example';

let relay: TestRelay | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await relay?.stop();
  await sink?.stop().catch(() => undefined);
  relay = sink = undefined;
});

/** A graph route of relay@ that looks for reports every 200 ms; mail to the app's own domain goes to the sink. */
async function start(bounces: Record<string, unknown> = { every: '200ms' }): Promise<TestRelay> {
  sink = await startSink();
  return startTestRelay(config(bounces, sink));
}

function config(bounces: Record<string, unknown>, appSink: Sink) {
  return {
    delivery: fastRetry,
    routes: {
      m365: {
        transport: 'graph',
        mailbox: DEMO.relay.address,
        credentials: { tenant: DEMO.tenantId, clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret, authorityHost: t.sandbox.urls.login },
        endpoint: t.sandbox.urls.graph,
        ca: [t.sandbox.caPath],
        sender: { rewriteFrom: 'always' },
        bounces,
      },
      apps: routeTo(appSink.port),
    },
    routing: { default: 'm365', rules: [{ recipientDomains: ['apps.example'], route: 'apps' }] },
  };
}

async function submit(to: string[], subject: string): Promise<string> {
  const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay!.port, secure: false, tls: { rejectUnauthorized: false }, logger: false });
  try {
    const raw = [`From: ERP <${APP}>`, `To: ${to.join(', ')}`, `Subject: ${subject}`, '', 'Invoice attached in spirit.', ''].join('\r\n');
    const info = await client.sendMail({ envelope: { from: APP, to }, raw });
    return /queued as (\S+)/.exec(String(info.response))![1]!;
  } finally {
    client.close();
  }
}

async function state(id: string, wanted: string, timeoutMs = 15_000) {
  await until(async () => (await relay!.relay.store.get(id))?.state === wanted, timeoutMs, () => `message ${id} never became ${wanted}`);
  return (await relay!.relay.store.get(id))!;
}


describe('a recipient Microsoft 365 accepts and then bounces', () => {
  it('is marked bounced with Microsoft\'s words and a diagnosis, the app gets its DSN once, and queue show, the API and /metrics say so', async () => {
    relay = await start();
    const id = await submit([GHOST, ALICE], 'Invoice 4711');
    const bounced = await state(id, 'bounced');
    const [ghost, alice] = bounced.recipientDetails;
    expect(alice).toMatchObject({ address: ALICE, state: 'delivered', bouncedAt: null });
    expect(ghost).toMatchObject({ address: GHOST, state: 'bounced', route: 'm365', reply: { code: 550, enhanced: '5.1.10' } });
    expect(ghost!.reply!.text).toBe('RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup');
    expect(ghost!.diagnosis).toContain(`Microsoft 365 accepted the message, then returned it in a non-delivery report to ${DEMO.relay.address}`);
    expect(ghost!.diagnosis).toContain(`${GHOST} does not exist in the tenant`);
    expect(bounced.attempts.find((a) => a.recipientIdx === 0)?.reply?.code).toBe(202); // the delivery stays on record

    // The DSN to the app, through the route to its own domain.
    const [dsn] = await sink!.waitForMessages(1, 15_000);
    expect(dsn!.from).toBe('');
    expect(dsn!.to).toEqual([APP]);
    const parsed = await simpleParser(dsn!.raw, { keepDeliveryStatus: true });
    expect(parsed.subject).toBe('Undelivered Mail Returned to Sender: Invoice 4711');
    const status = parsed.attachments.find((a) => a.contentType === 'message/delivery-status')!.content.toString();
    expect(status).toContain(`Final-Recipient: rfc822; ${GHOST}\r\nAction: failed\r\nStatus: 5.1.10\r\n`);
    expect(status).toContain('Diagnostic-Code: smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup');
    expect(status).not.toContain(ALICE);

    // Once: a second bounce read later (another message) writes no second DSN about the first.
    const second = await submit([GHOST], 'Invoice 4712');
    await state(second, 'bounced');
    await sink!.waitForMessages(2, 15_000);
    expect((await sink!.waitForMessages(2)).filter((m) => m.raw.toString().includes('Invoice 4711'))).toHaveLength(1);

    // The CLI, the API's message view and /metrics.
    const shown = await runCli(relay.dir, ['queue', 'show', id]);
    expect(shown.stdout).toContain(`Message ${id}: bounced`);
    expect(shown.stdout).toMatch(new RegExp(`<${GHOST}>  bounced via m365  550 5\\.1\\.10 RESOLVER\\.ADR\\.RecipientNotFound`));
    expect(shown.stdout).toContain(`${GHOST} does not exist in the tenant`);
    expect(shown.stdout).not.toContain('Note: Microsoft 365 accepted this message, but may still bounce it');
    const listed = await runCli(relay.dir, ['queue', 'list', '--state', 'bounced']);
    expect(listed.stdout).toContain(id);
    const { config } = loadConfig({ path: join(relay.dir, 'relay365.yaml'), env: {} });
    const view = await messageView(relay.relay.store, id, effectiveRoutes(config));
    expect(view?.state).toBe('bounced');
    expect(view?.recipientDetails[0]).toMatchObject({ state: 'bounced', reply: { code: 550, enhanced: '5.1.10' } });
    expect(view?.bounceNote).toBeNull();
    expect(await registry.metrics()).toMatch(/^relay365_recipients_bounced_total\{route="m365"\} [2-9]/m);
  });

  it('without Mail.Read, queue show of a delivered message says Microsoft may still bounce it and where the reports go, once', async () => {
    t.edit((tenant) => {
      const app = tenant.apps.find((a) => a.appId === DEMO.appOnly.clientId)!;
      app.applicationPermissions = [...app.applicationPermissions.filter((p) => p.resource !== 'Microsoft Graph'), { resource: 'Microsoft Graph', roles: ['Mail.Send'] }];
    });
    relay = await start();
    const id = await submit([GHOST, ALICE], 'Invoice 4713');
    await state(id, 'delivered');
    await until(async () => Boolean((await relay!.relay.store.bounceReaders()).find((r) => r.route === 'm365')?.problem), 15_000, () => 'the reader never recorded its problem');
    const shown = await runCli(relay.dir, ['queue', 'show', id]);
    expect(shown.stdout).toContain(`Message ${id}: delivered`);
    const notes = shown.stdout.split('Note: ');
    expect(notes).toHaveLength(2);
    expect(notes[1]).toContain('Microsoft 365 accepted this message, but may still bounce it');
    expect(notes[1]).toContain(`non-delivery report to ${DEMO.relay.address} (the mailbox of route m365; app ${DEMO.appOnly.clientId} may not list the Inbox of ${DEMO.relay.address} (403 ErrorAccessDenied`);
    expect(notes[1]).toContain('Mail.Read');
    expect(relay.logs.filter((l) => String(l.msg).startsWith("cannot read the route's non-delivery reports"))).toHaveLength(1);
  });

  it('with bounces.read: off, queue show says the reports are not read; a reload that turns reading on reads them', async () => {
    relay = await start({ read: 'off' });
    const id = await submit([ALICE], 'Invoice 4714');
    await state(id, 'delivered');
    const shown = await runCli(relay.dir, ['queue', 'show', id, '--json']);
    expect(JSON.parse(shown.stdout).bounceNote).toContain('routes.m365.bounces.read is off');

    const { config: next } = loadConfig({ path: writeConfig(relay.dir, config({ every: '200ms' }, sink!)), env: {} });
    expect(relay.relay.reload(next).reloaded).toContain('routes.m365');
    const ghost = await submit([GHOST], 'Invoice 4715');
    expect((await state(ghost, 'bounced')).recipientDetails[0]?.reply?.enhanced).toBe('5.1.10');
  });
});
