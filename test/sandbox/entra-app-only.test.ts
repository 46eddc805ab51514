// App-only tokens (client credentials) from the sandbox's Entra ID, acquired by the real msal-node.
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate } from '../../sandbox/pki/certificates.js';
import { aadstsOf, confidentialClient, DEMO, EXCHANGE_DEFAULT_SCOPE, failureOf, httpsRequest, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

let t: TestSandbox;
beforeAll(async () => {
  t = await startTestSandbox();
});
afterAll(() => t.stop());

const appOnly = () => confidentialClient(t, { clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret });

describe('client credentials with a secret', () => {
  it('gives an Exchange token carrying SMTP.SendAsApp, the tenant, the app and the enterprise application object id', async () => {
    const before = Date.now();
    const result = await appOnly().acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] });
    expect(result?.tokenType).toBe('Bearer');
    const lifetime = (result!.expiresOn!.getTime() - before) / 1000;
    expect(lifetime).toBeGreaterThan(3500);
    expect(lifetime).toBeLessThanOrEqual(3600);
    const claims = decodeJwt(result!.accessToken);
    expect(claims).toMatchObject({
      aud: 'https://outlook.office365.com',
      roles: ['SMTP.SendAsApp'],
      tid: DEMO.tenantId,
      appid: DEMO.appOnly.clientId,
      oid: DEMO.appOnly.servicePrincipalObjectId,
      idtyp: 'app',
      appidacr: '1',
      ver: '1.0',
    });
    expect(claims.scp).toBeUndefined();
  });

  it('gives a Graph token carrying Mail.Send', async () => {
    const result = await appOnly().acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    expect(decodeJwt(result!.accessToken)).toMatchObject({ aud: 'https://graph.microsoft.com', roles: ['Mail.Send', 'Mail.Read'] });
  });

  it('accepts the tenant named by its domain as well as by its id', async () => {
    const cca = confidentialClient(t, { clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret, tenant: DEMO.domain });
    const result = await cca.acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] });
    expect(decodeJwt(result!.accessToken).tid).toBe(DEMO.tenantId);
  });

  it('answers in exactly the fields Microsoft sends', async () => {
    const res = await httpsRequest(t, `${t.sandbox.urls.authority()}/oauth2/v2.0/token`, {
      body: { grant_type: 'client_credentials', client_id: DEMO.appOnly.clientId, client_secret: DEMO.appOnly.secret, scope: EXCHANGE_DEFAULT_SCOPE },
    });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['token_type', 'expires_in', 'ext_expires_in', 'access_token']);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 });
  });
});

describe('tokens verify against the published keys', () => {
  it('finds the JWKS through the OpenID metadata, and the token verifies with it', async () => {
    const token = (await appOnly().acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] }))!.accessToken;
    const metadata = JSON.parse((await httpsRequest(t, `${t.sandbox.urls.authority()}/v2.0/.well-known/openid-configuration`)).text) as { jwks_uri: string; issuer: string; token_endpoint: string };
    expect(new URL(metadata.issuer).host).toBe(t.sandbox.urls.knownAuthority);
    expect(metadata.token_endpoint).toBe(`${t.sandbox.urls.authority()}/oauth2/v2.0/token`);
    const jwks = JSON.parse((await httpsRequest(t, metadata.jwks_uri)).text) as JSONWebKeySet;
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), { audience: 'https://outlook.office365.com', algorithms: ['RS256'] });
    expect(protectedHeader.kid).toBe(jwks.keys[0]?.kid);
    expect(payload.tid).toBe(DEMO.tenantId);
  });
});

describe('client credentials with a certificate (client_assertion)', () => {
  it('accepts an assertion signed with a registered certificate, named by its SHA-1 thumbprint (RS256)', async () => {
    const cert = await issueCertificate('self-signed', { commonName: 'relay365 app credential', usage: 'client', keyType: 'rsa' });
    t.sandbox.tenant.update((d) => d.apps[0]!.certificates.push({ pem: cert.certPem }));
    const cca = confidentialClient(t, { clientId: DEMO.appOnly.clientId, clientCertificate: { thumbprint: cert.sha1Thumbprint, privateKey: cert.keyPem } });
    const result = await cca.acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] });
    expect(decodeJwt(result!.accessToken)).toMatchObject({ appidacr: '2', roles: ['SMTP.SendAsApp'] });
  });

  it('accepts an assertion named by its SHA-256 thumbprint (PS256) with the chain in x5c', async () => {
    const cert = await issueCertificate('self-signed', { commonName: 'relay365 app credential 2', usage: 'client', keyType: 'rsa' });
    t.sandbox.tenant.update((d) => d.apps[0]!.certificates.push({ pem: cert.certPem }));
    const cca = confidentialClient(t, { clientId: DEMO.appOnly.clientId, clientCertificate: { thumbprintSha256: cert.sha256Thumbprint, privateKey: cert.keyPem, x5c: cert.certPem } });
    const result = await cca.acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] });
    expect(decodeJwt(result!.accessToken).appidacr).toBe('2');
  });

  it('refuses a certificate the app registration does not have (AADSTS700027)', async () => {
    const stranger = await issueCertificate('self-signed', { commonName: 'not uploaded', usage: 'client', keyType: 'rsa' });
    const cca = confidentialClient(t, { clientId: DEMO.appOnly.clientId, clientCertificate: { thumbprint: stranger.sha1Thumbprint, privateKey: stranger.keyPem } });
    const err = await failureOf(() => cca.acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] }));
    expect(err.errorCode).toBe('invalid_client');
    expect(aadstsOf(err)).toBe('AADSTS700027');
    expect(err.errorMessage).toContain(stranger.sha1Thumbprint);
  });

  it('refuses an assertion signed with another key than the registered certificate (AADSTS700027, bad signature)', async () => {
    const registered = await issueCertificate('self-signed', { commonName: 'registered', usage: 'client', keyType: 'rsa' });
    const other = await issueCertificate('self-signed', { commonName: 'other key', usage: 'client', keyType: 'rsa' });
    t.sandbox.tenant.update((d) => d.apps[0]!.certificates.push({ pem: registered.certPem }));
    const cca = confidentialClient(t, { clientId: DEMO.appOnly.clientId, clientCertificate: { thumbprint: registered.sha1Thumbprint, privateKey: other.keyPem } });
    const err = await failureOf(() => cca.acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] }));
    expect(aadstsOf(err)).toBe('AADSTS700027');
    expect(err.errorMessage).toContain('invalid signature');
  });
});

describe('verifyAccessToken, as the SMTP and Graph servers call it', () => {
  it('returns the claims of a good token', async () => {
    const token = (await appOnly().acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] }))!.accessToken;
    const check = await t.sandbox.entra.verifyAccessToken(token, { audience: ['https://outlook.office365.com', 'https://outlook.office.com'] });
    expect(check.ok && check.claims.roles).toEqual(['SMTP.SendAsApp']);
  });

  it('says why a token is refused: wrong audience, bad signature, malformed', async () => {
    const token = (await appOnly().acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] }))!.accessToken;
    expect(await t.sandbox.entra.verifyAccessToken(token, { audience: 'https://outlook.office365.com' })).toMatchObject({ ok: false, reason: 'wrong_audience' });
    const [h, p, s] = token.split('.');
    const forged = `${h}.${p}.${s!.slice(0, -4)}${s!.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    expect(await t.sandbox.entra.verifyAccessToken(forged, { audience: 'https://graph.microsoft.com' })).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(await t.sandbox.entra.verifyAccessToken('not.a.token', { audience: 'https://graph.microsoft.com' })).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('says a token expired once sandbox time passes its lifetime and the 5-minute skew', async () => {
    const other = await startTestSandbox();
    try {
      const cca = confidentialClient(other, { clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret });
      const token = (await cca.acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] }))!.accessToken;
      other.sandbox.clock.advance((3599 + 301) * 1000);
      expect(await other.sandbox.entra.verifyAccessToken(token, { audience: 'https://outlook.office365.com' })).toMatchObject({ ok: false, reason: 'expired' });
    } finally {
      await other.stop();
    }
  });

  it('says a token belongs to an unknown tenant when the tenant is no longer the one that issued it', async () => {
    const other = await startTestSandbox();
    try {
      const cca = confidentialClient(other, { clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret });
      const token = (await cca.acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] }))!.accessToken;
      expect(other.sandbox.tenant.update((d) => (d.tenantId = '11111111-2222-4333-8444-555555555555')).ok).toBe(true);
      expect(await other.sandbox.entra.verifyAccessToken(token, { audience: 'https://outlook.office365.com' })).toMatchObject({ ok: false, reason: 'unknown_tenant' });
    } finally {
      await other.stop();
    }
  });
});
