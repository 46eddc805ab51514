// The sandbox as a whole: its CA, the JSON API and HTML page, and the seams for Graph and SMTP.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { SandboxStartError, type SandboxService } from '../../sandbox/index.js';
import { MsalNetworkClient } from '../../src/credentials/network-client.js';
import { describe as describeEvent } from '../../sandbox/http-route.js';
import { DEMO, EXCHANGE_DEFAULT_SCOPE, failureOf, httpsRequest, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

describe('PKI', () => {
  it('creates a CA in the data folder on first start, reuses it afterwards, and serves a certificate it signed', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'relay365-pki-'));
    try {
      const first = await startTestSandbox({ dataDir });
      const caPem = first.sandbox.caPem;
      expect(first.sandbox.caPath).toBe(join(dataDir, 'pki', 'ca.crt'));
      expect(await readFile(first.sandbox.caPath, 'utf8')).toBe(caPem);
      const served = await new Promise<X509Certificate>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: first.sandbox.ports.https, servername: 'localhost', ca: caPem }, () => {
          resolve(new X509Certificate(socket.getPeerX509Certificate()!.raw));
          socket.end();
        });
        socket.on('error', reject);
      });
      expect(served.checkIssued(new X509Certificate(caPem))).toBe(true);
      expect(served.checkHost('localhost')).toBe('localhost');
      expect(served.checkIP('127.0.0.1')).toBe('127.0.0.1');
      expect(served.checkIP('::1')).toBe('::1');
      await first.stop();
      const second = await startTestSandbox({ dataDir });
      expect(second.sandbox.caPem).toBe(caPem);
      await second.stop();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('is really verified: msal-node without the sandbox CA cannot connect', async () => {
    const t = await startTestSandbox();
    const untrusting = new MsalNetworkClient();
    try {
      const cca = new ConfidentialClientApplication({
        auth: { clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret, authority: t.sandbox.urls.authority(), knownAuthorities: [t.sandbox.urls.knownAuthority] },
        system: { networkClient: untrusting },
      });
      const err = await failureOf(() => cca.acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] }));
      expect(err.errorCode).toBe('endpoints_resolution_error');
      await expect(untrusting.sendGetRequestAsync(`${t.sandbox.urls.authority()}/v2.0/.well-known/openid-configuration`)).rejects.toMatchObject({ errorCode: 'network_error' });
    } finally {
      untrusting.close();
      await t.stop();
    }
  });

  it('issues client certificates with a domain in CN and SAN, for certificate-based connectors', async () => {
    const t = await startTestSandbox();
    try {
      const issued = await t.sandbox.context.pki.issue({ commonName: 'relay.contoso.example', dnsNames: ['relay.contoso.example'], usage: 'client' });
      const cert = new X509Certificate(issued.certPem);
      expect(cert.subject).toBe('CN=relay.contoso.example');
      expect(cert.subjectAltName).toBe('DNS:relay.contoso.example');
      expect(cert.checkIssued(new X509Certificate(t.sandbox.caPem))).toBe(true);
      expect(issued.sha1Thumbprint).toMatch(/^[0-9A-F]{40}$/);
    } finally {
      await t.stop();
    }
  });
});

describe('sandbox API and page', () => {
  let t: TestSandbox;
  const api = (path: string, init?: Parameters<typeof httpsRequest>[2]) => httpsRequest(t, `${t.sandbox.urls.api}${path}`, init);
  const json = (init: { method: string; body: unknown }) => ({ method: init.method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(init.body) });
  beforeAll(async () => {
    t = await startTestSandbox();
    await t.sandbox.mailboxes.deliver({
      raw: 'From: relay@contoso.example\r\nTo: alice@contoso.example\r\nSubject: Invoice <42> & more\r\n\r\nPlease pay.\r\n',
      envelope: { mailFrom: 'relay@contoso.example', rcptTo: [DEMO.alice.address] },
      via: 'submission',
    });
  });
  afterAll(() => t.stop());

  it('describes itself: authority, known authority, CA path', async () => {
    const body = JSON.parse((await api('')).text);
    expect(body).toMatchObject({ tenantId: DEMO.tenantId, caPath: t.sandbox.caPath, knownAuthorities: [t.sandbox.urls.knownAuthority] });
    expect(body.urls.authority).toBe(`https://localhost:${t.sandbox.ports.https}/${DEMO.tenantId}`);
  });

  it('lists mailboxes and messages, returns a message and its raw .eml, and deletes it', async () => {
    const mailboxes = JSON.parse((await api('/mailboxes')).text).mailboxes as Array<{ address: string; messages: number }>;
    expect(mailboxes.find((m) => m.address === DEMO.alice.address)?.messages).toBe(1);
    const [message] = JSON.parse((await api(`/messages?mailbox=${DEMO.alice.address}`)).text).messages as Array<{ id: string; subject: string }>;
    expect(message?.subject).toBe('Invoice <42> & more');
    expect(JSON.parse((await api(`/messages/${message!.id}`)).text)).toMatchObject({ folder: 'Inbox', via: 'submission' });
    const raw = await api(`/messages/${message!.id}/raw`);
    expect(raw.headers['content-type']).toBe('message/rfc822');
    expect(raw.text).toContain('Please pay.');
    expect((await api(`/messages/${message!.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(JSON.parse((await api('/messages/nope')).text)).toMatchObject({ error: { code: 'message_not_found' } });
    await t.sandbox.mailboxes.deliver({ raw: 'Subject: Invoice <42> & more\r\n\r\nx\r\n', envelope: { mailFrom: 'x@gmail.example', rcptTo: [DEMO.alice.address] }, via: 'mx' });
  });

  it('replaces and patches the tenant, refusing an invalid one with the reason', async () => {
    const tenant = JSON.parse((await api('/tenant')).text);
    expect(tenant.tenantId).toBe(DEMO.tenantId);
    const invalid = await api('/tenant', json({ method: 'PUT', body: { ...tenant, domains: [] } }));
    expect(invalid.status).toBe(400);
    expect(JSON.parse(invalid.text).error.code).toBe('tenant_invalid');
    const patched = await api(`/tenant/mailboxes/${DEMO.bob.address}`, json({ method: 'PATCH', body: { smtpClientAuthenticationDisabled: false } }));
    expect(patched.status).toBe(200);
    expect(t.sandbox.tenant.current.mailboxes.find((m) => m.address === DEMO.bob.address)?.smtpClientAuthenticationDisabled).toBe(false);
    expect((await api('/tenant/organization', json({ method: 'PATCH', body: { rejectDirectSend: true } }))).status).toBe(200);
    expect(t.sandbox.tenant.current.organization.rejectDirectSend).toBe(true);
    expect((await api(`/tenant/apps/${DEMO.appOnly.clientId}`, json({ method: 'PATCH', body: { adminConsent: false } }))).status).toBe(200);
    expect(t.sandbox.tenant.current.apps[0]?.adminConsent).toBe(false);
    expect((await api('/tenant', json({ method: 'PUT', body: tenant }))).status).toBe(200);
    expect(t.sandbox.tenant.current.organization.rejectDirectSend).toBe(false);
  });

  it('moves the clock forward only', async () => {
    expect(JSON.parse((await api('/clock', json({ method: 'POST', body: { advanceSeconds: 60 } }))).text).offsetMs).toBe(60_000);
    expect((await api('/clock', json({ method: 'POST', body: { advanceSeconds: -1 } }))).status).toBe(400);
  });

  it('renders the page with mailboxes, messages and events, escaping what it shows', async () => {
    await httpsRequest(t, `${t.sandbox.urls.authority()}/v2.0/.well-known/openid-configuration`);
    const page = await httpsRequest(t, t.sandbox.urls.page);
    expect(page.status).toBe(200);
    expect(page.text).toContain(DEMO.alice.address);
    expect(page.text).toContain('Invoice &lt;42&gt; &amp; more');
    expect(page.text).toContain('openid-configuration');
    expect(page.text).not.toMatch(/<script|<link/);
    const events = JSON.parse((await api('/events?endpoint=discovery')).text).events as unknown[];
    expect(events.length).toBeGreaterThan(0);
  });
});

describe('seams for the Graph and SMTP servers', () => {
  it('serves an extra HTTPS plugin with fault injection and event logging done for it', async () => {
    const t = await startTestSandbox({
      httpPlugins: [
        async (app) => {
          app.post('/graph/v1.0/users/:id/seamProbe', { config: { endpoint: 'graph' } }, async (request, reply) => {
            describeEvent(request, { action: 'seamProbe', mailbox: (request.params as { id: string }).id });
            return reply.code(202).send();
          });
        },
      ],
    });
    try {
      // Not sendMail: the built-in Graph plugin serves that route, and Fastify refuses it twice.
      const url = `${t.sandbox.urls.graph}/v1.0/users/${DEMO.alice.address}/seamProbe`;
      expect((await httpsRequest(t, url, { method: 'POST' })).status).toBe(202);
      t.sandbox.faults.add({ kind: 'reply', endpoint: 'graph', http: { status: 503, body: { error: { code: 'ServiceUnavailable', message: 'x' } } } });
      const faulted = await httpsRequest(t, url, { method: 'POST' });
      expect(faulted.status).toBe(503);
      expect(JSON.parse(faulted.text).error.code).toBe('ServiceUnavailable');
      expect(t.sandbox.events.list({ endpoint: 'graph' }).map((e) => `${e.action} ${e.outcome} ${e.status}`)).toEqual(['seamProbe ok 202', `POST /graph/v1.0/users/${DEMO.alice.address}/seamProbe fault 503`]);
    } finally {
      await t.stop();
    }
  });

  it('starts services with the shared context, reports their ports, and stops them', async () => {
    const calls: string[] = [];
    const fakeSmtp: SandboxService = {
      name: 'fake smtp',
      async start(ctx) {
        calls.push(`start ${ctx.tenant.current.tenantId} ${ctx.urls.knownAuthority}`);
        return { ports: { submission: 2587, mx: 2525 }, stop: async () => void calls.push('stop') };
      },
    };
    const t = await startTestSandbox({ services: [fakeSmtp] });
    expect(t.sandbox.ports).toMatchObject({ submission: 2587, mx: 2525 });
    await t.stop();
    expect(calls).toEqual([`start ${DEMO.tenantId} ${t.sandbox.urls.knownAuthority}`, 'stop']);
  });

  it('refuses to start with an invalid tenant, saying why', async () => {
    const err = await startTestSandbox({ tenant: { tenantId: 'x', domains: [] } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxStartError);
    expect((err as SandboxStartError).code).toBe('tenant_invalid');
  });
});
