// Signing in to client submission: XOAUTH2 (app-only and delegated) and basic auth (AUTH LOGIN).
//
// Each check is one of Exchange Online's, in the order it applies them, and each refusal is the
// facts file's reply; the reason for it (which the client never sees) goes to the event log, so
// an admin reading the sandbox's events learns what Microsoft would only hint at.
import type { SandboxContext } from '../../context.js';
import { findMailbox, findUser, hasPermission, rbacAllows, servicePrincipalFor, smtpAuthEnabledFor, type Principal } from '../../tenant/accessors.js';
import type { Mailbox, Tenant } from '../../tenant/schema.js';
import { REFUSED, type SmtpReply } from '../replies.js';
import type { SessionLogin } from '../session.js';

/** The audience of app-only tokens for SMTP (`https://outlook.office365.com/.default`). */
export const APP_ONLY_AUDIENCE = 'https://outlook.office365.com';
/** The audience of delegated tokens for SMTP (`https://outlook.office.com/SMTP.Send`). */
export const DELEGATED_AUDIENCE = 'https://outlook.office.com';

export type SignIn = { ok: true; login: SessionLogin } | { ok: false; reply: SmtpReply; reason: string };

const refuse = (reply: SmtpReply, reason: string): SignIn => ({ ok: false, reply, reason });

/** AUTH XOAUTH2: `user=<mailbox>` and a bearer token from Entra ID. */
export async function signInWithToken(ctx: SandboxContext, user: string, token: string): Promise<SignIn> {
  const check = await ctx.entra.verifyAccessToken(token, { audience: [APP_ONLY_AUDIENCE, DELEGATED_AUDIENCE] });
  if (!check.ok) return refuse(REFUSED.authUnsuccessful, `token refused (${check.reason}): ${check.message}`);
  const claims = check.claims;
  const t = ctx.tenant.current;
  const audience = String(claims.aud).replace(/\/+$/, '').toLowerCase();
  const mailbox = findMailbox(t, user);

  if (claims.idtyp === 'app') {
    if (audience !== APP_ONLY_AUDIENCE) return refuse(REFUSED.authUnsuccessful, `an app-only token for SMTP must be for ${APP_ONLY_AUDIENCE} (scope ${APP_ONLY_AUDIENCE}/.default); this one is for ${audience}`);
    if (!(claims.roles ?? []).includes('SMTP.SendAsApp')) return refuse(REFUSED.authUnsuccessful, `the token has no SMTP.SendAsApp role (roles: ${(claims.roles ?? []).join(', ') || 'none'}): grant the application permission and admin consent`);
    const sp = servicePrincipalFor(t, { appId: claims.appid, objectId: claims.oid });
    if (!sp.ok) return refuse(REFUSED.authUnsuccessful, sp.message);
    if (!mailbox) return refuse(REFUSED.authUnsuccessful, `user=${user} is not a mailbox of the tenant`);
    const disabled = smtpAuthDisabled(t, mailbox);
    if (disabled) return disabled;
    const principal: Principal = { kind: 'app', appId: claims.appid, objectId: claims.oid };
    if (!hasPermission(t, principal, mailbox.address, 'FullAccess') && !rbacAllows(t, claims.appid, 'SMTP.SendAsApp', mailbox.address)) {
      return refuse(REFUSED.authUnsuccessful, `the service principal of app ${claims.appid} has no FullAccess on ${mailbox.address} (Add-MailboxPermission) and no 'Application SMTP.SendAsApp' role assignment covering it`);
    }
    return { ok: true, login: { mailbox: mailbox.address, login: user, method: 'XOAUTH2', principal, appId: claims.appid } };
  }

  if (audience !== DELEGATED_AUDIENCE) return refuse(REFUSED.authUnsuccessful, `a delegated token for SMTP must be for ${DELEGATED_AUDIENCE} (scope ${DELEGATED_AUDIENCE}/SMTP.Send); this one is for ${audience}`);
  const scopes = (claims.scp ?? '').split(' ').filter(Boolean);
  if (!scopes.includes('SMTP.Send')) return refuse(REFUSED.authUnsuccessful, `the token has no SMTP.Send scope (scp: ${claims.scp ?? 'none'})`);
  const signedIn = findUser(t, claims.oid) ?? (claims.upn ? findUser(t, claims.upn) : undefined);
  if (!signedIn) return refuse(REFUSED.authUnsuccessful, `the token's user ${claims.upn ?? claims.oid} is not a user of the tenant`);
  if (!mailbox) return refuse(REFUSED.authUnsuccessful, `user=${user} is not a mailbox of the tenant`);
  const disabled = smtpAuthDisabled(t, mailbox);
  if (disabled) return disabled;
  const principal: Principal = { kind: 'user', address: signedIn.address };
  // user= may name another mailbox (a shared one) that the signed-in user has FullAccess to.
  if (!hasPermission(t, principal, mailbox.address, 'FullAccess')) return refuse(REFUSED.authUnsuccessful, `${signedIn.address} signed in, but has no FullAccess on user=${mailbox.address}`);
  return { ok: true, login: { mailbox: mailbox.address, login: user, method: 'XOAUTH2', principal, appId: claims.appid } };
}

/**
 * AUTH LOGIN. Order: retirement (nothing else matters), the authentication policy (before the
 * password is even looked at), the password, Security Defaults and Conditional Access (Entra's
 * verdicts on a correct password), then the mailbox's SMTP AUTH switch.
 */
export function signInWithPassword(ctx: SandboxContext, username: string, password: string): SignIn {
  const t = ctx.tenant.current;
  if (t.organization.basicAuthRetired) return refuse(REFUSED.basicAuthRetired, 'basic authentication for SMTP client submission has been retired: use OAuth (XOAUTH2)');
  if (!t.organization.basicAuthAllowed) return refuse(REFUSED.basicAuthDisabled, 'an authentication policy blocks basic authentication for SMTP (organization.basicAuthAllowed is false)');
  const user = findUser(t, username);
  if (!user || user.password === undefined || user.password !== password) {
    return refuse(REFUSED.wrongPassword, user ? `wrong password for ${user.address}` : `${username} is not a user of the tenant (shared mailboxes cannot sign in)`);
  }
  if (t.organization.securityDefaults) return refuse(REFUSED.securityDefaults, 'Security Defaults block legacy authentication');
  if (user.conditionalAccessBlocked) return refuse(REFUSED.conditionalAccess, `a Conditional Access policy blocks ${user.address}`);
  if (user.mfaRequired) return refuse(REFUSED.conditionalAccess, `${user.address} must use MFA, which basic authentication cannot do`);
  const disabled = smtpAuthDisabled(t, user);
  if (disabled) return disabled;
  return { ok: true, login: { mailbox: user.address, login: username, method: 'LOGIN', principal: { kind: 'user', address: user.address } } };
}

/** SMTP AUTH switched off: the mailbox's own setting wins, null follows the tenant. */
function smtpAuthDisabled(t: Tenant, mailbox: Mailbox): SignIn | undefined {
  const { enabled, decidedBy } = smtpAuthEnabledFor(t, mailbox);
  if (enabled) return undefined;
  return decidedBy === 'mailbox'
    ? refuse(REFUSED.smtpAuthDisabledMailbox, `Set-CASMailbox ${mailbox.address} -SmtpClientAuthenticationDisabled is $true`)
    : refuse(REFUSED.smtpAuthDisabledTenant, `Set-TransportConfig -SmtpClientAuthenticationDisabled is $true and ${mailbox.address} follows the tenant ($null)`);
}
