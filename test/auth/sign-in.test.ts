// Delegated sign-in through the module API the CLI and (later) the console use: authorization
// code + PKCE driven through the sandbox's consent page over HTTP, device code approved on its
// device login page, the result stored sealed in the store, and the route's provider then sending
// the signed-in user's tokens.
import { decodeJwt } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { createDelegatedTokenProvider } from '../../src/credentials/delegated-token.js';
import { finishThroughLoopback } from '../../src/credentials/loopback.js';
import { routeSignIn } from '../../src/credentials/sign-in.js';
import { openSignIn } from '../../src/credentials/token-cache.js';
import { TokenError } from '../../src/credentials/token.js';
import { tempDir } from '../helpers/relay.js';
import { until } from '../helpers/sink.js';
import { DEMO, redirectFromConsentPage, useSandbox } from '../helpers/sandbox.js';
import { ALICE, BOB, browserSignIn, delegatedRoute, delegatedTenant, deviceCodeSignIn, freePort, graphRouteConfig, relayPlace, silent, smtpRouteConfig, type RelayPlace } from './helpers.js';

const t = useSandbox({ tenant: delegatedTenant(), options: { entra: { deviceCodeIntervalSeconds: 0.05 } } });
let place: RelayPlace | undefined;
afterEach(async () => {
  await place?.close();
  place = undefined;
});

function open(routes: Record<string, unknown> = { alice: smtpRouteConfig(t) }): RelayPlace {
  place = relayPlace(tempDir(), { routes, routing: { default: Object.keys(routes)[0] } });
  return place;
}

describe('browser sign-in (authorization code + PKCE) through the consent page', () => {
  it("asks for SMTP.Send with offline_access, a S256 code challenge and the route's mailbox as login hint", async () => {
    const p = open();
    const signIn = routeSignIn(delegatedRoute(p.config, 'alice'), { store: p.store, key: p.key, log: silent });
    const pending = await signIn.browser();
    signIn.close();
    const url = new URL(pending.url);
    expect(`${url.origin}${url.pathname}`).toBe(`${t.sandbox.urls.authority()}/oauth2/v2.0/authorize`);
    expect(url.searchParams.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['https://outlook.office.com/SMTP.Send', 'offline_access']));
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('redirect_uri')).toBe('http://localhost:3017/');
    expect(url.searchParams.get('login_hint')).toBe(ALICE);
    expect(pending.redirectUri).toBe('http://localhost:3017/');
  });

  it('stores the sign-in sealed in the store: account, refresh token, no token readable in the row', async () => {
    const p = open();
    const since = t.sandbox.events.lastSeq;
    const done = await browserSignIn(t, p, 'alice', DEMO.alice);
    expect(done).toMatchObject({ route: 'alice', account: ALICE, flow: 'browser', warning: null });
    expect(done.scopes).toContain('https://outlook.office.com/SMTP.Send');
    expect(t.sandbox.events.list({ since, endpoint: 'token' }).map((e) => `${e.action} ${e.outcome}`)).toEqual(['authorization_code ok']);

    const row = (await p.store.loadTokenCache('alice'))!;
    expect(row.version).toBe(1);
    expect(row.data).toMatch(new RegExp(`^${p.key.keyId}:[A-Za-z0-9_-]+$`));
    const record = openSignIn(p.key, row);
    expect(record).toMatchObject({ v: 1, flow: 'browser' });
    const cache = JSON.parse(record.msal) as { Account: Record<string, { username: string }>; RefreshToken: Record<string, { secret: string }>; AccessToken: Record<string, { secret: string }> };
    expect(Object.values(cache.Account).map((a) => a.username)).toEqual([ALICE]);
    expect(Object.keys(cache.RefreshToken)).toHaveLength(1);
    // Sealed: none of the tokens inside, in any part of the row (the row is base64url, so a
    // pattern match on its random text would fail by chance; the tokens themselves cannot).
    const tokens = [...Object.values(cache.RefreshToken), ...Object.values(cache.AccessToken)].map((tk) => tk.secret);
    expect(tokens.length).toBeGreaterThan(1);
    for (const token of tokens) {
      expect(token.length).toBeGreaterThan(20);
      expect(row.data.includes(token.slice(0, 20))).toBe(false);
    }
  });

  it("the route's provider then sends alice's tokens (scp SMTP.Send), read from the store", async () => {
    const p = open();
    await browserSignIn(t, p, 'alice', DEMO.alice);
    const provider = createDelegatedTokenProvider(delegatedRoute(p.config, 'alice'), { store: p.store, key: p.key, log: silent });
    try {
      const token = await provider.getToken();
      expect(decodeJwt(token.token)).toMatchObject({ upn: ALICE, scp: 'SMTP.Send', aud: 'https://outlook.office.com', appid: DEMO.delegated.clientId });
      expect(token.expiresAt).toBeGreaterThan(Date.now() + 30 * 60_000);
    } finally {
      provider.close();
    }
  });

  it('signs a graph route in for Mail.Send', async () => {
    const p = open({ mail: graphRouteConfig(t) });
    const done = await browserSignIn(t, p, 'mail', DEMO.alice);
    expect(done.scopes).toContain('https://graph.microsoft.com/Mail.Send');
  });

  it('a new sign-in replaces the stored one (another account), and warns when it is not the mailbox', async () => {
    const p = open();
    await browserSignIn(t, p, 'alice', DEMO.alice);
    const bob = await browserSignIn(t, p, 'alice', DEMO.bob);
    expect(bob.account).toBe(BOB);
    expect(bob.warning).toContain(`signed in as ${BOB}, but the route sends as ${ALICE}`);
    const row = (await p.store.loadTokenCache('alice'))!;
    expect(row.version).toBe(2);
    const accounts = Object.values((JSON.parse(openSignIn(p.key, row).msal) as { Account: Record<string, { username: string }> }).Account);
    expect(accounts.map((a) => a.username)).toEqual([BOB]);
  });

  it('refuses a redirect with another state, and reports a cancelled consent (AADSTS65004) without storing anything', async () => {
    const p = open();
    const signIn = routeSignIn(delegatedRoute(p.config, 'alice'), { store: p.store, key: p.key, log: silent });
    try {
      const pending = await signIn.browser();
      const forged = new URL('http://localhost:3017/?code=abc&state=forged');
      await expect(pending.finish(forged)).rejects.toMatchObject({ error: 'state_mismatch' });
      const declined = await redirectFromConsentPage(t, pending.url, { ...DEMO.alice, action: 'decline' });
      const err = (await pending.finish(declined).catch((e: unknown) => e)) as TokenError;
      expect(err).toBeInstanceOf(TokenError);
      expect(err).toMatchObject({ error: 'access_denied', aadsts: '65004' });
      expect(err.message).toContain('the sign-in was not completed (access_denied): AADSTS65004: User declined to consent');
      expect(await p.store.loadTokenCache('alice')).toBeNull();
    } finally {
      signIn.close();
    }
  });
});

describe('the loopback listener (relay365 auth login in a browser)', () => {
  it('answers a redirect with another state with a 400 page and keeps waiting; its own redirect then signs in', async () => {
    const port = await freePort();
    const redirectUri = `http://localhost:${port}/`;
    t.sandbox.tenant.update((d) => void d.apps.find((a) => a.appId === DEMO.delegated.clientId)!.redirectUris.push(redirectUri));
    const p = open({ alice: smtpRouteConfig(t, ALICE, { redirectUri }) });
    const signIn = routeSignIn(delegatedRoute(p.config, 'alice'), { store: p.store, key: p.key, log: silent });
    try {
      const pending = await signIn.browser();
      const finished = finishThroughLoopback(pending, { timeoutMs: 60_000 });
      let outcome: 'signed in' | 'aborted' | undefined;
      finished.then(() => (outcome = 'signed in'), () => (outcome = 'aborted'));
      let stray: Response | undefined;
      await until(async () => (stray = await fetch(`http://127.0.0.1:${port}/?code=stolen-code&state=forged`).catch(() => undefined)) !== undefined, 10_000, () => 'the loopback listener never answered');
      expect(stray!.status).toBe(400);
      expect(await stray!.text()).toContain('Not this sign-in');
      await new Promise((resolve) => setImmediate(resolve));
      expect(outcome).toBeUndefined(); // still waiting

      const redirect = await redirectFromConsentPage(t, pending.url, DEMO.alice);
      const back = await fetch(`http://127.0.0.1:${port}${redirect.pathname}${redirect.search}`);
      expect(back.status).toBe(200);
      expect(await back.text()).toContain('Signed in');
      expect(await finished).toMatchObject({ route: 'alice', account: ALICE, flow: 'browser' });
      expect(openSignIn(p.key, (await p.store.loadTokenCache('alice'))!).flow).toBe('browser');
    } finally {
      signIn.close();
    }
  });
});

describe('device code sign-in', () => {
  it('prints the code and the page, waits while the test approves it as bob, and stores the sign-in', async () => {
    const p = open({ bob: smtpRouteConfig(t, BOB) });
    const shown: string[] = [];
    const signIn = routeSignIn(delegatedRoute(p.config, 'bob'), { store: p.store, key: p.key, log: silent });
    try {
      const done = await signIn.deviceCode({
        onPrompt: (prompt) => {
          shown.push(prompt.message, prompt.verificationUri, prompt.userCode);
          expect(prompt.expiresAt).toBeGreaterThan(Date.now() + 14 * 60_000); // the user has 15 minutes
          setTimeout(() => void import('../helpers/sandbox.js').then((h) => h.submitDeviceLogin(t, prompt.userCode, DEMO.bob)), 100);
        },
      });
      expect(done).toMatchObject({ account: BOB, flow: 'device-code', warning: null });
      expect(shown[0]).toContain(t.sandbox.urls.deviceLogin);
      expect(shown[0]).toContain(shown[2]);
      expect(openSignIn(p.key, (await p.store.loadTokenCache('bob'))!).flow).toBe('device-code');
    } finally {
      signIn.close();
    }
  });

  it('stops when the user declines, and when cancelled', async () => {
    const p = open({ bob: smtpRouteConfig(t, BOB) });
    const signIn = routeSignIn(delegatedRoute(p.config, 'bob'), { store: p.store, key: p.key, log: silent });
    try {
      const declined = signIn.deviceCode({ onPrompt: (prompt) => void import('../helpers/sandbox.js').then((h) => h.submitDeviceLogin(t, prompt.userCode, { action: 'decline' })) });
      await expect(declined).rejects.toBeInstanceOf(TokenError);
      const abort = new AbortController();
      const cancelled = signIn.deviceCode({ signal: abort.signal, onPrompt: () => setTimeout(() => abort.abort(), 100) });
      await expect(cancelled).rejects.toBeInstanceOf(TokenError);
      expect(await p.store.loadTokenCache('bob')).toBeNull();
    } finally {
      signIn.close();
    }
  });

  it('is refused for a confidential client (a route with clientSecret), saying what to do', async () => {
    const p = open({ conf: smtpRouteConfig(t, ALICE, { clientSecret: 'a-client-secret-value' }) });
    const signIn = routeSignIn(delegatedRoute(p.config, 'conf'), { store: p.store, key: p.key, log: silent });
    try {
      await expect(signIn.deviceCode({ onPrompt: () => undefined })).rejects.toMatchObject({ error: 'device_code_needs_public_client' });
    } finally {
      signIn.close();
    }
  });
});

describe('the sign-in in the store', () => {
  it('signs in with either flow into the same place; deviceCodeSignIn and browserSignIn agree', async () => {
    const p = open({ bob: smtpRouteConfig(t, BOB) });
    expect((await deviceCodeSignIn(t, p, 'bob', DEMO.bob)).account).toBe(BOB);
    expect((await browserSignIn(t, p, 'bob', DEMO.bob)).account).toBe(BOB);
    expect((await p.store.loadTokenCache('bob'))!.version).toBe(2);
  });
});
