// Delegated tokens (a user signs in) from the sandbox's Entra ID, acquired by the real msal-node:
// authorization code with PKCE through the consent page, refresh with rotation, device code.
import { CryptoProvider, type PublicClientApplication } from '@azure/msal-node';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findMailbox } from '../../sandbox/tenant/accessors.js';
import { aadstsOf, DEMO, failureOf, httpsRequest, publicClient, redirectFromConsentPage, SMTP_SEND_SCOPE, startTestSandbox, submitConsentPage, submitDeviceLogin, type TestSandbox } from '../helpers/sandbox.js';

let t: TestSandbox;
beforeAll(async () => {
  // A 2-minute access token is inside msal-node's 5-minute renewal window: every silent call refreshes.
  t = await startTestSandbox({ entra: { accessTokenLifetimeSeconds: 120, deviceCodeIntervalSeconds: 0.05 } });
});
afterAll(() => t.stop());

const scopes = [SMTP_SEND_SCOPE];
const redirectUri = DEMO.delegated.redirectUri;
const pkce = new CryptoProvider();

/** Signs alice in through the consent page and redeems the code, as an app using msal-node does. */
async function signInAlice(pca: PublicClientApplication) {
  const { verifier, challenge } = await pkce.generatePkceCodes();
  const url = await pca.getAuthCodeUrl({ scopes, redirectUri, codeChallenge: challenge, codeChallengeMethod: 'S256', state: 'state-1' });
  const back = await redirectFromConsentPage(t, url, DEMO.alice);
  return pca.acquireTokenByCode({ code: back.searchParams.get('code')!, scopes, redirectUri, codeVerifier: verifier });
}

describe('authorization code with PKCE, through the consent page', () => {
  it('redirects to the app with a code and the state, and the code redeems for SMTP.Send tokens (S256)', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const { verifier, challenge } = await pkce.generatePkceCodes();
    const url = await pca.getAuthCodeUrl({ scopes, redirectUri, codeChallenge: challenge, codeChallengeMethod: 'S256', state: 'xyz', nonce: 'n-1' });
    const back = await redirectFromConsentPage(t, url, DEMO.alice);
    expect(`${back.origin}${back.pathname}`).toBe(redirectUri);
    expect(back.searchParams.get('state')).toBe('xyz');
    const result = await pca.acquireTokenByCode({ code: back.searchParams.get('code')!, scopes, redirectUri, codeVerifier: verifier, nonce: 'n-1' });
    const alice = findMailbox(t.sandbox.tenant.current, DEMO.alice.address)!;
    expect(decodeJwt(result.accessToken)).toMatchObject({ aud: 'https://outlook.office.com', scp: 'SMTP.Send', upn: DEMO.alice.address, unique_name: DEMO.alice.address, oid: alice.id, tid: DEMO.tenantId, appid: DEMO.delegated.clientId, idtyp: 'user' });
    expect(result.account?.username).toBe(DEMO.alice.address);
    expect(result.account?.homeAccountId).toBe(`${alice.id}.${DEMO.tenantId}`);
    expect(result.idTokenClaims).toMatchObject({ preferred_username: DEMO.alice.address, nonce: 'n-1', aud: DEMO.delegated.clientId });
    expect(result.scopes).toEqual([SMTP_SEND_SCOPE]);
  });

  it('accepts the plain PKCE method', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const verifier = 'a-plain-code-verifier-that-is-long-enough-to-be-valid-0123456789';
    const url = await pca.getAuthCodeUrl({ scopes, redirectUri, codeChallenge: verifier, codeChallengeMethod: 'plain' });
    const back = await redirectFromConsentPage(t, url, DEMO.bob);
    const result = await pca.acquireTokenByCode({ code: back.searchParams.get('code')!, scopes, redirectUri, codeVerifier: verifier });
    expect(decodeJwt(result.accessToken).upn).toBe(DEMO.bob.address);
  });

  it('shows the page again with AADSTS50126 for a wrong password, and sends access_denied back when the user cancels', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const url = await pca.getAuthCodeUrl({ scopes, redirectUri, state: 's' });
    const wrong = await submitConsentPage(t, url, { address: DEMO.alice.address, password: 'nope' });
    expect(wrong.status).toBe(200);
    expect(wrong.text).toContain('AADSTS50126');
    const cancelled = await redirectFromConsentPage(t, url, { ...DEMO.alice, action: 'decline' });
    expect(cancelled.searchParams.get('error')).toBe('access_denied');
    expect(cancelled.searchParams.get('error_description')).toMatch(/^AADSTS65004: /);
    expect(cancelled.searchParams.get('state')).toBe('s');
  });

  it('refuses a redirect URI the app registration does not list, on the page itself (AADSTS50011)', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const url = await pca.getAuthCodeUrl({ scopes, redirectUri: 'http://localhost:9999/elsewhere' });
    const res = await httpsRequest(t, url);
    expect(res.status).toBe(400);
    expect(res.text).toContain('AADSTS50011');
  });

  it('redeems a code only once (AADSTS54005)', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const { verifier, challenge } = await pkce.generatePkceCodes();
    const url = await pca.getAuthCodeUrl({ scopes, redirectUri, codeChallenge: challenge, codeChallengeMethod: 'S256' });
    const code = (await redirectFromConsentPage(t, url, DEMO.alice)).searchParams.get('code')!;
    await pca.acquireTokenByCode({ code, scopes, redirectUri, codeVerifier: verifier });
    const err = await failureOf(() => pca.acquireTokenByCode({ code, scopes, redirectUri, codeVerifier: verifier }));
    expect(aadstsOf(err)).toBe('AADSTS54005');
  });
});

describe('refresh tokens', () => {
  it('refreshes silently when the access token is about to expire, and rotates the refresh token', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const first = await signInAlice(pca);
    const firstRt = refreshTokenIn(pca);
    const since = t.sandbox.events.lastSeq;
    const second = await pca.acquireTokenSilent({ account: first.account!, scopes });
    expect(second.fromCache).toBe(false);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(t.sandbox.events.list({ since, endpoint: 'token' }).map((e) => `${e.action} ${e.outcome}`)).toEqual(['refresh_token ok']);
    const secondRt = refreshTokenIn(pca);
    expect(secondRt).not.toBe(firstRt);
    // The old refresh token died when it was used.
    const reuse = await failureOf(() => publicClient(t, { clientId: DEMO.delegated.clientId }).acquireTokenByRefreshToken({ refreshToken: firstRt, scopes }));
    expect(reuse.errorCode).toBe('invalid_grant');
    expect(aadstsOf(reuse)).toBe('AADSTS70000');
    // The new one works.
    const third = await pca.acquireTokenSilent({ account: first.account!, scopes, forceRefresh: true });
    expect(decodeJwt(third.accessToken).upn).toBe(DEMO.alice.address);
  });
});

describe('device code', () => {
  it('polls authorization_pending until the user approves on the device login page, then gets tokens', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const since = t.sandbox.events.lastSeq;
    let shown = '';
    const result = await pca.acquireTokenByDeviceCode({
      scopes,
      deviceCodeCallback: (r) => {
        shown = r.message;
        // The user reads the code and approves a moment later, while msal-node polls.
        setTimeout(() => void submitDeviceLogin(t, r.userCode, DEMO.bob), 200);
      },
    });
    expect(shown).toContain(t.sandbox.urls.deviceLogin);
    expect(decodeJwt(result!.accessToken)).toMatchObject({ upn: DEMO.bob.address, scp: 'SMTP.Send' });
    const polls = t.sandbox.events.list({ since, endpoint: 'token' });
    expect(polls.some((e) => e.code === 'AADSTS70016')).toBe(true);
    expect(polls.at(-1)?.outcome).toBe('ok');
  });

  it('stops with authorization_declined when the user declines', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const err = await failureOf(() => pca.acquireTokenByDeviceCode({ scopes, deviceCodeCallback: (r) => void submitDeviceLogin(t, r.userCode, { action: 'decline' }) }));
    expect(err.errorCode).toBe('post_request_failed');
    expect(String(err.errorMessage)).toContain('authorization_declined');
  });

  it('stops with expired_token once the user took longer than the code lives', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const err = await failureOf(() => pca.acquireTokenByDeviceCode({ scopes, deviceCodeCallback: () => t.sandbox.clock.advance(16 * 60 * 1000) }));
    expect(String(err.errorMessage)).toContain('expired_token');
  });

  it('answers bad_verification_code (AADSTS70018) for a device code it never issued, and the page rejects a wrong user code', async () => {
    const res = await httpsRequest(t, `${t.sandbox.urls.authority()}/oauth2/v2.0/token`, {
      body: { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', client_id: DEMO.delegated.clientId, device_code: 'never-issued' },
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ error: 'bad_verification_code', error_codes: [70018] });
    const page = await submitDeviceLogin(t, 'WRONGCODE', DEMO.alice);
    expect(page.text).toContain('Check the code and try again');
  });
});

/** The refresh token msal-node holds in its cache. */
function refreshTokenIn(pca: PublicClientApplication): string {
  const cache = JSON.parse(pca.getTokenCache().serialize()) as { RefreshToken: Record<string, { secret: string }> };
  const tokens = Object.values(cache.RefreshToken);
  expect(tokens).toHaveLength(1);
  return tokens[0]!.secret;
}
