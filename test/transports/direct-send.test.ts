// direct-send against the sandbox's MX endpoint (<tenant>.mail.protection.outlook.com:25's
// stand-in): tenant mailboxes are reached without signing in, STARTTLS when offered; recipients
// outside the tenant are never attempted — failed at once, or handed to the fallback route; and
// the tenant's refusals (RejectDirectSend 5.7.68, TenantAttribution 5.7.64) are explained.
import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { mxHostFor } from '../../src/transports/m365/mx-host.js';
import { DirectSendTransport } from '../../src/transports/m365/direct-send.js';
import { SmtpBasicTransport } from '../../src/transports/m365/smtp-basic.js';
import type { Transport } from '../../src/transports/transport.js';
import { until } from '../helpers/sink.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { DEMO, useSandbox } from '../helpers/sandbox.js';
import { context, jobFor, only, received, route, withHandOvers } from './m365-smtp-helpers.js';

const SCANNER = 'scanner@contoso.example';
const PARTNER = 'partner@fabrikam.example';
const t = useSandbox({
  tenant: (d) => {
    d.organization.basicAuthAllowed = true; // for the smtp-basic fallback route
  },
});
const { edit } = t;

const mxRoute = (extra: Record<string, unknown> = {}) => ({ transport: 'direct-send' as const, domain: 'contoso.example', host: '127.0.0.1', port: t.sandbox.ports.mx, ca: [t.sandbox.caPath], ...extra });
const submissionRoute = () => ({ transport: 'smtp-basic' as const, mailbox: DEMO.relay.address, password: DEMO.relay.password, host: '127.0.0.1', port: t.sandbox.ports.submission, ca: [t.sandbox.caPath] });

function directSend(extra: Record<string, unknown> = {}, others: Record<string, Transport> = {}): DirectSendTransport {
  return t.closeAfterTest(withHandOvers(new DirectSendTransport('scanner', route(mxRoute(extra)), context(others)), others));
}

const mxEvents = () => t.sandbox.events.list({ endpoint: 'mx' });

describe('direct-send', () => {
  it('derives the MX host from the domain as Microsoft publishes it', () => {
    expect(mxHostFor('contoso.com')).toBe('contoso-com.mail.protection.outlook.com');
    expect(mxHostFor('Fabrikam.co.uk.')).toBe('fabrikam-co-uk.mail.protection.outlook.com');
  });

  it('delivers to a tenant mailbox over the MX endpoint without signing in, upgrading with STARTTLS as offered', async () => {
    const job = jobFor({ from: SCANNER, to: [DEMO.alice.address], body: 'Scanned document attached.' });
    const since = mxEvents().at(-1)?.seq ?? 0;
    expect(only(await directSend().deliver(job))).toMatchObject({ verdict: 'delivered', reply: { code: 250, enhanced: '2.0.0' } });
    expect(await received(t, DEMO.alice.address, job.subject)).toContain('Scanned document attached.');
    const session = t.sandbox.events.list({ endpoint: 'mx', since }).map((e) => e.action);
    expect(session).toEqual(expect.arrayContaining(['STARTTLS', 'MAIL FROM', 'RCPT TO', 'DATA']));
    expect(session.some((action) => action.startsWith('AUTH'))).toBe(false);
    expect(t.sandbox.mailboxes.list({ mailbox: DEMO.alice.address }).find((e) => e.subject === job.subject)?.via).toBe('mx');
  });

  it('fails recipients outside the tenant at once, without asking Microsoft, and delivers the others', async () => {
    const since = mxEvents().at(-1)?.seq ?? 0;
    const outsideOnly = await directSend().deliver(jobFor({ from: SCANNER, to: [PARTNER] }));
    expect(t.sandbox.events.list({ endpoint: 'mx', since })).toEqual([]); // not even a connection
    const failed = only(outsideOnly);
    expect(failed).toMatchObject({ verdict: 'permanent', reply: null, retryAt: null });
    expect(failed.diagnosis).toBe('partner@fabrikam.example is outside the tenant (routes.scanner.acceptedDomains: contoso.example), and Direct Send only reaches mailboxes in the tenant; relay365 did not try it.');
    expect(failed.fix).toBe(
      'To reach recipients outside the tenant, set routes.scanner.fallback to an smtp-oauth, graph or connector route. If fabrikam.example is an accepted domain of the tenant, add it to routes.scanner.acceptedDomains.',
    );

    const mixed = jobFor({ from: SCANNER, to: [DEMO.bob.address, PARTNER] });
    const result = await directSend().deliver(mixed);
    expect(only(result, 0).verdict).toBe('delivered');
    expect(only(result, 1)).toEqual(failed);
    expect(t.sandbox.events.list({ endpoint: 'mx', since }).filter((e) => e.action === 'RCPT TO').map((e) => e.status)).toEqual([250]);
    await received(t, DEMO.bob.address, mixed.subject);
  });

  it('hands recipients outside the tenant to the fallback route and reports its outcome for them', async () => {
    const fallback = t.closeAfterTest(new SmtpBasicTransport('m365', route(submissionRoute()), context()));
    const job = jobFor({ from: DEMO.relay.address, to: [DEMO.alice.address, PARTNER] });
    const result = await directSend({ fallback: 'm365' }, { m365: fallback }).deliver(job);
    expect(only(result, 0)).toMatchObject({ verdict: 'delivered', diagnosis: `127.0.0.1:${t.sandbox.ports.mx} accepted the message.` });
    expect(only(result, 1)).toMatchObject({
      verdict: 'delivered',
      diagnosis: `Outside the tenant (contoso.example), so sent through the fallback route m365: 127.0.0.1:${t.sandbox.ports.submission} accepted the message.`,
    });
    const outbound = await t.sandbox.mailboxes.waitFor((e) => e.mailbox === 'internet' && e.subject === job.subject);
    expect(outbound).toMatchObject({ via: 'submission', envelope: { rcptTo: [PARTNER] } });
    await received(t, DEMO.alice.address, job.subject);
  });

  it('holds outside recipients when the fallback route is not there', async () => {
    const result = only(await directSend({ fallback: 'm365' }).deliver(jobFor({ from: SCANNER, to: [PARTNER] })));
    expect(result.verdict).toBe('route-broken');
    expect(result.diagnosis).toBe('routes.scanner.fallback names the route "m365", which is not configured, so recipients outside the tenant (contoso.example) cannot be delivered.');
    expect(result.fix).toBe('Add a route named m365 (smtp-oauth, graph or connector), or correct routes.scanner.fallback.');
  });

  it('550 5.7.68 RejectDirectSend holds the route; the fix names the connector and the risky switch', async () => {
    edit((d) => {
      d.organization.rejectDirectSend = true;
    });
    const result = only(await directSend().deliver(jobFor({ from: SCANNER, to: [DEMO.alice.address] })));
    expect(result).toMatchObject({ verdict: 'route-broken', reply: { code: 550, enhanced: '5.7.68' } });
    expect(result.diagnosis).toBe(
      'The tenant rejects Direct Send (Set-OrganizationConfig -RejectDirectSend $true; 550 5.7.68 TenantInboundAttribution): mail from its own domains must come through a connector or a signed-in mailbox.',
    );
    expect(result.fix).toBe(
      'Send through a relay connector instead (transport: connector, with a certificate- or IP-based inbound connector), or through smtp-oauth or graph. Only if you accept the risk: Set-OrganizationConfig -RejectDirectSend $false — it lets anyone on the internet send mail as contoso.example to your users again, the spoofing RejectDirectSend stops.',
    );
  });

  it('550 5.7.64 TenantAttribution: a domain wrongly listed as accepted fails its recipient for good', async () => {
    const result = await directSend({ acceptedDomains: ['contoso.example', 'fabrikam.example'] }).deliver(jobFor({ from: SCANNER, to: [DEMO.alice.address, PARTNER] }));
    expect(only(result, 0).verdict).toBe('delivered');
    const refused = only(result, 1);
    expect(refused).toMatchObject({ verdict: 'permanent', reply: { code: 550, enhanced: '5.7.64' } });
    expect(refused.diagnosis).toBe('partner@fabrikam.example is outside the tenant, and Direct Send only reaches mailboxes in the tenant (550 5.7.64 TenantAttribution; Relay Access Denied).');
    expect(refused.fix).toBe(
      'Direct Send cannot reach it. If fabrikam.example is not an accepted domain of the tenant, remove it from routes.scanner.acceptedDomains; to reach outside recipients, set routes.scanner.fallback to an smtp-oauth, graph or connector route.',
    );
  });

  it('still delivers in plaintext when the MX endpoint offers STARTTLS but fails it (opportunistic TLS)', async () => {
    t.sandbox.faults.add({ kind: 'reply', endpoint: 'mx', stage: 'STARTTLS', smtp: { code: 454, text: '4.7.0 TLS not available due to local problem' } });
    const job = jobFor({ from: SCANNER, to: [DEMO.alice.address] });
    expect(only(await directSend().deliver(job)).verdict).toBe('delivered');
    await received(t, DEMO.alice.address, job.subject);
  });

  it('through a running relay: tenant recipients by Direct Send, the outside one by the fallback route', async () => {
    let relay: TestRelay | undefined;
    try {
      relay = await startTestRelay({ routes: { scanner: mxRoute({ fallback: 'm365' }), m365: submissionRoute() }, routing: { default: 'scanner' } });
      const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, tls: { rejectUnauthorized: false }, logger: false });
      const info = await client.sendMail({ envelope: { from: DEMO.relay.address, to: [DEMO.bob.address, PARTNER] }, raw: `From: ${DEMO.relay.address}\r\nTo: ${DEMO.bob.address}, ${PARTNER}\r\nSubject: Goods receipt 5000123\r\n\r\nPosted.\r\n` });
      client.close();
      const id = /queued as (\S+)/.exec(String(info.response))?.[1] as string;
      await until(async () => (await relay!.relay.store.get(id))?.state === 'delivered', 10_000, () => `${id} was not delivered`);
      const message = (await relay.relay.store.get(id))!;
      expect(message.recipientDetails.map((r) => r.diagnosis)).toEqual([
        `127.0.0.1:${t.sandbox.ports.mx} accepted the message.`,
        `Outside the tenant (contoso.example), so sent through the fallback route m365: 127.0.0.1:${t.sandbox.ports.submission} accepted the message.`,
      ]);
      await received(t, DEMO.bob.address, 'Goods receipt 5000123');
      await t.sandbox.mailboxes.waitFor((e) => e.mailbox === 'internet' && e.subject === 'Goods receipt 5000123');
    } finally {
      await relay?.stop();
    }
  });
});
