// What the sandbox remembers about one SMTP connection beyond smtp-server's own session.
import type { Principal } from '../tenant/accessors.js';
import type { ServerIdentity, SmtpEndpointName } from './identity.js';

/** Who a client submission session signed in as, and which mailbox it sends from. */
export interface SessionLogin {
  /** The mailbox the session sends from (XOAUTH2 `user=`, or the LOGIN user): its primary address. */
  readonly mailbox: string;
  /** The name the client signed in with, as Exchange quotes it in 5.2.252 SendAsDenied. */
  readonly login: string;
  readonly method: 'XOAUTH2' | 'LOGIN';
  /** Who acts: the app's service principal (app-only), or the signed-in user (delegated, basic). */
  readonly principal: Principal;
  readonly appId?: string;
}

export interface SessionState {
  /** The session id in the greeting and error trailers (16 hex digits). */
  readonly id: string;
  readonly endpoint: SmtpEndpointName;
  readonly identity: ServerIdentity;
  /** The command being answered, for the event log ('MAIL FROM', 'AUTH XOAUTH2'; never credentials). */
  command: string;
  /** The mechanism of the AUTH exchange in progress or done. */
  authMechanism?: string;
  login?: SessionLogin;
  /** MX: CN and DNS SANs of a client certificate that chains to the sandbox CA. */
  certificateNames: string[];
  /** Why the next reply refuses, for the event log only (the client sees Microsoft's words). */
  reason?: string;
  /** Facts for the event log of the next reply only, e.g. how many connections the mailbox has open after this sign-in. */
  detail?: Record<string, unknown>;
}
