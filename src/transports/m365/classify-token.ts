/**
 * Why Entra ID gave the route no token, as a verdict with a plain diagnosis and the fix filled
 * with the route's values. Every AADSTS row of M365-FACTS.md is here; a configuration problem
 * holds the route (route-broken: its messages wait, none fail), Entra ID being unreachable,
 * overloaded or throttling defers them (transient, at Retry-After when it gave one).
 */
import type { UpstreamReply } from '../../queue/store.js';
import { own } from '../../config/own.js';
import type { EntraEndpoints } from '../../credentials/entra-endpoints.js';
import type { TokenError } from '../../credentials/token.js';
import { outcome, type Outcome } from '../transport.js';
import type { RouteFacts } from './route-facts.js';
import { classifyDelegated, signInAgainSteps } from './classify-delegated.js';
import { appRegistration, certificateUploadSteps, consentSteps, key, networkSteps, newSecretSteps, permissionFor, type EntraFacts } from './fixes-entra.js';

type Row = (e: TokenError, f: EntraFacts) => { verdict?: Outcome['verdict']; diagnosis: string; fix: string };

const appName = (f: EntraFacts) => `app ${f.clientId ?? '?'}`;
const tenantName = (f: EntraFacts) => `tenant ${f.tenant ?? '?'}`;
const defaultScope = (f: EntraFacts) => (f.transport === 'graph' ? 'https://graph.microsoft.com/.default' : 'https://outlook.office365.com/.default');
const signInAgain = (f: EntraFacts) => `${signInAgainSteps(f)} If this keeps happening, use app-only credentials (${key(f, 'credentials')}: clientSecret or certificate), which need no user sign-in.`;

/** AADSTS number → what it means for this route. */
const AADSTS: Record<string, Row> = {
  '7000215': (_e, f) => ({
    diagnosis: `Entra ID refused the client secret of ${appName(f)} (AADSTS7000215): it is not a valid secret of this app. Most often the secret's "Secret ID" was copied instead of its "Value", or the secret belongs to another app.`,
    fix: newSecretSteps(f),
  }),
  '7000222': (_e, f) => ({
    diagnosis: `The client secret of ${appName(f)} has expired (AADSTS7000222); Entra ID no longer accepts it.`,
    fix: `${newSecretSteps(f)} Or switch to a certificate (${key(f, 'credentials.certificate')}), which can be valid for longer.`,
  }),
  '700016': (_e, f) => ({
    diagnosis: `Entra ID does not know ${appName(f)} in ${tenantName(f)} (AADSTS700016): the client id is wrong, the app is registered in another tenant, or it was never consented to in this one.`,
    fix: `Compare ${key(f, 'credentials.clientId')} with the Application (client) ID and ${key(f, 'credentials.tenant')} with the Directory (tenant) ID on the ${appRegistration(f, 'Overview')} page. For an app registered in another tenant: ${consentSteps(f)}`,
  }),
  '90002': (_e, f) => ({
    diagnosis: `Entra ID at ${f.authorityHost ?? 'login.microsoftonline.com'} knows no ${tenantName(f)} (AADSTS90002).`,
    fix:
      `Set ${key(f, 'credentials.tenant')} to the Directory (tenant) ID (a GUID, on the app's Overview page) or a verified domain such as contoso.onmicrosoft.com. ` +
      `A tenant in a national cloud needs ${key(f, 'credentials.authorityHost')}: https://login.microsoftonline.us (US Government) or https://login.chinacloudapi.cn (China).`,
  }),
  '65001': (_e, f) => ({
    diagnosis: `${appName(f)} has no admin consent in ${tenantName(f)} (AADSTS65001), so Entra ID issues it no app-only token for ${permissionFor(f).api}.`,
    fix: consentSteps(f),
  }),
  '70011': (_e, f) => ({
    diagnosis: `Entra ID refused the scope ${(f.scopes ?? []).join(' ') || '(none)'} (AADSTS70011): app-only tokens take exactly one scope of the form <resource>/.default.`,
    fix: `Remove ${key(f, 'credentials.scopes')} to use the default (${defaultScope(f)}), or set it to [${defaultScope(f)}].`,
  }),
  '7000218': (_e, f) => ({
    diagnosis: `The token request carried neither a client secret nor a certificate assertion (AADSTS7000218).`,
    fix: `Set ${key(f, 'credentials.clientSecret')} (if it comes from an environment variable, check that the relay365 service sees it) or ${key(f, 'credentials.certificate')} with key and cert.`,
  }),
  '700082': (_e, f) => ({ diagnosis: `The refresh token expired because it was not used for 90 days (AADSTS700082).`, fix: signInAgain(f) }),
  '50173': (_e, f) => ({ diagnosis: `The user's sign-in was revoked, for instance by a password change (AADSTS50173).`, fix: signInAgain(f) }),
  '501481': (_e, f) => ({ diagnosis: `The sign-in's PKCE code_verifier did not match its code_challenge (AADSTS501481).`, fix: signInAgain(f) }),
  '53003': (_e, f) => ({
    diagnosis: `A Conditional Access policy blocked the token for ${appName(f)} (AADSTS53003), for instance a policy for workload identities that does not allow this relay's network location.`,
    fix: `In the Microsoft Entra admin center > Protection > Conditional Access: find the policy in the sign-in logs of ${appName(f)} (Service principal sign-ins), then exclude the app or allow this host's public IP address as a named location.`,
  }),
  '50076': (_e, f) => ({
    diagnosis: `Entra ID requires multi-factor authentication (AADSTS50076), which an unattended relay cannot perform.`,
    fix: `Use app-only credentials (${key(f, 'credentials')}: clientSecret or certificate; MFA does not apply to them), or exempt the account from the MFA policy for this relay's location.`,
  }),
  // Certificate credentials (not in the facts table, produced by the same flow).
  '700027': (_e, f) => ({ diagnosis: `Entra ID does not accept the certificate the client assertion was signed with (AADSTS700027): it is not uploaded to ${appName(f)}, or the key does not match it.`, fix: certificateUploadSteps(f) }),
  '700024': (_e, f) => ({ diagnosis: `Entra ID found the client assertion outside its validity time (AADSTS700024): this host's clock is wrong.`, fix: `Synchronise this host's clock (NTP: timedatectl set-ntp true), then the route works again; nothing in ${key(f, 'credentials')} needs to change.` }),
  '700023': (_e, f) => ({ diagnosis: `The client assertion's audience is not this tenant's token endpoint (AADSTS700023).`, fix: `Check ${key(f, 'credentials.tenant')}, ${key(f, 'credentials.authorityHost')} and ${key(f, 'credentials.tokenEndpoint')}: they must name the tenant the app lives in.` }),
};

export function classifyTokenError(e: TokenError, f: EntraFacts, now: number = Date.now()): Outcome {
  const reply = replyOf(e);
  const retryAt = e.retryAfterSeconds !== null ? now + e.retryAfterSeconds * 1000 : null;
  if (e.error === 'certificate_unusable') {
    return outcome('route-broken', `The route's certificate credentials cannot be used: ${e.message}.`, { fix: `Fix ${key(f, 'credentials.certificate')} (key: the PEM private key, unencrypted, RSA; cert: the PEM certificate uploaded to ${appName(f)}), then restart relay365.` });
  }
  if (e.error === 'network_error' || (e.status === null && e.aadsts === null && /ECONN|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|socket hang up/i.test(e.message))) {
    const host = f.authorityHost ?? 'login.microsoftonline.com';
    if (/certificate|self[- ]signed|unable to verify|CERT_|SSL|TLS/i.test(e.message)) {
      return outcome('route-broken', `TLS with Entra ID (${host}) failed: ${e.message}`, { fix: networkSteps(f, host) });
    }
    return outcome('transient', `${e.message}. Entra ID is unreachable from this host for now; deliveries wait and try again.`, { fix: networkSteps(f, host) });
  }
  if (e.status !== null && (e.status === 429 || e.status >= 500)) {
    const when = e.retryAfterSeconds !== null ? ` relay365 asks again in ${e.retryAfterSeconds} s, as Entra ID asked (msal-node would not ask it sooner either).` : '';
    return outcome('transient', `Entra ID is unavailable or throttling (${e.message}).${when}`, { reply, retryAt });
  }
  if (e.error === 'throttled' || e.aadsts === '90033') {
    return outcome('transient', `Entra ID is temporarily unavailable (${e.message}).`, { reply, retryAt });
  }
  const delegated = f.flow === 'delegated' ? classifyDelegated(e, f) : null;
  if (delegated) return outcome('route-broken', delegated.diagnosis, { reply, fix: delegated.fix });
  const row = e.aadsts !== null ? own(AADSTS, e.aadsts) : undefined;
  if (row) {
    const r = row(e, f);
    return outcome(r.verdict ?? 'route-broken', r.diagnosis, { reply, fix: r.fix });
  }
  if (e.aadsts !== null || (e.status !== null && e.status >= 400)) {
    // Another refusal: Entra ID answers the same request the same way until the configuration changes.
    const code = e.aadsts !== null ? `AADSTS${e.aadsts}` : `HTTP ${e.status}`;
    return outcome('route-broken', `Entra ID refused a token for ${appName(f)}: ${e.message}`, {
      reply,
      fix: `Look up ${code}${e.aadsts !== null ? ` at https://login.microsoftonline.com/error?code=${e.aadsts}` : ''} and check ${key(f, 'credentials')} (tenant, clientId, secret or certificate, scopes).`,
    });
  }
  return outcome('transient', `No token for ${appName(f)}: ${e.message}`, { reply });
}

/** What the fixes need to know of a route's token provider (app-only or delegated). */
export interface TokenProviderFacts {
  endpoints: EntraEndpoints;
  scopes: readonly string[];
  credential: { kind: 'secret' | 'certificate' | 'none'; certificate?: { sha1Thumbprint: string; sha256Thumbprint: string } };
  flow?: 'app-only' | 'delegated';
}

/** The facts the token fixes need, from the route's facts and its token provider. */
export function entraFacts(base: RouteFacts, provider: TokenProviderFacts, certFile?: string): EntraFacts {
  const c = provider.credential;
  return {
    ...base,
    adminConsentUrl: provider.endpoints.adminConsentUrl,
    authorityHost: provider.endpoints.host,
    scopes: provider.scopes,
    flow: provider.flow ?? 'app-only',
    credential: { kind: c.kind, ...(c.certificate ? { sha1Thumbprint: c.certificate.sha1Thumbprint, sha256Thumbprint: c.certificate.sha256Thumbprint } : {}), ...(certFile ? { certFile } : {}) },
  };
}

function replyOf(e: TokenError): UpstreamReply | null {
  if (e.status === null && e.aadsts === null) return null;
  const text = e.message.replace(/^Entra ID refused the token request \([^)]*\): /, '');
  return { code: e.status, enhanced: e.aadsts !== null ? `AADSTS${e.aadsts}` : null, text };
}
