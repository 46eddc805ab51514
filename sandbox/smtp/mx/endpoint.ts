// The <tenant>.mail.protection.outlook.com:25 stand-in: no AUTH, optional STARTTLS (asking for a
// client certificate, for certificate-based connectors), Direct Send and relay connectors.
import type { TLSSocket } from 'node:tls';
import type { SandboxContext } from '../../context.js';
import { newServerIdentity } from '../identity.js';
import { listenSmtp, type SmtpListener } from '../listener.js';
import { MicrosoftSmtpServer, type SmtpProfile } from '../server.js';
import { ADVERTISED_SIZE, type SmtpSettings } from '../settings.js';
import { MxHooks } from './hooks.js';

/** EHLO before TLS, in Microsoft's order; after STARTTLS the same without `STARTTLS` (EOP offers no AUTH). */
export const MX_FEATURES = [`SIZE ${ADVERTISED_SIZE}`, 'PIPELINING', 'DSN', 'ENHANCEDSTATUSCODES', 'STARTTLS', '8BITMIME', 'BINARYMIME', 'CHUNKING', 'SMTPUTF8'] as const;

export const MX_PROFILE: SmtpProfile = {
  endpoint: 'mx',
  authMethods: [],
  identity: () => newServerIdentity('mx'),
  features: (secure) => MX_FEATURES.filter((f) => !(secure && f === 'STARTTLS')),
};

export async function startMx(ctx: SandboxContext, settings: SmtpSettings, tlsFaults: Record<string, unknown> = {}): Promise<SmtpListener> {
  let server: MicrosoftSmtpServer | undefined;
  const hooks = new MxHooks(ctx, settings.limits.maxHeaderBytes, () => server!);
  server = new MicrosoftSmtpServer(ctx, MX_PROFILE, {
    authOptional: true,
    // Ask for a client certificate but admit a server without one (Direct Send); only a
    // certificate chaining to the sandbox CA is read (MxHooks.onSecure).
    requestCert: true,
    rejectUnauthorized: false,
    ca: [ctx.pki.caPem],
    onSecure: (socket, session, callback) => hooks.onSecure(socket as TLSSocket, session, callback),
    onMailFrom: (address, session, callback) => hooks.onMailFrom(address, session, callback),
    onRcptTo: (address, session, callback) => hooks.onRcptTo(address, session, callback),
    onData: (stream, session, callback) => hooks.onData(stream, session, callback),
    ...tlsFaults,
  });
  return listenSmtp(ctx, server, settings.host, settings.mxPort);
}
