// Every AADSTS row of M365-FACTS.md, produced by the sandbox (tenant state where the sandbox can
// make it for client credentials, Microsoft's exact error body through fault injection where only
// a delegated flow or a policy can), caught by the provider as a TokenError and classified:
// verdict, a diagnosis an admin understands, and the fix with this route's own values.
import { rm } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Aad, aadErrorBody, type AadError } from '../../sandbox/entra/errors.js';
import { createAppTokenProvider, type AppTokenProvider } from '../../src/credentials/app-token.js';
import { GRAPH_SCOPE } from '../../src/credentials/scopes.js';
import type { CredentialsConfig } from '../../src/config/routes.js';
import { TokenError } from '../../src/credentials/token.js';
import { classifyTokenError, entraFacts } from '../../src/transports/m365/classify-token.js';
import type { Outcome } from '../../src/transports/transport.js';
import { DEMO, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { capturedLog, registeredCertificate, sandboxCredentials } from './helpers.js';

let t: TestSandbox;
const providers: AppTokenProvider[] = [];
beforeAll(async () => {
  t = await startTestSandbox();
});
afterAll(() => t.stop());
afterEach(async () => {
  for (const p of providers.splice(0)) p.close();
  t.sandbox.faults.clear();
  t.sandbox.tenant.update((d) => {
    const app = d.apps.find((a) => a.appId === DEMO.appOnly.clientId)!;
    app.adminConsent = true;
    app.secrets[0]!.expires = '2099-12-31';
  });
});

const ROUTE = 'graph_main';
const CONSENT_URL = () => `${t.sandbox.urls.origin}/${DEMO.tenantId}/adminconsent?client_id=${DEMO.appOnly.clientId}`;

/** Asks for a token with these credentials and classifies the refusal as the graph route would. */
async function classified(extra: Partial<CredentialsConfig> = {}, scopes = [GRAPH_SCOPE]): Promise<{ error: TokenError; outcome: Outcome }> {
  const p = createAppTokenProvider(sandboxCredentials(t, extra), { scopes, extraCa: [t.sandbox.caPem], log: capturedLog().log, route: ROUTE });
  providers.push(p);
  const error = await p.getToken().then(
    () => {
      throw new Error('expected Entra ID to refuse the token');
    },
    (e: unknown) => e as TokenError,
  );
  expect(error).toBeInstanceOf(TokenError);
  const facts = entraFacts({ route: ROUTE, transport: 'graph', mailbox: DEMO.relay.address, tenant: extra.tenant ?? DEMO.tenantId, clientId: extra.clientId ?? DEMO.appOnly.clientId }, p);
  return { error, outcome: classifyTokenError(error, facts, 1_000_000) };
}

/** The next token request is answered with Microsoft's error body for `err` (a flow or policy the sandbox's client credentials do not produce). */
function entraAnswers(err: AadError): void {
  t.sandbox.faults.add({ kind: 'reply', endpoint: 'token', count: 1, http: { status: err.status, body: aadErrorBody(err, new Date()) } });
}

describe('configuration problems hold the route (route-broken), with the fix', () => {
  it('AADSTS7000215: a wrong secret, or the Secret ID sent instead of the Value', async () => {
    for (const secret of ['not-the-secret', DEMO.appOnly.secretId]) {
      const { error, outcome } = await classified({ clientSecret: secret });
      expect(error).toMatchObject({ aadsts: '7000215', error: 'invalid_client', status: 401 });
      expect(outcome.verdict).toBe('route-broken');
      expect(outcome.reply).toEqual({ code: 401, enhanced: 'AADSTS7000215', text: expect.stringMatching(/^AADSTS7000215: Invalid client secret provided/) });
      expect(outcome.diagnosis).toContain(`Entra ID refused the client secret of app ${DEMO.appOnly.clientId} (AADSTS7000215)`);
      expect(outcome.diagnosis).toContain('"Secret ID" was copied instead of its "Value"');
      expect(outcome.fix).toContain(`App registrations > All applications > the app with Application (client) ID ${DEMO.appOnly.clientId} > Certificates & secrets > Client secrets`);
      expect(outcome.fix).toContain('copy its Value (shown only once; not the Secret ID) into routes.graph_main.credentials.clientSecret');
      expect(outcome.fix).toContain('RELAY365_ROUTES__GRAPH_MAIN__CREDENTIALS__CLIENT_SECRET');
    }
  });

  it('AADSTS7000222: the secret has expired', async () => {
    t.sandbox.tenant.update((d) => (d.apps[0]!.secrets[0]!.expires = '2024-01-31'));
    const { error, outcome } = await classified();
    expect(error.aadsts).toBe('7000222');
    expect(outcome).toMatchObject({ verdict: 'route-broken', diagnosis: `The client secret of app ${DEMO.appOnly.clientId} has expired (AADSTS7000222); Entra ID no longer accepts it.` });
    expect(outcome.fix).toContain('New client secret');
    expect(outcome.fix).toContain('routes.graph_main.credentials.secretExpires');
    expect(outcome.fix).toContain('routes.graph_main.credentials.certificate');
  });

  it('AADSTS700016: the app is not in this tenant', async () => {
    const stranger = 'a1b2c3d4-0000-4000-8000-000000000001';
    const { error, outcome } = await classified({ clientId: stranger });
    expect(error.aadsts).toBe('700016');
    expect(outcome.verdict).toBe('route-broken');
    expect(outcome.diagnosis).toBe(`Entra ID does not know app ${stranger} in tenant ${DEMO.tenantId} (AADSTS700016): the client id is wrong, the app is registered in another tenant, or it was never consented to in this one.`);
    expect(outcome.fix).toContain('Compare routes.graph_main.credentials.clientId with the Application (client) ID and routes.graph_main.credentials.tenant with the Directory (tenant) ID');
    expect(outcome.fix).toContain(`${t.sandbox.urls.origin}/${DEMO.tenantId}/adminconsent?client_id=${stranger}`);
  });

  it('AADSTS90002: the tenant does not exist (answered by the token endpoint: no discovery first)', async () => {
    const { error, outcome } = await classified({ tenant: 'fabrikam.example' });
    expect(error).toMatchObject({ aadsts: '90002', error: 'invalid_request', status: 400 });
    expect(outcome.verdict).toBe('route-broken');
    expect(outcome.diagnosis).toBe(`Entra ID at ${t.sandbox.urls.knownAuthority} knows no tenant fabrikam.example (AADSTS90002).`);
    expect(outcome.fix).toContain('Set routes.graph_main.credentials.tenant to the Directory (tenant) ID');
    expect(outcome.fix).toContain('routes.graph_main.credentials.authorityHost: https://login.microsoftonline.us (US Government) or https://login.chinacloudapi.cn (China)');
  });

  it('AADSTS65001: no admin consent — the fix is the admin-consent URL and the portal step', async () => {
    t.sandbox.tenant.update((d) => (d.apps[0]!.adminConsent = false));
    const { error, outcome } = await classified();
    expect(error).toMatchObject({ aadsts: '65001', error: 'invalid_grant' });
    expect(outcome.verdict).toBe('route-broken');
    expect(outcome.diagnosis).toBe(`app ${DEMO.appOnly.clientId} has no admin consent in tenant ${DEMO.tenantId} (AADSTS65001), so Entra ID issues it no app-only token for Microsoft Graph.`);
    expect(outcome.fix).toContain(`open ${CONSENT_URL()} as a Global Administrator`);
    expect(outcome.fix).toContain('the application permission Mail.Send (Microsoft Graph) is listed, then "Grant admin consent"');
  });

  it('AADSTS70011: a scope without /.default', async () => {
    const { error, outcome } = await classified({}, ['https://graph.microsoft.com/Mail.Send']);
    expect(error).toMatchObject({ aadsts: '70011', error: 'invalid_scope' });
    expect(outcome.verdict).toBe('route-broken');
    expect(outcome.diagnosis).toContain('Entra ID refused the scope https://graph.microsoft.com/Mail.Send (AADSTS70011)');
    expect(outcome.fix).toBe('Remove routes.graph_main.credentials.scopes to use the default (https://graph.microsoft.com/.default), or set it to [https://graph.microsoft.com/.default].');
  });

  it('AADSTS7000218: neither secret nor assertion reached Entra ID', async () => {
    entraAnswers(Aad.noClientCredential());
    const { error, outcome } = await classified();
    expect(error).toMatchObject({ aadsts: '7000218', error: 'invalid_client', status: 401 });
    expect(outcome.verdict).toBe('route-broken');
    expect(outcome.fix).toContain('routes.graph_main.credentials.clientSecret');
  });

  it('AADSTS53003: blocked by Conditional Access', async () => {
    entraAnswers(Aad.blockedByConditionalAccess());
    const { error, outcome } = await classified();
    expect(error).toMatchObject({ aadsts: '53003', error: 'access_denied' });
    expect(outcome.verdict).toBe('route-broken');
    expect(outcome.diagnosis).toContain('A Conditional Access policy blocked the token');
    expect(outcome.fix).toContain('Protection > Conditional Access');
  });

  it('AADSTS50076: MFA required', async () => {
    entraAnswers(Aad.mfaRequired('https://graph.microsoft.com'));
    const { error, outcome } = await classified();
    expect(error).toMatchObject({ aadsts: '50076', error: 'invalid_grant' });
    expect(outcome.verdict).toBe('route-broken');
    expect(outcome.diagnosis).toContain('multi-factor authentication');
    expect(outcome.fix).toContain('app-only credentials');
  });

  it('AADSTS700082, 50173, 501481 (delegated sign-in): sign in again', async () => {
    for (const [err, words] of [
      [Aad.refreshTokenInactive(new Date(0), 91 * 86400), 'not used for 90 days'],
      [Aad.grantRevoked(new Date(0), new Date()), 'revoked'],
      [Aad.pkceMismatch(), 'code_verifier'],
    ] as const) {
      entraAnswers(err);
      const { error, outcome } = await classified();
      expect(error.aadsts).toBe(String(err.code));
      expect(outcome.verdict).toBe('route-broken');
      expect(outcome.diagnosis).toContain(words);
      expect(outcome.fix).toContain('Sign in again: relay365 auth login graph_main');
    }
  });

  it('AADSTS700027: the certificate is not uploaded to the app — the fix names its thumbprints', async () => {
    const { issued, files, dir } = await registeredCertificate(t, false);
    try {
      const { error, outcome } = await classified({ clientSecret: undefined, certificate: files });
      expect(error).toMatchObject({ aadsts: '700027', error: 'invalid_client' });
      expect(outcome.verdict).toBe('route-broken');
      expect(outcome.fix).toContain(`thumbprint ${issued.sha1Thumbprint}; SHA-256 ${issued.sha256Thumbprint}`);
      expect(outcome.fix).toContain('Certificates & secrets > Certificates > Upload certificate');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Entra ID unavailable: transient', () => {
  it('503 (AADSTS90033) with Retry-After: deferred to exactly when Entra ID may be asked again', async () => {
    t.sandbox.faults.add({ kind: 'reply', endpoint: 'token', count: 1, http: { status: 503, headers: { 'retry-after': '7' } } });
    const { error, outcome } = await classified();
    expect(error.retryAfterSeconds).toBe(8); // Retry-After plus msal-node's margin
    expect(outcome).toMatchObject({ verdict: 'transient', retryAt: 1_000_000 + 8000, reply: { code: 503, enhanced: 'AADSTS90033' } });
    expect(outcome.diagnosis).toContain('relay365 asks again in 8 s');
  });

  it('the token endpoint down: a network failure, transient, with the firewall/proxy check', async () => {
    t.sandbox.faults.add({ kind: 'down', endpoint: 'token' });
    const { outcome } = await classified();
    expect(outcome).toMatchObject({ verdict: 'transient', reply: null, retryAt: null });
    expect(outcome.diagnosis).toMatch(/^Could not reach Entra ID at https:\/\/localhost:\d+\/.+\/oauth2\/v2\.0\/token: /);
    expect(outcome.fix).toContain(`reaches ${t.sandbox.urls.knownAuthority} on port 443`);
  });

  it('a CA the relay does not trust: route-broken (retrying cannot fix it), pointing at routes.<route>.ca', async () => {
    const p = createAppTokenProvider(sandboxCredentials(t), { scopes: [GRAPH_SCOPE], extraCa: [], log: capturedLog().log, route: ROUTE });
    providers.push(p);
    const error = (await p.getToken().catch((e: unknown) => e)) as TokenError;
    const outcome = classifyTokenError(error, entraFacts({ route: ROUTE, transport: 'graph' }, p));
    expect(outcome.verdict).toBe('route-broken');
    expect(outcome.diagnosis).toMatch(/TLS with Entra ID .* failed: .*(certificate|self[- ]signed)/i);
    expect(outcome.fix).toContain('routes.graph_main.ca');
  });
});

describe('error codes are looked up as codes, never as properties of an object', () => {
  it('an OAuth error or AADSTS number that names an Object member (constructor, toString, __proto__) gets the general answer', () => {
    const p = createAppTokenProvider(sandboxCredentials(t), { scopes: [GRAPH_SCOPE], extraCa: [t.sandbox.caPem], log: capturedLog().log, route: ROUTE });
    providers.push(p);
    const facts = entraFacts({ route: ROUTE, transport: 'graph', tenant: DEMO.tenantId, clientId: DEMO.appOnly.clientId }, p);
    for (const [error, aadsts, flow] of [['constructor', null, 'delegated'], ['toString', null, 'delegated'], ['invalid_request', '__proto__', 'app-only'], ['invalid_request', 'constructor', 'delegated']] as const) {
      const outcome = classifyTokenError(new TokenError(`Entra ID said ${error}`, aadsts, error, null, { status: 400 }), { ...facts, flow });
      expect(outcome.verdict, `${error} ${aadsts}`).toBe('route-broken');
      expect(outcome.diagnosis).toBe(`Entra ID refused a token for app ${DEMO.appOnly.clientId}: Entra ID said ${error}`);
    }
  });
});
