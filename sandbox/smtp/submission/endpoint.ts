// The smtp.office365.com:587 stand-in: STARTTLS, then AUTH LOGIN or XOAUTH2, then mail.
import type { SandboxContext } from '../../context.js';
import { newServerIdentity } from '../identity.js';
import { listenSmtp, type SmtpListener } from '../listener.js';
import { REFUSED } from '../replies.js';
import { MicrosoftSmtpServer, type SmtpProfile } from '../server.js';
import { ADVERTISED_SIZE, type SmtpSettings } from '../settings.js';
import { SubmissionData } from './data.js';
import { DelayedDeliveries } from './delayed.js';
import { SubmissionHooks } from './hooks.js';
import { SendingLimits } from './limits.js';

/** EHLO before TLS, in Microsoft's order; after STARTTLS, `STARTTLS` becomes `AUTH LOGIN XOAUTH2`. */
export const SUBMISSION_FEATURES = [`SIZE ${ADVERTISED_SIZE}`, 'PIPELINING', 'DSN', 'ENHANCEDSTATUSCODES', 'STARTTLS', '8BITMIME', 'BINARYMIME', 'CHUNKING', 'SMTPUTF8'] as const;

const AUTH_METHODS = ['LOGIN', 'XOAUTH2'] as const;

export const SUBMISSION_PROFILE: SmtpProfile = {
  endpoint: 'submission',
  authMethods: AUTH_METHODS,
  identity: () => newServerIdentity('submission'),
  features: (secure) => SUBMISSION_FEATURES.map((f) => (secure && f === 'STARTTLS' ? `AUTH ${AUTH_METHODS.join(' ')}` : f)),
};

export async function startSubmission(ctx: SandboxContext, settings: SmtpSettings, tlsFaults: Record<string, unknown> = {}): Promise<SmtpListener> {
  const limits = new SendingLimits(settings.limits, ctx.clock);
  const delayed = new DelayedDeliveries(ctx.clock, (e) => ctx.events.record({ endpoint: 'submission', action: 'deliver (delayed)', outcome: 'error', message: e.message }));
  let server: MicrosoftSmtpServer | undefined;
  const current = () => server!;
  const hooks = new SubmissionHooks(ctx, limits, current);
  const data = new SubmissionData(ctx, limits, delayed, current);
  server = new MicrosoftSmtpServer(ctx, SUBMISSION_PROFILE, {
    authOptional: false,
    authRequiredMessage: REFUSED.notAuthenticated.text,
    onAuth: (auth, session, callback) => hooks.onAuth(auth, session, callback),
    onMailFrom: (address, session, callback) => hooks.onMailFrom(address, session, callback),
    onRcptTo: (address, session, callback) => hooks.onRcptTo(address, session, callback),
    onData: (stream, session, callback) => data.onData(stream, session, callback),
    onClose: (session) => hooks.onClose(session),
    ...tlsFaults,
  });
  const listener = await listenSmtp(ctx, server, settings.host, settings.submissionPort);
  return {
    port: listener.port,
    close: async () => {
      await listener.close();
      await data.settled();
      await delayed.flush();
    },
  };
}
