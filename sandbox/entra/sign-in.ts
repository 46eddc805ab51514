// Checking what a user typed on the sign-in pages (authorize and device login).
//
// The same rules as Entra's sign-in: an unknown account (50034), a shared mailbox's disabled
// account (50057), a wrong password (50126), a Conditional Access block (53003), and an MFA
// requirement that the MFA box stands in for (50074). The sandbox's "MFA" is that checkbox.
import { randomUUID } from 'node:crypto';
import { findMailbox } from '../tenant/accessors.js';
import type { Mailbox, Tenant } from '../tenant/schema.js';
import type { EntraContext } from './context.js';
import { Aad, ok, refuse, type Outcome } from './errors.js';
import type { SignIn } from './grants.js';

export interface SignInAttempt {
  login?: string;
  password?: string;
  /** 'approve' when the MFA box was ticked. */
  mfa?: string;
}

export function signInUser(ctx: EntraContext, tenant: Tenant, attempt: SignInAttempt): Outcome<{ user: Mailbox; signIn: SignIn }> {
  const login = (attempt.login ?? '').trim();
  const user = findMailbox(tenant, login);
  if (!user) return refuse(Aad.userNotFound(login, tenant.displayName));
  if (user.type !== 'user') return refuse(Aad.userDisabled());
  if (user.password === undefined || attempt.password !== user.password) return refuse(Aad.wrongPassword());
  if (user.conditionalAccessBlocked) return refuse(Aad.blockedByConditionalAccess());
  const mfa = attempt.mfa === 'approve';
  if (user.mfaRequired && !mfa) return refuse(Aad.mfaNotPerformed());
  return ok({ user, signIn: { userId: user.id, authTime: ctx.clock.now(), mfa, sessionId: randomUUID() } });
}
