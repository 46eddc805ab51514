// connector against the sandbox's MX endpoint: an inbound connector recognises the relay by IP
// address or by the TLS client certificate it presents (issued by the sandbox CA), and then mail
// may go anywhere; a relay no connector recognises is refused (5.7.64, 5.7.68) and the route is
// held with the connector settings to fix. TLS is required. Banned-IP replies (which no tenant
// state produces) come by fault injection.
import { describe, expect, it } from 'vitest';
import { ConnectorTransport, certificateNames } from '../../src/transports/m365/connector.js';
import { DEMO, useSandbox } from '../helpers/sandbox.js';
import { readFileSync } from 'node:fs';
import { clientCertificateFiles, context, jobFor, only, received, route } from './m365-smtp-helpers.js';

const APP = 'erp@contoso.example';
const PARTNER = 'partner@fabrikam.example';
const t = useSandbox(); // the demo tenant: it has a certificate connector for relay.contoso.example (requireTls)
const { edit } = t;

function connector(extra: Record<string, unknown> = {}): ConnectorTransport {
  const config = route({ transport: 'connector', domain: 'contoso.example', host: '127.0.0.1', port: t.sandbox.ports.mx, ca: [t.sandbox.caPath], ...extra });
  return t.closeAfterTest(new ConnectorTransport('hub', config, context()));
}

const IP_FIX =
  'Get-InboundConnector | Format-List Name,Enabled,SenderIPAddresses,TlsSenderCertificateName,RequireTls shows the connectors. ' +
  'An IP-based connector needs the static public IP address Microsoft sees from this relay: New-InboundConnector -Name "relay365" -ConnectorType OnPremises -SenderDomains * -SenderIPAddresses <this relay\'s public IP address> -RestrictDomainsToIPAddresses $true ' +
  "— or give routes.hub.certificate (key and cert) for a certificate-based connector. SPF for contoso.example: v=spf1 ip4:<this relay's public IP address> include:spf.protection.outlook.com ~all.";

describe('connector', () => {
  it('relays to recipients inside and outside the tenant for a connector that lists its IP address', async () => {
    edit((d) => {
      d.inboundConnectors.push({ name: 'relay365 (by IP)', enabled: true, senderIpAddresses: ['127.0.0.0/8'], requireTls: false });
    });
    const job = jobFor({ from: APP, to: [PARTNER, DEMO.alice.address], body: 'Invoice 90001234.' });
    const result = await connector().deliver(job);
    expect([only(result, 0).verdict, only(result, 1).verdict]).toEqual(['delivered', 'delivered']);
    const outbound = await t.sandbox.mailboxes.waitFor((e) => e.mailbox === 'internet' && e.subject === job.subject);
    expect(outbound).toMatchObject({ via: 'mx', envelope: { rcptTo: [PARTNER] } });
    expect(await received(t, DEMO.alice.address, job.subject)).toContain('Invoice 90001234.');
  });

  it('relays for a TLS client certificate whose name is the connector\'s TlsSenderCertificateName', async () => {
    const certificate = await clientCertificateFiles(t, 'relay.contoso.example');
    expect(certificateNames(readFileSync(certificate.cert))).toEqual(['relay.contoso.example']);
    const job = jobFor({ from: APP, to: [PARTNER] });
    expect(only(await connector({ certificate }).deliver(job)).verdict).toBe('delivered');
    await t.sandbox.mailboxes.waitFor((e) => e.mailbox === 'internet' && e.subject === job.subject);
    const note = t.sandbox.events.list({ endpoint: 'mx' }).filter((e) => e.action === 'STARTTLS').at(-1);
    expect(note?.message).toBe('client certificate for relay.contoso.example');
  });

  it('refuses to start with a certificate whose key is not its own, or a file that cannot be read, naming the key', async () => {
    const one = await clientCertificateFiles(t, 'relay.contoso.example');
    const other = await clientCertificateFiles(t, 'relay.contoso.example');
    // toThrow with a string: the message contains it.
    expect(() => connector({ certificate: { key: other.key, cert: one.cert } })).toThrow(`routes.hub.certificate: ${other.key} and ${one.cert} are not a usable PEM private key and certificate pair: `);
    expect(() => connector({ certificate: { key: '/nonexistent/client.key', cert: one.cert } })).toThrow(/^routes\.hub\.certificate\.key: cannot read \/nonexistent\/client\.key: ENOENT/);
  });

  it('550 5.7.64: a certificate for a name no connector has holds the route, naming the certificate', async () => {
    const certificate = await clientCertificateFiles(t, 'mail.fabrikam.example');
    const result = only(await connector({ certificate }).deliver(jobFor({ from: APP, to: [PARTNER] })));
    expect(result).toMatchObject({ verdict: 'route-broken', reply: { code: 550, enhanced: '5.7.64' } });
    expect(result.diagnosis).toBe(
      "Exchange Online did not attribute this relay to an inbound connector of the tenant, so it refused a recipient outside the tenant (550 5.7.64 TenantAttribution; Relay Access Denied): the client certificate (mail.fabrikam.example) matches no inbound connector's TlsSenderCertificateName.",
    );
    expect(result.fix).toBe(
      'Get-InboundConnector | Format-List Name,Enabled,SenderIPAddresses,TlsSenderCertificateName,RequireTls shows the connectors. ' +
        'A certificate-based connector for this relay: New-InboundConnector -Name "relay365" -ConnectorType OnPremises -SenderDomains * -RequireTls $true -TlsSenderCertificateName mail.fabrikam.example ' +
        '(or Set-InboundConnector -Identity <connector name> -TlsSenderCertificateName mail.fabrikam.example). mail.fabrikam.example must be a domain registered in the tenant, and the certificate must come from a CA Microsoft trusts.',
    );
  });

  it('550 5.7.64: without a certificate and with no connector for its IP address the route is held, with the IP connector and SPF to set up', async () => {
    const result = only(await connector().deliver(jobFor({ from: APP, to: [PARTNER] })));
    expect(result).toMatchObject({ verdict: 'route-broken', reply: { code: 550, enhanced: '5.7.64' } });
    expect(result.diagnosis).toBe(
      "Exchange Online did not attribute this relay to an inbound connector of the tenant, so it refused a recipient outside the tenant (550 5.7.64 TenantAttribution; Relay Access Denied): this relay's public IP address is in no inbound connector's SenderIPAddresses.",
    );
    expect(result.fix).toBe(IP_FIX);
  });

  it('550 5.7.68: with RejectDirectSend an unattributed relay is refused at MAIL — held with the connector fix', async () => {
    edit((d) => {
      d.organization.rejectDirectSend = true;
    });
    const result = only(await connector().deliver(jobFor({ from: APP, to: [DEMO.alice.address] })));
    expect(result).toMatchObject({ verdict: 'route-broken', reply: { code: 550, enhanced: '5.7.68' } });
    expect(result.diagnosis).toBe('Exchange Online did not attribute this relay to an inbound connector, and the tenant rejects Direct Send (550 5.7.68 TenantInboundAttribution).');
    expect(result.fix).toBe(IP_FIX);
  });

  it('sends only over TLS: a failed STARTTLS holds the route instead of falling back to plaintext', async () => {
    t.sandbox.faults.add({ kind: 'reply', endpoint: 'mx', stage: 'STARTTLS', smtp: { code: 454, text: '4.7.0 TLS not available due to local problem' } });
    const job = jobFor({ from: APP, to: [DEMO.alice.address] });
    const result = only(await connector().deliver(job));
    expect(result.verdict).toBe('route-broken');
    expect(result.diagnosis).toMatch(
      new RegExp(`^127\\.0\\.0\\.1:${t.sandbox.ports.mx} did not start TLS \\(it answered STARTTLS with "454 4\\.7\\.0 TLS not available due to local problem \\[.*\\]"\\), and this route sends only over TLS\\.`),
    );
    expect(t.sandbox.mailboxes.list({ mailbox: DEMO.alice.address }).some((e) => e.subject === job.subject)).toBe(false);
  });

  it('550 5.7.606-649 banned sending IP and 550 5.7.708 (fault injection): the route is held, with the delisting portal', async () => {
    t.sandbox.faults.add({
      kind: 'reply',
      endpoint: 'mx',
      stage: 'MAIL',
      smtp: { code: 550, text: '5.7.606 Access denied, banned sending IP [203.0.113.7]; To request removal from this list please visit https://sender.office.com/ and follow the directions.' },
    });
    const banned = only(await connector().deliver(jobFor({ from: APP, to: [DEMO.alice.address] })));
    expect(banned).toMatchObject({ verdict: 'route-broken', reply: { code: 550, enhanced: '5.7.606' } });
    expect(banned.diagnosis).toBe("Microsoft has banned this relay's sending IP address 203.0.113.7 (550 5.7.606 banned sending IP).");
    expect(banned.fix).toBe(
      'Ask for delisting at the delisting portal, https://sender.office.com, for 203.0.113.7, after finding out why it was listed (a compromised host, or another sender on a shared address). Until then deliver through smtp-oauth or graph, which do not depend on the sending IP address.',
    );

    t.sandbox.faults.add({ kind: 'reply', endpoint: 'mx', stage: 'MAIL', smtp: { code: 550, text: '5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.' } });
    const refused = only(await connector().deliver(jobFor({ from: APP, to: [DEMO.alice.address] })));
    expect(refused).toMatchObject({ verdict: 'route-broken', reply: { code: 550, enhanced: '5.7.708' } });
    expect(refused.diagnosis).toBe("Exchange Online does not accept traffic from this relay's IP address (550 5.7.708 traffic not accepted from this IP).");
    expect(refused.fix).toBe(
      'Exchange Online judges this address by its reputation; the delisting portal does not handle 5.7.708. Send from another static IP address, ask Microsoft support, or deliver through smtp-oauth or graph.',
    );
  });
});
