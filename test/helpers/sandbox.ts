// Test helpers for the Microsoft 365 sandbox: start one on a free loopback port with a temporary
// data folder, build real msal-node clients that trust its CA, and play the user's part on its
// sign-in pages over plain HTTPS (a browser's GET and form POST, nothing more).
import { mkdtemp, rm } from 'node:fs/promises';
import type { ClientRequest } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfidentialClientApplication, PublicClientApplication, type Configuration } from '@azure/msal-node';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../sandbox/index.js';
import { defaultTenantFile } from '../../sandbox/options.js';
import { loadTenantFile, type TenantLoadResult } from '../../sandbox/tenant/load.js';
import type { Tenant } from '../../sandbox/tenant/schema.js';
import { MsalNetworkClient } from '../../src/credentials/network-client.js';

/** The demo tenant's identities (sandbox/tenants/contoso.example.yaml). */
export const DEMO = {
  tenantId: '6f1c2b2e-7d55-4c07-9a4f-2b4f0c8a1d11',
  domain: 'contoso.example',
  appOnly: {
    clientId: '3c0d7a55-2f7e-4b8e-9c1a-5e6f7a8b9c01',
    secret: 'demo~Secret.Value-for-the-relay365-sandbox',
    secretId: '5b1f0e2d-3c4b-4a59-8e7f-60718293a4b5',
    servicePrincipalObjectId: '9a8b7c6d-1e2f-4a3b-8c4d-5e6f7a8b9c02',
  },
  delegated: { clientId: '7e4d2c1b-0a9f-4e8d-b7c6-a5b4c3d2e1f0', redirectUri: 'http://localhost:3017/' },
  alice: { address: 'alice@contoso.example', password: 'Alice-Demo-Passw0rd' },
  bob: { address: 'bob@contoso.example', password: 'Bob-Demo-Passw0rd' },
  relay: { address: 'relay@contoso.example', password: 'Relay-Demo-Passw0rd' },
} as const;

export const EXCHANGE_DEFAULT_SCOPE = 'https://outlook.office365.com/.default';
export const SMTP_SEND_SCOPE = 'https://outlook.office.com/SMTP.Send';
export const GRAPH_DEFAULT_SCOPE = 'https://graph.microsoft.com/.default';

/**
 * An app-only smtp-oauth route of relay@ into the sandbox's submission endpoint on 127.0.0.1,
 * sending every message as the mailbox; `extra` adds or replaces keys (pacing, mailbox…).
 */
export function sandboxOAuthRoute(t: TestSandbox, extra: Record<string, unknown> = {}) {
  return {
    transport: 'smtp-oauth',
    mailbox: DEMO.relay.address,
    credentials: { tenant: DEMO.tenantId, clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret, authorityHost: t.sandbox.urls.login },
    host: '127.0.0.1',
    port: t.sandbox.ports.submission,
    ca: [t.sandbox.caPath],
    sender: { rewriteEnvelope: true, rewriteFrom: 'always' },
    ...extra,
  };
}

/** A copy of the demo tenant, to modify and hand to `startTestSandbox({ tenant })`. */
export function demoTenant(): Tenant {
  const loaded = loadTenantFile(defaultTenantFile());
  if (!loaded.ok) throw new Error(loaded.error.message);
  return structuredClone(loaded.tenant);
}

export interface TestSandbox {
  readonly sandbox: Sandbox;
  readonly dataDir: string;
  /** An msal-node network client that trusts the sandbox CA. */
  readonly network: MsalNetworkClient;
  /** Stops the sandbox and deletes its data folder. */
  stop(): Promise<void>;
}

/** Starts a sandbox on 127.0.0.1, a free port, in a fresh temporary data folder. */
export async function startTestSandbox(options: SandboxOptions = {}): Promise<TestSandbox> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'relay365-sandbox-')));
  const sandbox = await startSandbox({ host: '127.0.0.1', httpsPort: 0, ...options, dataDir }).catch(async (e: unknown) => {
    if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    throw e;
  });
  const network = new MsalNetworkClient({ extraCa: [sandbox.caPem] });
  return {
    sandbox,
    dataDir,
    network,
    stop: async () => {
      network.close();
      await sandbox.stop();
      if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** What a test file's (or describe block's) sandbox starts with; see useSandbox. */
export interface SandboxSetup {
  /** Changes the demo tenant before the sandbox starts; each test starts from the changed tenant. */
  tenant?: (draft: Tenant) => void;
  options?: Omit<SandboxOptions, 'tenant'>;
}

/** The sandbox of a test file or describe block (readable once its tests run), and what its tests share. */
export interface ScopedSandbox extends TestSandbox {
  /** Edits the tenant in force; the next test starts from the setup's tenant again. */
  edit(change: (draft: Tenant) => void): void;
  /** Closes `x` (a transport) when the current test ends, and returns it. */
  closeAfterTest<T extends { close(): unknown }>(x: T): T;
}

/**
 * Registers the hooks of tests against one sandbox, in the file or describe block it is called in:
 * started before the first test with the demo tenant as `setup.tenant` changes it; before each test
 * that tenant put back, after each the faults cleared and what closeAfterTest was given closed;
 * stopped after the last.
 */
export function useSandbox(setup: SandboxSetup = {}): ScopedSandbox {
  let started: TestSandbox | undefined;
  let base: Tenant;
  const toClose: Array<{ close(): unknown }> = [];
  const current = () => {
    if (!started) throw new Error('the sandbox starts in beforeAll: use it in hooks and tests');
    return started;
  };
  const check = (result: TenantLoadResult) => {
    if (!result.ok) throw new Error(result.error.message);
  };
  beforeAll(async () => {
    base = demoTenant();
    setup.tenant?.(base);
    started = await startTestSandbox({ ...setup.options, tenant: base });
  });
  beforeEach(() => check(current().sandbox.tenant.replace(structuredClone(base))));
  afterEach(async () => {
    current().sandbox.faults.clear();
    await Promise.all(toClose.splice(0).map((x) => x.close()));
  });
  afterAll(() => started?.stop());
  return {
    get sandbox() {
      return current().sandbox;
    },
    get dataDir() {
      return current().dataDir;
    },
    get network() {
      return current().network;
    },
    stop: () => current().stop(),
    edit: (change) => check(current().sandbox.tenant.update(change)),
    closeAfterTest: (x) => {
      toClose.push(x);
      return x;
    },
  };
}

type AuthOptions = Omit<Configuration['auth'], 'authority' | 'knownAuthorities'> & { tenant?: string };

function msalConfig(t: TestSandbox, auth: AuthOptions): Configuration {
  const { tenant, ...rest } = auth;
  return {
    auth: { ...rest, authority: t.sandbox.urls.authority(tenant), knownAuthorities: [t.sandbox.urls.knownAuthority] },
    system: { networkClient: t.network },
  };
}

/** A real msal-node ConfidentialClientApplication pointed at the sandbox. */
export function confidentialClient(t: TestSandbox, auth: AuthOptions): ConfidentialClientApplication {
  return new ConfidentialClientApplication(msalConfig(t, auth));
}

/** A real msal-node PublicClientApplication pointed at the sandbox. */
export function publicClient(t: TestSandbox, auth: AuthOptions): PublicClientApplication {
  return new PublicClientApplication(msalConfig(t, auth));
}

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One HTTPS request to the sandbox, trusting its CA; redirects are returned, not followed. */
export function httpsRequest(t: TestSandbox, url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Record<string, string> } = {}): Promise<HttpsResponse> {
  const body = typeof init.body === 'object' ? new URLSearchParams(init.body).toString() : init.body;
  const headers = { ...(typeof init.body === 'object' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...init.headers };
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, ca: t.sandbox.caPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Form fields a user fills on the sandbox's sign-in pages. */
export interface UserAction {
  /** The mailbox address typed as the login. */
  address?: string;
  password?: string;
  /** Tick the MFA approval box. */
  mfa?: boolean;
  action?: 'accept' | 'decline';
}

/**
 * Plays the browser in the authorization code flow: opens the authorize URL msal-node built,
 * submits the sign-in/consent form, and returns the response (a 302 to the app's redirect URI,
 * or the page again with an error).
 */
export async function submitConsentPage(t: TestSandbox, authorizeUrl: string, user: UserAction): Promise<HttpsResponse> {
  const pageResponse = await httpsRequest(t, authorizeUrl);
  const flow = /name="flow" value="([^"]+)"/.exec(pageResponse.text)?.[1];
  if (!flow) throw new Error(`the authorize page has no sign-in form (HTTP ${pageResponse.status}): ${pageResponse.text.slice(0, 500)}`);
  return httpsRequest(t, authorizeUrl.split('?')[0]!, { body: { flow, ...formFields(user) } });
}

/** Follows the consent page and returns the redirect URL the browser would be sent to. */
export async function redirectFromConsentPage(t: TestSandbox, authorizeUrl: string, user: UserAction): Promise<URL> {
  const res = await submitConsentPage(t, authorizeUrl, user);
  const location = res.headers.location;
  if (res.status !== 302 || typeof location !== 'string') throw new Error(`expected a redirect, got HTTP ${res.status}: ${res.text.slice(0, 500)}`);
  return new URL(location);
}

/** Plays the user on the device login page: enters the code, signs in, approves or declines. */
export function submitDeviceLogin(t: TestSandbox, userCode: string, user: UserAction): Promise<HttpsResponse> {
  return httpsRequest(t, t.sandbox.urls.deviceLogin, { body: { code: userCode, ...formFields(user) } });
}

function formFields(user: UserAction): Record<string, string> {
  return {
    login: user.address ?? '',
    password: user.password ?? '',
    ...(user.mfa ? { mfa: 'approve' } : {}),
    action: user.action ?? 'accept',
  };
}

/** The AADSTS code an msal-node error carries, e.g. 'AADSTS7000215' (from error_codes or the message). */
export function aadstsOf(error: unknown): string | undefined {
  const e = error as { errorNo?: string | number; errorMessage?: string; message?: string };
  if (e.errorNo !== undefined && e.errorNo !== '') return `AADSTS${e.errorNo}`;
  return /AADSTS\d+/.exec(`${e.errorMessage ?? ''} ${e.message ?? ''}`)?.[0];
}

/** Runs `fn`, which must fail, and returns its error. */
export async function failureOf(fn: () => Promise<unknown>): Promise<Record<string, unknown> & { errorCode?: string; errorMessage?: string; subError?: string }> {
  try {
    await fn();
  } catch (e) {
    return e as Record<string, unknown>;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** An app-only Microsoft Graph token from the real msal-node (the demo app's, unless told otherwise). */
export async function graphAppToken(t: TestSandbox, auth: { clientId: string; clientSecret: string } = { clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret }): Promise<string> {
  const result = await confidentialClient(t, auth).acquireTokenByClientCredential({ scopes: [GRAPH_DEFAULT_SCOPE] });
  if (!result) throw new Error('msal-node returned no Graph token');
  return result.accessToken;
}

export interface GraphCall {
  method?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
  /** JSON objects are sent as application/json. */
  body?: string | Buffer | object;
}

/**
 * Starts one request to the sandbox's Graph (`path` under `urls.graph`, e.g. `/v1.0/users/x/sendMail`,
 * or a whole URL such as an upload session's) and leaves its body to the caller: `request.end(body)`,
 * or writes spread over time. The response resolves when it has been read in full.
 */
export function openGraphRequest(t: TestSandbox, path: string, init: Omit<GraphCall, 'body'> = {}): { request: ClientRequest; response: Promise<HttpsResponse> } {
  const url = /^https:/.test(path) ? path : `${t.sandbox.urls.graph}${path}`;
  const headers = { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...init.headers };
  let req!: ClientRequest;
  const response = new Promise<HttpsResponse>((resolve, reject) => {
    req = request(url, { method: init.method ?? 'POST', headers, ca: t.sandbox.caPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  return { request: req, response };
}

/** One whole request to the sandbox's Graph (see openGraphRequest). */
export function graphRequest(t: TestSandbox, path: string, init: GraphCall = {}): Promise<HttpsResponse> {
  const json = init.body !== undefined && typeof init.body === 'object' && !Buffer.isBuffer(init.body);
  const body = json ? JSON.stringify(init.body) : (init.body as string | Buffer | undefined);
  const headers = { ...(json ? { 'content-type': 'application/json' } : {}), ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...init.headers };
  const { request: req, response } = openGraphRequest(t, path, { ...init, headers });
  req.end(body);
  return response;
}
