// Expiry awareness: a client secret's configured expiry and a certificate's own (read from the
// certificate) become warnings 30 and 7 days before — in the log (once, then when the level rises
// or a day has passed), in credentialExpiries() for metrics and the console, and at start-up of
// the route's token provider.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { issueCertificate } from '../../sandbox/pki/certificates.js';
import { createAppTokenProvider } from '../../src/credentials/app-token.js';
import { credentialExpiries, expiryOf, ExpiryWatch } from '../../src/credentials/expiry.js';
import type { CredentialsConfig } from '../../src/config/routes.js';
import { tempDir } from '../helpers/relay.js';
import { DEMO } from '../helpers/sandbox.js';
import { capturedLog } from './helpers.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T00:00:00Z');
const day = (offset: number) => new Date(NOW + offset * DAY).toISOString().slice(0, 10);
const secret = (expires: string) => ({ clientId: DEMO.appOnly.clientId, clientSecret: 'a-secret-value', secretExpires: expires });

async function certificateValidFor(days: number) {
  const issued = await issueCertificate('self-signed', { commonName: 'relay365 app', usage: 'client', keyType: 'rsa', validDays: days, notBefore: new Date(Date.now() - 60_000) });
  const dir = tempDir();
  const files = { key: join(dir, 'app.key'), cert: join(dir, 'app.crt') };
  writeFileSync(files.key, issued.keyPem, { mode: 0o600 });
  writeFileSync(files.cert, issued.certPem);
  return files;
}

describe('expiryOf', () => {
  it('says nothing 30 days or more ahead, warns inside 30 and 7 days, and says expired after', () => {
    expect(expiryOf('m365', secret(day(40)), NOW)).toMatchObject({ kind: 'secret', level: 'ok', warning: null, daysLeft: 40, key: 'routes.m365.credentials.clientSecret' });
    expect(expiryOf('m365', secret(day(20)), NOW)).toMatchObject({ level: 'in-30-days', daysLeft: 20 });
    expect(expiryOf('m365', secret(day(5)), NOW)).toMatchObject({ level: 'in-7-days', daysLeft: 5 });
    expect(expiryOf('m365', secret(day(-1)), NOW)).toMatchObject({ level: 'expired' });
    expect(expiryOf('m365', secret(day(20)), NOW)!.warning).toBe(
      `The client secret of app ${DEMO.appOnly.clientId} (routes.m365.credentials.clientSecret) expires on ${day(20)}, in 20 days; then route m365 stops delivering. ` +
        'Before then: create a new client secret (Entra admin center > App registrations > the app > Certificates & secrets), put its Value into routes.m365.credentials.clientSecret and its expiry into routes.m365.credentials.secretExpires, and restart relay365.',
    );
    expect(expiryOf('m365', secret(day(-1)), NOW)!.warning).toContain(`expired on ${day(-1)}: Entra ID refuses it and route m365 delivers nothing`);
  });

  it("reads a certificate's expiry from the certificate itself", async () => {
    const cert = await certificateValidFor(6);
    const found = expiryOf('m365', { clientId: DEMO.appOnly.clientId, certificate: cert });
    expect(found).toMatchObject({ kind: 'certificate', level: 'in-7-days', key: 'routes.m365.credentials.certificate' });
    expect(found!.warning).toContain('The certificate of app');
    expect(found!.warning).toContain('upload a new certificate to the app registration');
  });

  it('has nothing to say without an expiry date, and credentialExpiries lists every OAuth route that has one', () => {
    expect(expiryOf('m365', { clientId: 'x', clientSecret: 's' })).toBeNull();
    const routes = {
      soon: { transport: 'graph', mailbox: 'a@b.example', credentials: { ...secret(day(3)), tenant: 't' } },
      later: { transport: 'smtp-oauth', mailbox: 'a@b.example', credentials: { ...secret(day(300)), tenant: 't' } },
      none: { transport: 'smtp-oauth', mailbox: 'a@b.example', credentials: { clientId: 'x', clientSecret: 's', tenant: 't' } },
      other: { transport: 'capture' },
    };
    const list = credentialExpiries({ routes } as never, NOW);
    expect(list.map((e) => [e.route, e.level])).toEqual([
      ['soon', 'in-7-days'],
      ['later', 'ok'],
    ]);
  });
});

describe('ExpiryWatch', () => {
  it('logs at start, again only when the level rises or a day has passed', () => {
    const captured = capturedLog();
    let now = NOW;
    const watch = new ExpiryWatch('m365', secret(day(10)), captured.log, () => now);
    watch.check();
    now += 3_600_000;
    watch.check(); // an hour later, same level: quiet
    now = NOW + 4 * DAY; // 6 days left: the 7-day warning
    watch.check();
    now += DAY + 1; // a day later: said again
    watch.check();
    const lines = captured.lines().map((l) => [l.level, l.daysLeft]);
    expect(lines).toEqual([
      [40, 10],
      [50, 6],
      [50, 4],
    ]);
  });

  it("the app-only provider warns when it starts, with the route's values", () => {
    const captured = capturedLog();
    const provider = createAppTokenProvider(
      { tenant: DEMO.tenantId, clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret, secretExpires: new Date(Date.now() + 3 * DAY).toISOString().slice(0, 10), authorityHost: 'https://login.microsoftonline.com', graceTime: 30_000 } as CredentialsConfig,
      { scopes: ['https://graph.microsoft.com/.default'], extraCa: [], log: captured.log, route: 'm365' },
    );
    provider.close();
    const warning = captured.lines().find((l) => typeof l.msg === 'string' && l.msg.startsWith('The client secret of app'));
    expect(warning).toMatchObject({ level: 50, route: 'm365', credential: 'secret' });
    expect(captured.text()).not.toContain(DEMO.appOnly.secret);
  });
});
