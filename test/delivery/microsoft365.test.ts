/**
 * Every way into Microsoft 365, end to end: an application submits over SMTP to one
 * running relay, routing rules pick each transport, and each message lands in a sandbox
 * mailbox (or the sandbox's internet outbox) as Microsoft would deliver it.
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tenant } from '../../sandbox/tenant/schema.js';
import { until } from '../helpers/sink.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { DEMO, demoTenant, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { clientCertificateFiles, received } from '../transports/m365-smtp-helpers.js';

let t: TestSandbox;
let relay: TestRelay;

beforeAll(async () => {
  const tenant: Tenant = demoTenant();
  tenant.organization.basicAuthAllowed = true; // for the smtp-basic route
  t = await startTestSandbox({ tenant });
  const app = { tenant: DEMO.tenantId, clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret, authorityHost: t.sandbox.urls.login };
  const submission = { host: '127.0.0.1', port: t.sandbox.ports.submission, ca: [t.sandbox.caPath] };
  const mx = { domain: DEMO.domain, host: '127.0.0.1', port: t.sandbox.ports.mx, ca: [t.sandbox.caPath] };
  relay = await startTestRelay({
    routes: {
      graph: { transport: 'graph', mailbox: DEMO.relay.address, credentials: app, endpoint: t.sandbox.urls.graph, ca: [t.sandbox.caPath] },
      // The applications' envelope senders are their own; the mailbox may only send as itself.
      oauth: { transport: 'smtp-oauth', mailbox: DEMO.relay.address, credentials: app, ...submission, sender: { rewriteEnvelope: true } },
      basic: { transport: 'smtp-basic', mailbox: DEMO.relay.address, password: DEMO.relay.password, ...submission, sender: { rewriteEnvelope: true } },
      direct: { transport: 'direct-send', ...mx },
      connector: { transport: 'connector', ...mx, certificate: await clientCertificateFiles(t, 'relay.contoso.example') },
      split: { transport: 'graph', mailbox: DEMO.relay.address, credentials: app, endpoint: t.sandbox.urls.graph, ca: [t.sandbox.caPath], pacing: { recipientsPerMessage: 2 } },
    },
    routing: {
      default: 'graph',
      rules: [
        { senderDomains: ['oauth.app.test'], route: 'oauth' },
        { senderDomains: ['split.app.test'], route: 'split' },
        { senderDomains: ['basic.app.test'], route: 'basic' },
        // Direct Send for the tenant's own senders and recipients; the connector for the rest of their mail.
        { senderDomains: [DEMO.domain], recipientDomains: [DEMO.domain], route: 'direct' },
        { senderDomains: [DEMO.domain], route: 'connector' },
      ],
    },
  });
});
afterAll(async () => {
  await relay?.stop();
  await t?.stop();
});

async function send(via: string, to: string) {
  const subject = `through ${via}`;
  const from = via === 'graph' ? 'erp@graph.app.test' : `erp@${via}.app.test`;
  const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, tls: { rejectUnauthorized: false }, logger: false });
  try {
    const info = await client.sendMail({
      envelope: { from: via === 'direct' || via === 'connector' ? DEMO.relay.address : from, to: [to] },
      raw: `From: ${DEMO.relay.address}\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nSent by the relay365 end-to-end test.\r\n`,
    });
    return { id: /queued as (\S+)/.exec(String(info.response))?.[1] as string, subject };
  } finally {
    client.close();
  }
}

describe('delivery into Microsoft 365, every transport', () => {
  it.each([
    ['graph', DEMO.alice.address],
    ['oauth', DEMO.alice.address],
    ['basic', DEMO.bob.address],
    ['direct', DEMO.bob.address],
    ['connector', 'partner@fabrikam.example'],
  ])('%s delivers to %s', async (via, to) => {
    const { id, subject } = await send(via, to);
    await until(async () => (await relay.relay.store.get(id))?.state === 'delivered', 15_000, () => `${id} through ${via} was not delivered`);
    const message = (await relay.relay.store.get(id))!;
    expect(message.recipientDetails[0]?.route).toBe(via);
    if (to.endsWith('@fabrikam.example')) {
      const entry = await t.sandbox.mailboxes.waitFor((e) => e.mailbox === 'internet' && e.subject === subject, { timeoutMs: 5000 });
      expect((await t.sandbox.mailboxes.readRaw(entry.id))?.toString()).toContain('Sent by the relay365 end-to-end test.');
    } else {
      expect(await received(t, to, subject)).toContain('Sent by the relay365 end-to-end test.');
    }
  });

  it('sends a long recipient list as several submissions of the same message', async () => {
    const to = [DEMO.alice.address, DEMO.bob.address, DEMO.relay.address, 'noreply@contoso.example', 'a.smith@contoso.example'];
    const before = t.sandbox.events.list({ endpoint: 'graph' }).filter((e) => /sendMail/.test(String(e.action))).length;
    const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, tls: { rejectUnauthorized: false }, logger: false });
    const info = await client.sendMail({ envelope: { from: 'erp@split.app.test', to }, raw: `From: ${DEMO.relay.address}\r\nTo: ${to.join(', ')}\r\nSubject: split\r\n\r\nFive recipients, two per submission.\r\n` });
    client.close();
    const id = /queued as (\S+)/.exec(String(info.response))?.[1] as string;
    await until(async () => (await relay.relay.store.get(id))?.state === 'delivered', 15_000, () => `${id} was not delivered`);
    const sends = t.sandbox.events.list({ endpoint: 'graph' }).filter((e) => /sendMail/.test(String(e.action))).length - before;
    expect(sends).toBe(3);
    for (const mailbox of [DEMO.alice.address, DEMO.bob.address]) expect(await received(t, mailbox, 'split')).toContain('Five recipients');
  });

  it('shows each route active', async () => {
    const statuses = await relay.relay.store.routeStatuses();
    expect(statuses.filter((s) => s.state !== 'active')).toEqual([]);
    expect(statuses.map((s) => s.name).sort()).toEqual(['basic', 'connector', 'direct', 'graph', 'oauth', 'split']);
  });
});

describe('hand-overs go through the other route’s gate', () => {
  it('holds recipients handed to a broken fallback route, and only that route', async () => {
    const mx = { domain: DEMO.domain, host: '127.0.0.1', port: t.sandbox.ports.mx, ca: [t.sandbox.caPath] };
    const second = await startTestRelay({
      routes: {
        scanner: { transport: 'direct-send', ...mx, fallback: 'm365' },
        m365: { transport: 'smtp-basic', mailbox: DEMO.relay.address, password: 'not-the-password', host: '127.0.0.1', port: t.sandbox.ports.submission, ca: [t.sandbox.caPath] },
      },
      routing: { default: 'scanner' },
      delivery: { poll: '200ms', probe: '1h' },
    });
    try {
      const client = nodemailer.createTransport({ host: '127.0.0.1', port: second.port, tls: { rejectUnauthorized: false }, logger: false });
      const info = await client.sendMail({
        envelope: { from: DEMO.relay.address, to: [DEMO.bob.address, 'partner@fabrikam.example', 'other@fabrikam.example'] },
        raw: `From: ${DEMO.relay.address}\r\nSubject: scan 4711\r\n\r\nscanned\r\n`,
      });
      const id = /queued as (\S+)/.exec(String(info.response))?.[1] as string;
      await until(async () => (await second.relay.store.get(id))?.state === 'held', 10_000, () => `${id} was not held`);
      // A later message for the outside only: not tried, since its fallback route is now held.
      const later = await client.sendMail({ envelope: { from: DEMO.relay.address, to: ['third@fabrikam.example'] }, raw: `Subject: scan 4712\r\n\r\nscanned\r\n` });
      client.close();
      const message = (await second.relay.store.get(id))!;
      expect(message.recipientDetails.map((r) => r.state)).toEqual(['delivered', 'held', 'held']);
      expect(message.recipientDetails[1]?.diagnosis).toMatch(/^Outside the tenant \(contoso\.example\), so sent through the fallback route m365: .*535 5\.7\.139/);
      expect((await second.relay.store.routeStatus('m365')).state).toBe('held');
      expect((await second.relay.store.routeStatus('scanner')).state).toBe('active');
      const laterId = /queued as (\S+)/.exec(String(later.response))?.[1] as string;
      await until(async () => (await second.relay.store.get(laterId))?.state === 'held', 10_000, () => `${laterId} was not held`);
      expect((await second.relay.store.get(laterId))?.recipientDetails[0]?.diagnosis).toMatch(/so sent through the fallback route m365: The route "m365" is held: /);
    } finally {
      await second.stop();
    }
  });
});
