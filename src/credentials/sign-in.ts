/**
 * Signing a delegated route's user in, as a module API: `relay365 auth login` uses it with a
 * loopback listener (loopback.ts) or the device code, and the console will use the same calls
 * with its own redirect URI — it only has to hand the redirect back to `finish()`.
 *
 *   const signIn = routeSignIn(route, { store, key, log });
 *   const pending = await signIn.browser();          // authorization code + PKCE
 *   // … send the user to pending.url; Entra ID redirects to pending.redirectUri …
 *   const done = await pending.finish(redirectUrl);  // redeems the code, stores the tokens
 *
 *   await signIn.deviceCode({ onPrompt: (p) => show(p.message) });  // headless servers
 *
 * msal-node does the protocol (the authorize URL, PKCE, the code and device code grants); this
 * file only keeps the PKCE verifier and state between the two halves, and stores the result
 * sealed in relay365's store, replacing any earlier sign-in of the route.
 */
import { randomBytes } from 'node:crypto';
import { CryptoProvider, PublicClientApplication, type AuthenticationResult } from '@azure/msal-node';
import { delegatedClient, type DelegatedClient, type DelegatedDeps, type DelegatedRoute } from './delegated-client.js';
import { RouteTokenCache, type SignInFlow } from './token-cache.js';
import { toTokenError } from './token-errors.js';
import { TokenError } from './token.js';

export interface SignedIn {
  route: string;
  /** The account that signed in (its user principal name). */
  account: string;
  scopes: string[];
  /** When the access token that came with the sign-in expires (ms since the epoch). */
  expiresAt: number;
  flow: SignInFlow;
  /** Set when the account is not the route's mailbox: it then needs FullAccess / SendAs on it. */
  warning: string | null;
}

export interface BrowserSignIn {
  /** Open this in a browser (Entra ID's sign-in and consent page). */
  readonly url: string;
  /** Where Entra ID sends the browser back, with ?code=…&state=… (or ?error=…). */
  readonly redirectUri: string;
  /** The state this sign-in sent (it is in `url` too): a redirect with another one belongs to something else. */
  readonly state: string;
  /** Finishes with the redirect the browser was sent to (its URL, or its query parameters). */
  finish(redirect: string | URL | URLSearchParams): Promise<SignedIn>;
}

export interface DeviceCodePrompt {
  userCode: string;
  verificationUri: string;
  /** Entra ID's own sentence: "To sign in, use a web browser to open the page … and enter the code …". */
  message: string;
  expiresAt: number;
}

export interface RouteSignIn {
  browser(options?: { redirectUri?: string }): Promise<BrowserSignIn>;
  deviceCode(options: { onPrompt(prompt: DeviceCodePrompt): void; signal?: AbortSignal; timeoutSeconds?: number }): Promise<SignedIn>;
  close(): void;
}

/** The user has 15 minutes to enter a device code (Entra ID's own limit). */
export const DEVICE_CODE_SECONDS = 15 * 60;

export function routeSignIn(route: DelegatedRoute, deps: DelegatedDeps): RouteSignIn {
  const now = deps.now ?? Date.now;
  const log = deps.log.child({ route: route.name, flow: 'delegated' });
  const clientFor = (flow: SignInFlow) => delegatedClient(route, new RouteTokenCache({ route: route.name, store: deps.store, key: deps.key, log, now, signIn: { flow } }), log);
  const opened: DelegatedClient[] = [];
  const open = (flow: SignInFlow) => {
    const client = clientFor(flow);
    opened.push(client);
    return client;
  };
  const done = (client: DelegatedClient, flow: SignInFlow, result: AuthenticationResult | null): SignedIn => {
    if (!result?.account) throw new TokenError('Entra ID answered the sign-in without an account', null, 'no_token', null);
    const account = result.account.username;
    const warning =
      account.toLowerCase() === route.mailbox.toLowerCase()
        ? null
        : `signed in as ${account}, but the route sends as ${route.mailbox}: ${account} needs ${route.transport === 'graph' ? 'SendAs on it (and Mail.Send.Shared)' : 'FullAccess on it'} (Add-MailboxPermission / Add-RecipientPermission), or sign in as ${route.mailbox}`;
    log.info({ account, scopes: result.scopes, expiresAt: result.expiresOn?.toISOString() }, 'signed in');
    if (warning) log.warn({ account, mailbox: route.mailbox }, warning);
    return { route: route.name, account, scopes: result.scopes, expiresAt: result.expiresOn?.getTime() ?? now() + 3599_000, flow, warning };
  };
  const failed = (client: DelegatedClient, error: unknown) => toTokenError(error, client.network.lastResponse(), client.endpoints.tokenEndpoint);

  return {
    async browser(options = {}) {
      const client = open('browser');
      const redirectUri = options.redirectUri ?? client.redirectUri;
      const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
      const state = randomBytes(16).toString('base64url');
      const url = await client.msal.getAuthCodeUrl({ scopes: [...client.scopes], redirectUri, codeChallenge: challenge, codeChallengeMethod: 'S256', state, loginHint: route.mailbox });
      let finished = false;
      return {
        url,
        redirectUri,
        state,
        async finish(redirect) {
          const params = redirect instanceof URLSearchParams ? redirect : new URL(String(redirect), redirectUri).searchParams;
          if (params.get('state') !== state) throw new TokenError('the sign-in came back with another state than it was started with (an old or forged redirect); start the sign-in again', null, 'state_mismatch', null);
          if (finished) throw new TokenError('this sign-in has already finished; start a new one', null, 'state_mismatch', null);
          finished = true;
          const error = params.get('error');
          if (error) {
            const description = params.get('error_description') ?? '';
            const aadsts = /AADSTS(\d+)/.exec(description)?.[1] ?? null;
            throw new TokenError(`the sign-in was not completed (${error}): ${description.split(/\r?\n/)[0] || 'no reason given'}`, aadsts, error, null);
          }
          const code = params.get('code');
          if (!code) throw new TokenError('the redirect carries neither a code nor an error', null, 'no_code', null);
          try {
            return done(client, 'browser', await client.msal.acquireTokenByCode({ code, scopes: [...client.scopes], redirectUri, codeVerifier: verifier }));
          } catch (e) {
            throw failed(client, e);
          }
        },
      };
    },

    async deviceCode({ onPrompt, signal, timeoutSeconds = DEVICE_CODE_SECONDS }) {
      const client = open('device-code');
      if (!(client.msal instanceof PublicClientApplication)) {
        throw new TokenError(`device code sign-in is for public clients: remove routes.${route.name}.credentials.clientSecret/certificate (and allow public client flows on the app registration), or sign in with the browser`, null, 'device_code_needs_public_client', null);
      }
      const request = {
        scopes: [...client.scopes],
        timeout: timeoutSeconds,
        cancel: false,
        deviceCodeCallback: (r: { userCode: string; verificationUri: string; message: string; expiresIn: number }) =>
          onPrompt({ userCode: r.userCode, verificationUri: r.verificationUri, message: r.message, expiresAt: now() + r.expiresIn * 1000 }),
      };
      // msal-node looks at `cancel` between polls.
      signal?.addEventListener('abort', () => (request.cancel = true), { once: true });
      try {
        return done(client, 'device-code', await client.msal.acquireTokenByDeviceCode(request));
      } catch (e) {
        throw failed(client, e);
      }
    },

    close() {
      for (const client of opened.splice(0)) client.network.close();
    },
  };
}
