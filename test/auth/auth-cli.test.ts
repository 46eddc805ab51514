// `relay365 auth login|status|logout` as an admin runs them: the built CLI in a child process, the
// test playing the user on the sandbox's device login page, and `auth status` telling per route
// who signed in, the scopes, the token expiry, the last refresh, the secret's expiry and what to do.
import { describe, expect, it } from 'vitest';
import { tempDir, writeConfig } from '../helpers/relay.js';
import { DEMO, submitDeviceLogin, useSandbox } from '../helpers/sandbox.js';
import { ALICE, BOB, cli, delegatedTenant, smtpRouteConfig, startCli } from './helpers.js';

const t = useSandbox({ tenant: delegatedTenant(), options: { entra: { deviceCodeIntervalSeconds: 0.05 } } });

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

function setUp(extraRoutes: Record<string, unknown> = {}) {
  const dir = tempDir();
  const appOnly = {
    transport: 'graph',
    mailbox: DEMO.relay.address,
    credentials: { tenant: DEMO.tenantId, clientId: DEMO.appOnly.clientId, clientSecret: 'env:APP_SECRET', secretExpires: inDays(10), authorityHost: t.sandbox.urls.login },
    endpoint: t.sandbox.urls.graph,
    ca: [t.sandbox.caPath],
  };
  writeConfig(dir, { routes: { bob: smtpRouteConfig(t, BOB), app: appOnly, ...extraRoutes }, routing: { default: 'bob' } });
  return dir;
}
const env = { APP_SECRET: DEMO.appOnly.secret };

describe('relay365 auth login --device-code', () => {
  it('prints the code and the page, waits while the user approves it, and stores the sign-in', async () => {
    const dir = setUp();
    const login = startCli(dir, ['auth', 'login', 'bob', '--device-code'], env);
    const [, code] = await login.waitFor(/code: (\S+)\)/);
    expect(login.stdout()).toContain(`Sign in as ${BOB} for route "bob":`);
    expect(login.stdout()).toContain(t.sandbox.urls.deviceLogin);
    await submitDeviceLogin(t, code!, DEMO.bob);
    expect(await login.exited).toBe(0);
    expect(login.stdout()).toContain(`Signed in as ${BOB} for route "bob" (https://outlook.office.com/SMTP.Send`);
    expect(login.stderr()).toContain('created the master key file');

    const status = await cli(dir, ['auth', 'status', '--json'], env);
    expect(status.code).toBe(0);
    const [bob, app] = JSON.parse(status.stdout) as Record<string, unknown>[];
    expect(bob).toMatchObject({ route: 'bob', flow: 'delegated', account: BOB, signInFlow: 'device-code', hasRefreshToken: true, routeState: 'active', problems: [], fix: null, credential: 'public client' });
    expect(bob!.scopes).toEqual(expect.arrayContaining(['https://outlook.office.com/SMTP.Send']));
    expect(bob!.accessTokenExpiresAt).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect(bob!.lastRefreshAt).toBeGreaterThan(Date.now() - 60_000);
    // The app-only route: its secret masked, its expiry 10 days away warned about.
    expect(app).toMatchObject({ route: 'app', flow: 'app-only', account: null, credential: 'secret dem…', expiry: { kind: 'secret', level: 'in-30-days' } });
    expect((app!.problems as string[])[0]).toMatch(/^The client secret of app .* expires on .*, in 9 days; then route app stops delivering/);
  });

  it('auth status prints a table and the details, never a token; logout forgets the sign-in', async () => {
    const dir = setUp();
    const login = startCli(dir, ['auth', 'login', 'bob', '--device-code'], env);
    const [, code] = await login.waitFor(/code: (\S+)\)/);
    await submitDeviceLogin(t, code!, DEMO.bob);
    expect(await login.exited).toBe(0);
    const text = (await cli(dir, ['auth', 'status'], env)).stdout;
    expect(text).toMatch(/^ROUTE\s+TRANSPORT\s+FLOW\s+ACCOUNT\s+ACCESS TOKEN EXPIRES\s+LAST REFRESH\s+STATE$/m);
    expect(text).toMatch(new RegExp(`^bob\\s+smtp-oauth\\s+delegated\\s+${BOB.replace('.', '\\.')}\\s+in \\d+[mh]\\s+\\d+s ago\\s+active$`, 'm'));
    expect(text).toContain('refresh token: stored (sealed)');
    expect(text).toContain('client secret expires:');
    expect(text).not.toMatch(/eyJ|1\.[A-Za-z0-9_-]{40}/);

    expect((await cli(dir, ['auth', 'logout', 'bob'], env)).stdout).toContain('the stored sign-in is gone');
    const after = JSON.parse((await cli(dir, ['auth', 'status', 'bob', '--json'], env)).stdout) as Record<string, unknown>[];
    expect(after).toEqual([expect.objectContaining({ account: null, problems: ['nobody has signed in for this route yet'], fix: 'relay365 auth login bob' })]);
  });
});

describe('relay365 auth login refuses what it cannot do, saying why', () => {
  it('an app-only route has nothing to sign in', async () => {
    const dir = setUp();
    const res = await cli(dir, ['auth', 'login', 'app'], env);
    expect(res.code).toBe(64);
    expect(res.stderr).toContain('route "app" does not sign a user in (credentials.flow: app-only)');
  });

  it('a redirect URI that is not on this host: use --device-code', async () => {
    const dir = setUp({ web: smtpRouteConfig(t, ALICE, { redirectUri: 'https://console.contoso.example/auth/callback' }) });
    const res = await cli(dir, ['auth', 'login', 'web'], env);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('https://console.contoso.example/auth/callback');
    expect(res.stderr).toContain('is not on this host (http://localhost:<port>/): relay365 cannot receive it; use --device-code');
  });

  it('a user who declines the device code', async () => {
    const dir = setUp();
    const login = startCli(dir, ['auth', 'login', 'bob', '--device-code'], env);
    const [, code] = await login.waitFor(/code: (\S+)\)/);
    await submitDeviceLogin(t, code!, { action: 'decline' });
    expect(await login.exited).toBe(1);
    expect(login.stderr()).toMatch(/sign-in for route "bob" failed: .*authorization_declined/);
  });
});
