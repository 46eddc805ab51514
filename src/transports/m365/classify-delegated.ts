/**
 * Why a delegated route (flow: delegated — a user signed in, relay365 keeps the refresh token)
 * got no token. Most answers mean the same thing for the admin: the sign-in is gone (the
 * refresh token expired or was revoked, a policy now blocks it, nobody signed in yet), so the
 * route is held with "sign in again" and the exact command; the sign-in releases it.
 * classify-token.ts asks here first for delegated routes and falls back to its own table.
 */
import type { TokenError } from '../../credentials/token.js';
import { own } from '../../config/own.js';
import { appRegistration, key, type EntraFacts } from './fixes-entra.js';

export interface DelegatedVerdict {
  diagnosis: string;
  fix: string;
}

/** The command that signs the route's user in again; the device code for servers without a browser. */
export function signInAgainSteps(f: EntraFacts): string {
  return `Sign in again: relay365 auth login ${f.route} (on a server without a browser: relay365 auth login ${f.route} --device-code). The route's held messages go out as soon as the sign-in succeeds.`;
}

const app = (f: EntraFacts) => `app ${f.clientId ?? '?'}`;
const permission = (f: EntraFacts) => (f.transport === 'graph' ? 'Mail.Send (Microsoft Graph)' : 'SMTP.Send (Office 365 Exchange Online)');
const user = (f: EntraFacts) => f.signedInAs ?? "the route's signed-in user";

type Row = (e: TokenError, f: EntraFacts) => DelegatedVerdict;

const BY_ERROR: Record<string, Row> = {
  not_signed_in: (_e, f) => ({
    diagnosis: `Nobody has signed in for the route "${f.route}" yet: with flow: delegated, relay365 sends as a user who signs in once; it keeps the refresh token (encrypted) in its store. Sign in again — or for the first time.`,
    fix: signInAgainSteps(f),
  }),
  no_tokens_found: (_e, f) => ({ diagnosis: `The route's sign-in holds no usable refresh token any more; sign in again.`, fix: signInAgainSteps(f) }),
  token_cache_unreadable: (e, f) => ({
    diagnosis: `${e.message}.`,
    fix: `Give this node the master key the other nodes use (RELAY365_MASTER_KEY, or the file in secrets.keyFile), or sign in again here, which replaces the stored sign-in for every node: relay365 auth login ${f.route}.`,
  }),
  no_token_store: (e, f) => ({ diagnosis: e.message, fix: `Run the route in relay365 serve (which opens the store and the master key), then sign in: relay365 auth login ${f.route}.` }),
};

const BY_AADSTS: Record<string, Row> = {
  '700082': (_e, f) => ({ diagnosis: `The refresh token of ${user(f)} expired: it was not used for 90 days (AADSTS700082). Sign in again.`, fix: signInAgainSteps(f) }),
  '50173': (_e, f) => ({ diagnosis: `The sign-in of ${user(f)} was revoked — a password change, or an admin revoked the user's sessions (AADSTS50173). Sign in again.`, fix: signInAgainSteps(f) }),
  '70000': (e, f) => ({ diagnosis: `Entra ID no longer accepts the route's refresh token (AADSTS70000: ${sentence(e)}). Sign in again.`, fix: signInAgainSteps(f) }),
  '70008': (_e, f) => ({ diagnosis: `The route's refresh token has expired (AADSTS70008). Sign in again.`, fix: signInAgainSteps(f) }),
  '501481': (_e, f) => ({ diagnosis: `The sign-in's PKCE code_verifier did not match its code_challenge (AADSTS501481): sign in again.`, fix: signInAgainSteps(f) }),
  '53003': (_e, f) => ({
    diagnosis: `A Conditional Access policy blocks tokens for ${user(f)} and ${app(f)} (AADSTS53003): the refresh is refused until the policy allows it. Then sign in again.`,
    fix: `In the Microsoft Entra admin center > Protection > Conditional Access: find the policy in the user's sign-in logs and allow ${app(f)} from this relay's location (or exclude the user). Then: ${signInAgainSteps(f)}`,
  }),
  '50076': (_e, f) => ({
    diagnosis: `Entra ID now requires multi-factor authentication for ${user(f)} (AADSTS50076); a refresh cannot perform it. Sign in again, completing MFA.`,
    fix: signInAgainSteps(f),
  }),
  '65001': (_e, f) => ({
    diagnosis: `Neither ${user(f)} nor an admin has consented to the delegated permission ${permission(f)} of ${app(f)} (AADSTS65001).`,
    fix: `Sign in again and accept the consent page (${signInAgainSteps(f)}), or grant admin consent in the ${appRegistration(f, 'API permissions')} for the delegated permission ${permission(f)}.`,
  }),
  '70011': (_e, f) => ({
    diagnosis: `Entra ID refused the scopes ${(f.scopes ?? []).join(' ')} (AADSTS70011): ${app(f)} does not list the delegated permission ${permission(f)}.`,
    fix: `Add the delegated permission ${permission(f)} in the ${appRegistration(f, 'API permissions')}, or correct ${key(f, 'credentials.scopes')} (remove it for the default). Then: ${signInAgainSteps(f)}`,
  }),
  '7000218': (_e, f) => ({
    diagnosis: `${app(f)} is not allowed to sign users in without a client secret (AADSTS7000218): a delegated route without clientSecret is a public client.`,
    fix: `In the ${appRegistration(f, 'Authentication')}: "Allow public client flows" = Yes; or set ${key(f, 'credentials.clientSecret')} to a secret of the app.`,
  }),
};

/** The verdict for a delegated route's token failure, or null when it is not one of these. */
export function classifyDelegated(e: TokenError, f: EntraFacts): DelegatedVerdict | null {
  const byError = own(BY_ERROR, e.error);
  if (byError) return byError(e, f);
  const byCode = e.aadsts !== null ? own(BY_AADSTS, e.aadsts) : undefined;
  if (byCode) return byCode(e, f);
  // Any other refusal of the refresh grant (invalid_grant, interaction_required): the sign-in is unusable.
  if (e.error === 'invalid_grant' || e.error === 'interaction_required') {
    return { diagnosis: `Entra ID refused the route's refresh token (${e.aadsts ? `AADSTS${e.aadsts}: ` : ''}${sentence(e)}). Sign in again.`, fix: signInAgainSteps(f) };
  }
  return null;
}

const sentence = (e: TokenError) => e.message.replace(/^Entra ID refused the token request \([^)]*\): /, '').replace(/^AADSTS\d+: /, '');
