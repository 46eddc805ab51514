// Who a signed-in session may send as, for the envelope (MAIL FROM, 5.7.60) and the header From
// (after DATA, 5.2.252): its own mailbox (any of its addresses), or a mailbox whose Send As
// permission (Add-RecipientPermission) is held by the session's principal or by its mailbox.
import { findMailbox, hasPermission } from '../../tenant/accessors.js';
import type { Tenant } from '../../tenant/schema.js';
import type { SessionLogin } from '../session.js';

export function maySendAs(t: Tenant, login: SessionLogin, address: string): boolean {
  const target = findMailbox(t, address);
  if (!target) return false;
  if (target.address === login.mailbox) return true;
  if (login.principal.kind === 'user' && target.address === findMailbox(t, login.principal.address)?.address) return true;
  if (hasPermission(t, login.principal, target.address, 'SendAs')) return true;
  // App-only sessions act as their mailbox too: a SendAs granted to that mailbox counts.
  return login.principal.kind === 'app' && hasPermission(t, { kind: 'user', address: login.mailbox }, target.address, 'SendAs');
}
