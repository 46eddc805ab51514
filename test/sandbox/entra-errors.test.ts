// Every AADSTS row of M365-FACTS.md, produced by the matching tenant state and seen through the
// real msal-node, plus the raw error JSON Microsoft sends, field for field.
import { CryptoProvider, type PublicClientApplication } from '@azure/msal-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openIdConfiguration } from '../../sandbox/entra/discovery.js';
import { aadstsOf, confidentialClient, DEMO, EXCHANGE_DEFAULT_SCOPE, failureOf, httpsRequest, publicClient, redirectFromConsentPage, SMTP_SEND_SCOPE, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

let t: TestSandbox;
beforeEach(async () => {
  t = await startTestSandbox();
});
afterEach(() => t.stop());

const appOnlyToken = (clientSecret: string = DEMO.appOnly.secret, clientId: string = DEMO.appOnly.clientId, scope = EXCHANGE_DEFAULT_SCOPE) =>
  failureOf(() => confidentialClient(t, { clientId, clientSecret }).acquireTokenByClientCredential({ scopes: [scope] }));

const scopes = [SMTP_SEND_SCOPE];
const redirectUri = DEMO.delegated.redirectUri;

/** Alice signs in to the delegated app through the consent page; msal-node holds her tokens. */
async function aliceSignedIn(pca: PublicClientApplication, options: { mfa?: boolean } = {}) {
  const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
  const url = await pca.getAuthCodeUrl({ scopes, redirectUri, codeChallenge: challenge, codeChallengeMethod: 'S256' });
  const back = await redirectFromConsentPage(t, url, { ...DEMO.alice, ...(options.mfa ? { mfa: true } : {}) });
  return pca.acquireTokenByCode({ code: back.searchParams.get('code')!, scopes, redirectUri, codeVerifier: verifier });
}

describe('the error JSON', () => {
  it('has Microsoft shape and status: 401, error, error_description with trace, correlation and timestamp lines, error_codes, error_uri', async () => {
    const correlation = '0d6a4a33-7bd5-4bcb-a0f2-4e6e0c2b9a11';
    const res = await httpsRequest(t, `${t.sandbox.urls.authority()}/oauth2/v2.0/token?client-request-id=${correlation}`, {
      body: { grant_type: 'client_credentials', client_id: DEMO.appOnly.clientId, client_secret: 'wrong', scope: EXCHANGE_DEFAULT_SCOPE },
    });
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(res.text) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['error', 'error_description', 'error_codes', 'timestamp', 'trace_id', 'correlation_id', 'error_uri']);
    expect(body.error).toBe('invalid_client');
    expect(body.error_codes).toEqual([7000215]);
    expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    expect(body.trace_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(body.correlation_id).toBe(correlation);
    expect(body.error_uri).toBe('https://login.microsoftonline.com/error?code=7000215');
    expect(body.error_description).toBe(
      `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${DEMO.appOnly.clientId}'.` +
        `\r\nTrace ID: ${String(body.trace_id)}\r\nCorrelation ID: ${correlation}\r\nTimestamp: ${String(body.timestamp)}`,
    );
  });

  it('is HTTP 400 for errors other than invalid_client', async () => {
    const res = await httpsRequest(t, `${t.sandbox.urls.authority()}/oauth2/v2.0/token`, {
      body: { grant_type: 'client_credentials', client_id: '00000000-1111-4222-8333-444444444444', client_secret: 'x', scope: EXCHANGE_DEFAULT_SCOPE },
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ error: 'unauthorized_client', error_codes: [700016] });
  });
});

describe('every AADSTS error of the facts table, through msal-node', () => {
  it('AADSTS7000215: wrong secret, and the secret ID sent instead of its value', async () => {
    for (const secret of ['not-the-secret', DEMO.appOnly.secretId]) {
      const err = await appOnlyToken(secret);
      expect(err.errorCode).toBe('invalid_client');
      expect(aadstsOf(err)).toBe('AADSTS7000215');
      expect(err.errorMessage).toContain('not the client secret ID');
    }
  });

  it('AADSTS7000222: the secret has expired', async () => {
    t.sandbox.tenant.update((d) => (d.apps[0]!.secrets[0]!.expires = '2024-01-31'));
    const err = await appOnlyToken();
    expect(err.errorCode).toBe('invalid_client');
    expect(aadstsOf(err)).toBe('AADSTS7000222');
  });

  it('AADSTS700016: the app is not in this tenant', async () => {
    const err = await appOnlyToken('x', 'a1b2c3d4-0000-4000-8000-000000000001');
    expect(err.errorCode).toBe('unauthorized_client');
    expect(aadstsOf(err)).toBe('AADSTS700016');
    expect(err.errorMessage).toContain("was not found in the directory 'Contoso'");
  });

  it('AADSTS90002: the tenant does not exist (the token endpoint says so; discovery fails before it)', async () => {
    const wrongTenant = 'fabrikam.example';
    // Discovery answers 400 with AADSTS90002, which msal-node reports as an unusable authority.
    const discovery = await httpsRequest(t, `${t.sandbox.urls.authority(wrongTenant)}/v2.0/.well-known/openid-configuration`);
    expect(discovery.status).toBe(400);
    expect(JSON.parse(discovery.text)).toMatchObject({ error: 'invalid_request', error_codes: [90002] });
    const viaDiscovery = await failureOf(() =>
      confidentialClient(t, { clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret, tenant: wrongTenant }).acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] }),
    );
    expect(viaDiscovery.errorCode).toBe('endpoints_resolution_error');
    // With the endpoints configured (authorityMetadata), msal-node reaches the token endpoint, which answers AADSTS90002.
    const metadata = JSON.stringify(openIdConfiguration(t.sandbox.urls.origin, wrongTenant));
    const cca = confidentialClient(t, { clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret, tenant: wrongTenant, authorityMetadata: metadata });
    const err = await failureOf(() => cca.acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] }));
    expect(err.errorCode).toBe('invalid_request');
    expect(aadstsOf(err)).toBe('AADSTS90002');
    expect(err.errorMessage).toContain(`Tenant '${wrongTenant}' not found`);
  });

  it('AADSTS65001: no admin consent for the app', async () => {
    t.sandbox.tenant.update((d) => (d.apps[0]!.adminConsent = false));
    const err = await appOnlyToken();
    expect(err.errorCode).toBe('invalid_grant');
    expect(aadstsOf(err)).toBe('AADSTS65001');
  });

  it('AADSTS70011: a scope without /.default for client credentials', async () => {
    const err = await appOnlyToken(DEMO.appOnly.secret, DEMO.appOnly.clientId, 'https://outlook.office365.com/SMTP.SendAsApp');
    expect(err.errorCode).toBe('invalid_scope');
    expect(aadstsOf(err)).toBe('AADSTS70011');
    expect(err.errorMessage).toContain('The scope https://outlook.office365.com/SMTP.SendAsApp is not valid');
  });

  it('AADSTS7000218: neither secret nor assertion, from an app that does not allow public client flows', async () => {
    t.sandbox.tenant.update((d) => (d.apps[1]!.publicClient = false));
    const err = await failureOf(() => aliceSignedIn(publicClient(t, { clientId: DEMO.delegated.clientId })));
    expect(err.errorCode).toBe('invalid_client');
    expect(aadstsOf(err)).toBe('AADSTS7000218');
  });

  it('AADSTS700082: the refresh token was not used for 90 days', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const { account } = await aliceSignedIn(pca);
    t.sandbox.clock.advance(91 * 24 * 3600 * 1000);
    const err = await failureOf(() => pca.acquireTokenSilent({ account: account!, scopes, forceRefresh: true }));
    expect(err.errorCode).toBe('invalid_grant');
    expect(aadstsOf(err)).toBe('AADSTS700082');
  });

  it('AADSTS50173: the grant was revoked (password change) through the sandbox API', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const { account } = await aliceSignedIn(pca);
    const revoked = await httpsRequest(t, `${t.sandbox.urls.api}/users/${DEMO.alice.address}/revoke`, { method: 'POST' });
    expect(revoked.status).toBe(200);
    const err = await failureOf(() => pca.acquireTokenSilent({ account: account!, scopes, forceRefresh: true }));
    expect(err.errorCode).toBe('invalid_grant');
    expect(aadstsOf(err)).toBe('AADSTS50173');
    // Signing in again works.
    await expect(aliceSignedIn(pca)).resolves.toBeTruthy();
  });

  it('AADSTS53003: a Conditional Access policy now blocks the user, at refresh and at sign-in', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const { account } = await aliceSignedIn(pca);
    t.sandbox.tenant.update((d) => (d.mailboxes.find((m) => m.address === DEMO.alice.address)!.conditionalAccessBlocked = true));
    const err = await failureOf(() => pca.acquireTokenSilent({ account: account!, scopes, forceRefresh: true }));
    expect(err.errorCode).toBe('access_denied');
    expect(aadstsOf(err)).toBe('AADSTS53003');
    const url = await pca.getAuthCodeUrl({ scopes, redirectUri });
    const back = await redirectFromConsentPage(t, url, DEMO.alice);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('error_description')).toMatch(/^AADSTS53003: Access has been blocked by Conditional Access policies/);
  });

  it('AADSTS50076: MFA became required since the user signed in without it; a sign-in with MFA passes', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const { account } = await aliceSignedIn(pca);
    t.sandbox.tenant.update((d) => (d.mailboxes.find((m) => m.address === DEMO.alice.address)!.mfaRequired = true));
    const err = await failureOf(() => pca.acquireTokenSilent({ account: account!, scopes, forceRefresh: true }));
    expect(err.errorCode).toBe('invalid_grant');
    expect(aadstsOf(err)).toBe('AADSTS50076');
    const again = await aliceSignedIn(pca, { mfa: true });
    await expect(pca.acquireTokenSilent({ account: again.account!, scopes, forceRefresh: true })).resolves.toBeTruthy();
  });

  it('AADSTS501481: the PKCE code_verifier does not match the challenge', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const { challenge } = await new CryptoProvider().generatePkceCodes();
    const url = await pca.getAuthCodeUrl({ scopes, redirectUri, codeChallenge: challenge, codeChallengeMethod: 'S256' });
    const back = await redirectFromConsentPage(t, url, DEMO.alice);
    const other = await new CryptoProvider().generatePkceCodes();
    const err = await failureOf(() => pca.acquireTokenByCode({ code: back.searchParams.get('code')!, scopes, redirectUri, codeVerifier: other.verifier }));
    expect(err.errorCode).toBe('invalid_grant');
    expect(aadstsOf(err)).toBe('AADSTS501481');
  });
});
