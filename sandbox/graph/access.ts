// Which mailbox a request is about, and whether the caller may act on it and send as its From.
//
// Exchange's rules, each written once with its reason:
// - the mailbox: `/users/{id | userPrincipalName}` names a mailbox by address, alias or object id;
//   `/me` is the signed-in user, and means nothing to an app-only token.
// - app-only: the `roles` claim must hold the permission (Mail.Send to send, Mail.ReadWrite for
//   drafts, Mail.ReadBasic to list messages, Mail.Read for their content; a wider one includes a
//   narrower), and Application Access Policies may then fence it to some mailboxes; RBAC for
//   Applications ('Application Mail.Send') grants it for its scope whatever the token says.
// - delegated: the `scp` claim must hold the permission, for the user's own mailbox; another
//   mailbox needs the `.Shared` variant and the user's FullAccess (or SendAs, to send) on it.
// - From: a message may carry another From only if the sending identity holds SendAs on it; a
//   user sending from another mailbox sends as that mailbox, so needs SendAs on it.
import { accessPolicyAllows, findMailbox, hasPermission, isAcceptedDomain, rbacAllows, type Principal } from '../tenant/accessors.js';
import type { Mailbox, Tenant } from '../tenant/schema.js';
import { granted, type GraphCaller } from './auth.js';
import { done, fail, Graph, type GraphOutcome } from './errors.js';

export type MailPermission = 'Mail.Send' | 'Mail.ReadWrite' | 'Mail.Read' | 'Mail.ReadBasic';

/**
 * The permissions that grant `permission`: reading a message's properties (Mail.ReadBasic) comes
 * with Mail.Read and Mail.ReadWrite; its body and MIME ($value) with Mail.Read and Mail.ReadWrite.
 */
function grantedBy(permission: MailPermission): MailPermission[] {
  if (permission === 'Mail.ReadBasic') return ['Mail.ReadBasic', 'Mail.Read', 'Mail.ReadWrite'];
  if (permission === 'Mail.Read') return ['Mail.Read', 'Mail.ReadWrite'];
  return [permission];
}

/** The `me` segment, for routes under /v1.0/me. */
export const ME = Symbol('me');

/**
 * The mailbox of the URL. An unknown name in an accepted domain is a directory user without an
 * Exchange Online mailbox (unlicensed, or hosted on-premises): MailboxNotEnabledForRESTAPI; any
 * other unknown name is not a user at all: ErrorInvalidUser.
 */
export function resolveMailbox(t: Tenant, caller: GraphCaller, name: string | typeof ME): GraphOutcome<Mailbox> {
  if (name === ME) {
    if (caller.kind === 'app') return fail(Graph.meRequiresDelegated());
    const own = findMailbox(t, caller.user ?? '');
    return own ? done(own) : fail(Graph.mailboxNotEnabled());
  }
  const found = findMailbox(t, name);
  if (found) return done(found);
  return fail(name.includes('@') && isAcceptedDomain(t, name) ? Graph.mailboxNotEnabled() : Graph.invalidUser(name));
}

/** Whether the caller may use `permission` on `mailbox`, or the 403 Graph gives. */
export function authorize(t: Tenant, caller: GraphCaller, mailbox: Mailbox, permission: MailPermission): GraphOutcome<true> {
  const any = grantedBy(permission);
  if (caller.kind === 'app') {
    if (any.some((p) => rbacAllows(t, caller.appId, p, mailbox.address))) return done(true);
    if (!any.some((p) => granted(caller, p))) return fail(Graph.accessDenied());
    return accessPolicyAllows(t, caller.appId, mailbox.address) ? done(true) : fail(Graph.accessPolicyBlocked());
  }
  const user = findMailbox(t, caller.user ?? '');
  if (user?.address === mailbox.address) return any.some((p) => granted(caller, p)) ? done(true) : fail(Graph.accessDenied());
  const principal: Principal = { kind: 'user', address: caller.user ?? '' };
  const rights = hasPermission(t, principal, mailbox.address, 'FullAccess') || (permission === 'Mail.Send' && hasPermission(t, principal, mailbox.address, 'SendAs'));
  return any.some((p) => granted(caller, `${p}.Shared`)) && rights ? done(true) : fail(Graph.accessDenied());
}

/**
 * Whether a message sent from `mailbox` may carry `from` (absent: the mailbox's own address). The
 * identity that sends is the mailbox itself for an app, the signed-in user when delegated: it must
 * be the From, or hold SendAs on it. FullAccess to a shared mailbox does not let a user send as it.
 */
export function maySendAs(t: Tenant, caller: GraphCaller, mailbox: Mailbox, from: string | undefined): boolean {
  const shown = findMailbox(t, from ?? mailbox.address)?.address ?? (from ?? '').toLowerCase();
  const sender = caller.kind === 'user' ? (findMailbox(t, caller.user ?? '')?.address ?? caller.user ?? '') : mailbox.address;
  if (shown === sender) return true;
  return hasPermission(t, { kind: 'user', address: sender }, shown, 'SendAs');
}
