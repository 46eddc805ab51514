// Questions the sandbox's servers ask about the tenant, answered in one place.
//
// The SMTP, Graph and Entra code never walk the tenant object themselves: they ask "which mailbox
// is this address", "may this principal act on that mailbox", "is SMTP AUTH on for it". Each
// answer follows the rule Exchange applies, written once here with the reason next to it.
import { findResource, type Resource } from './resources.js';
import type { AppRegistration, ExchangeServicePrincipal, Mailbox, Tenant } from './schema.js';

export type MailboxRight = 'FullAccess' | 'SendAs';

/** Who acts: an app through its Exchange service principal (token `appid` + `oid`), or a signed-in user. */
export type Principal = { kind: 'app'; appId: string; objectId: string } | { kind: 'user'; address: string };

const lower = (s: string) => s.trim().toLowerCase();
const domainOf = (addressOrDomain: string) => lower(addressOrDomain.includes('@') ? addressOrDomain.slice(addressOrDomain.lastIndexOf('@') + 1) : addressOrDomain);

/** True when the tenant is named by its id or by one of its accepted domains, as in `/{tenant}/oauth2/...`. */
export function isTenantName(t: Tenant, name: string): boolean {
  return lower(name) === t.tenantId || t.domains.includes(lower(name));
}

/** True for an accepted domain of the tenant; takes a domain or an address. */
export function isAcceptedDomain(t: Tenant, addressOrDomain: string): boolean {
  return t.domains.includes(domainOf(addressOrDomain));
}

/** The mailbox with this primary address, alias or object id. */
export function findMailbox(t: Tenant, addressOrId: string): Mailbox | undefined {
  const key = lower(addressOrId);
  return t.mailboxes.find((m) => m.address === key || m.id === key || m.aliases.includes(key));
}

/** A user who can sign in (user mailboxes; shared mailboxes have a disabled account). */
export function findUser(t: Tenant, addressOrId: string): Mailbox | undefined {
  const m = findMailbox(t, addressOrId);
  return m?.type === 'user' ? m : undefined;
}

export function findApp(t: Tenant, appId: string): AppRegistration | undefined {
  return t.apps.find((a) => a.appId.toLowerCase() === lower(appId));
}

export type ServicePrincipalLookup =
  | { ok: true; servicePrincipal: ExchangeServicePrincipal }
  | { ok: false; reason: 'not_registered' | 'object_id_mismatch'; message: string };

/**
 * The Exchange service principal an app-only token acts as. Exchange matches both the app id and
 * the object id: an SP registered with the app registration's object id instead of the enterprise
 * application's (the classic mistake) matches nothing, and SMTP AUTH answers 535 5.7.3.
 */
export function servicePrincipalFor(t: Tenant, token: { appId: string; objectId: string }): ServicePrincipalLookup {
  const forApp = t.exchange.servicePrincipals.filter((sp) => lower(sp.appId) === lower(token.appId));
  const match = forApp.find((sp) => lower(sp.objectId) === lower(token.objectId));
  if (match) return { ok: true, servicePrincipal: match };
  if (forApp.length === 0) {
    return { ok: false, reason: 'not_registered', message: `no Exchange service principal for app ${token.appId}: run New-ServicePrincipal -AppId ${token.appId} -ObjectId ${token.objectId}` };
  }
  return {
    ok: false,
    reason: 'object_id_mismatch',
    message: `the Exchange service principal for app ${token.appId} has object id ${forApp[0]?.objectId}, but the token's oid is ${token.objectId} (the enterprise application's object id): re-create it with that -ObjectId`,
  };
}

/**
 * Whether `principal` holds `right` on `mailbox`, as Add-MailboxPermission (FullAccess) and
 * Add-RecipientPermission (SendAs) granted it. A user holds both on their own mailbox. FullAccess
 * does not imply SendAs: that is Exchange's rule, and why "send as" needs its own grant.
 */
export function hasPermission(t: Tenant, principal: Principal, mailbox: string, right: MailboxRight): boolean {
  const target = findMailbox(t, mailbox);
  if (!target) return false;
  if (principal.kind === 'user' && findMailbox(t, principal.address)?.address === target.address) return true;
  const names = principalNames(t, principal);
  if (names.length === 0) return false;
  const rows =
    right === 'FullAccess'
      ? t.exchange.mailboxPermissions.filter((p) => p.accessRights.includes('FullAccess')).map((p) => ({ mailbox: p.mailbox, who: p.user }))
      : t.exchange.recipientPermissions.filter((p) => p.accessRights.includes('SendAs')).map((p) => ({ mailbox: p.mailbox, who: p.trustee }));
  return rows.some((r) => findMailbox(t, r.mailbox)?.address === target.address && names.includes(lower(r.who)));
}

/** The identities a permission row may name the principal by. */
function principalNames(t: Tenant, principal: Principal): string[] {
  if (principal.kind === 'user') {
    const m = findMailbox(t, principal.address);
    return m ? [m.address, m.id, ...m.aliases, ...(m.displayName ? [lower(m.displayName)] : [])] : [lower(principal.address)];
  }
  const sp = servicePrincipalFor(t, principal);
  if (!sp.ok) return [];
  const s = sp.servicePrincipal;
  return [lower(s.objectId), lower(s.appId), ...(s.displayName ? [lower(s.displayName)] : [])];
}

/**
 * Whether SMTP AUTH is on for a mailbox: the mailbox's own setting wins; `null` follows the tenant
 * (Set-CASMailbox vs Set-TransportConfig). `decidedBy` tells which one, for the 5.7.139 wording.
 */
export function smtpAuthEnabledFor(t: Tenant, mailbox: Mailbox | string): { enabled: boolean; decidedBy: 'mailbox' | 'tenant' } {
  const m = typeof mailbox === 'string' ? findMailbox(t, mailbox) : mailbox;
  if (m && m.smtpClientAuthenticationDisabled !== null) return { enabled: !m.smtpClientAuthenticationDisabled, decidedBy: 'mailbox' };
  return { enabled: !t.organization.smtpClientAuthenticationDisabled, decidedBy: 'tenant' };
}

/** Application permissions granted to the app on a resource (without regard to admin consent). */
export function grantedRoles(app: AppRegistration, resource: Resource): string[] {
  return app.applicationPermissions.filter((p) => findResource(p.resource) === resource).flatMap((p) => p.roles);
}

/** Delegated permissions the app registration lists for a resource. */
export function delegatedScopes(app: AppRegistration, resource: Resource): string[] {
  return app.delegatedPermissions.filter((p) => findResource(p.resource) === resource).flatMap((p) => p.scopes);
}

/**
 * RBAC for Applications: whether an 'Application <permission>' role assignment lets the app use
 * `permission` (e.g. 'SMTP.SendAsApp', 'Mail.Send') on the mailbox. No recipients = whole organisation.
 */
export function rbacAllows(t: Tenant, appId: string, permission: string, mailbox: string): boolean {
  const target = findMailbox(t, mailbox)?.address ?? lower(mailbox);
  return t.exchange.managementRoleAssignments.some(
    (a) => lower(a.app) === lower(appId) && a.role === `Application ${permission}` && (a.recipients === undefined || a.recipients.includes(target)),
  );
}

/**
 * Application access policies (New-ApplicationAccessPolicy) scoping an app's Graph/EWS access.
 * No policy for the app: allowed. RestrictAccess: only listed mailboxes. DenyAccess: all but those.
 */
export function accessPolicyAllows(t: Tenant, appId: string, mailbox: string): boolean {
  const target = findMailbox(t, mailbox)?.address ?? lower(mailbox);
  const policies = t.exchange.applicationAccessPolicies.filter((p) => lower(p.appId) === lower(appId));
  if (policies.length === 0) return true;
  const restrict = policies.filter((p) => p.accessRight === 'RestrictAccess');
  if (restrict.length > 0 && !restrict.some((p) => p.mailboxes.includes(target))) return false;
  return !policies.some((p) => p.accessRight === 'DenyAccess' && p.mailboxes.includes(target));
}
