// The TLS check against sandboxes whose SMTP endpoints offer TLS the way Microsoft never does:
// only TLS 1.1, a certificate for another name, an expired certificate (sandbox smtp.tls faults).
// And a connector's client certificate for a name outside the route's domain.
import { describe, expect, it } from 'vitest';
import { DEMO, useSandbox } from '../helpers/sandbox.js';
import { clientCertificateFiles } from '../transports/m365-smtp-helpers.js';
import { doctorOn, oauthRoute, only } from './doctor-helpers.js';

describe('TLS below 1.2', () => {
  const t = useSandbox({ options: { smtp: { tls: { maxVersion: 'TLSv1.1' } } } });
  it('fails the TLS check with the version negotiated, and skips SMTP AUTH', async () => {
    const report = await doctorOn(t, { m365: oauthRoute(t) });
    const tls = only(report, 'tls');
    expect(tls.status).toBe('fail');
    expect(tls.detail).toContain('the server negotiated TLSv1.1, below TLS 1.2, which Exchange Online requires (and relay365 refuses)');
    expect(tls.fix).toContain('must allow TLS 1.2');
    expect(only(report, 'smtp-auth')).toMatchObject({ status: 'skip', detail: 'TLS did not pass' });
    expect(report.ok).toBe(false);
  });
});

describe('a certificate for another name', () => {
  const t = useSandbox({ options: { smtp: { tls: { certificate: 'wrong-name' } } } });
  it('fails the TLS check: the certificate is not for the host', async () => {
    const tls = only(await doctorOn(t, { m365: oauthRoute(t) }), 'tls');
    expect(tls.status).toBe('fail');
    expect(tls.detail).toMatch(/^localhost: the certificate is not for localhost \(.*mail\.wrong-name\.example.*\)/);
    expect(tls.fix).toContain('routes.m365.host');
  });
});

describe('an expired certificate', () => {
  const t = useSandbox({ options: { smtp: { tls: { certificate: 'expired' } } } });
  it('fails the TLS check with the expiry date', async () => {
    const tls = only(await doctorOn(t, { m365: oauthRoute(t) }), 'tls');
    expect(tls.status).toBe('fail');
    expect(tls.detail).toMatch(/the certificate expired on \d{4}-\d\d-\d\d/);
  });
});

describe('a connector client certificate', () => {
  const t = useSandbox();
  const connector = (cert: { key: string; cert: string }) => ({ transport: 'connector', domain: DEMO.domain, host: 'localhost', port: t.sandbox.ports.mx, ca: [t.sandbox.caPath], certificate: cert });

  it('for a name under the domain passes, and the session presents it', async () => {
    const report = await doctorOn(t, { relay: connector(await clientCertificateFiles(t, 'relay.contoso.example')) });
    expect(only(report, 'certificate')).toMatchObject({ status: 'pass', detail: expect.stringMatching(/^relay\.contoso\.example, valid until /) });
    expect(only(report, 'smtp-session').status).toBe('pass');
  });

  it('for another domain fails with the connector it would need', async () => {
    const cert = only(await doctorOn(t, { relay: connector(await clientCertificateFiles(t, 'relay.fabrikam.example')) }), 'certificate');
    expect(cert.status).toBe('fail');
    expect(cert.detail).toContain('names relay.fabrikam.example, none of them contoso.example or a name under it');
    expect(cert.fix).toContain('-TlsSenderCertificateName contoso.example');
  });
});
