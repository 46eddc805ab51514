/**
 * `smtp-oauth`: SMTP AUTH client submission with an app-only token (AUTH XOAUTH2, `user=` the
 * route's mailbox — a shared mailbox works). Tokens come from the route's TokenProvider: one
 * cached token serves every connection until it is due for renewal. Exchange Online answers a
 * token it no longer accepts (expired early, issued before a permission change) with the same
 * 535 5.7.3 as a missing permission, so a refused cached token is dropped and the message tried
 * once more with a new one; only a second 535 5.7.3 is the route's configuration.
 */
import type { SmtpOAuthRouteConfig } from '../../config/schema.js';
import type { AppTokenProvider } from '../../credentials/app-token.js';
import { createRouteTokenProvider, type RouteTokenProvider } from '../../credentials/providers.js';
import { TokenError, type AccessToken, type TokenProvider } from '../../credentials/token.js';
import { parseReply, type SmtpError } from '../smtp-reply.js';
import { outcome, sameForAll, type DeliveryJob, type DeliveryResult, type Outcome, type Pacing, type Transport, type TransportContext } from '../transport.js';
import type { TokenClaims } from './classify-smtp.js';
import { classifyTokenError, entraFacts } from './classify-token.js';
import { ClientSubmission } from './smtp-submission.js';

/** The claims that explain a refusal, read from the JWT's payload (never verified, never logged whole). */
export function tokenClaims(token: string): TokenClaims | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    return {
      ...(typeof payload.aud === 'string' ? { aud: payload.aud } : {}),
      roles,
      ...(typeof payload.oid === 'string' ? { oid: payload.oid } : {}),
      ...(typeof payload.scp === 'string' ? { scp: payload.scp } : {}),
      ...(typeof payload.upn === 'string' ? { upn: payload.upn } : {}),
    };
  } catch {
    return undefined; // not a JWT: nothing to add to the diagnosis
  }
}

const isTokenRefusal = (err: SmtpError | null): boolean => {
  if (!err?.response || !err.command?.startsWith('AUTH')) return false;
  const reply = parseReply(err.response);
  return reply.code === 535 && reply.enhanced === '5.7.3';
};

/** What the transport needs of its tokens; an app-only provider also says how it is configured (for the fixes). */
export type SmtpTokenSource = TokenProvider & (Partial<Pick<AppTokenProvider, 'endpoints' | 'scopes' | 'credential' | 'close'>> | RouteTokenProvider);

export class SmtpOAuthTransport implements Transport {
  readonly kind = 'smtp-oauth';
  readonly pacing: Pacing;
  private readonly submission: ClientSubmission;

  constructor(
    readonly route: string,
    config: SmtpOAuthRouteConfig,
    ctx: TransportContext,
    private readonly tokens: SmtpTokenSource,
  ) {
    this.submission = new ClientSubmission(
      route,
      config,
      ctx,
      {
        method: 'XOAUTH2',
        user: config.mailbox,
        // nodemailer asks for a token for each new connection (renew: after a 334 challenge).
        provision: (_user, renew, done) => {
          if (renew) this.tokens.invalidate();
          this.tokens.getToken().then(
            (t) => done(null, t.token, t.expiresAt),
            (e: unknown) => done(e as Error),
          );
        },
      },
      { transport: 'smtp-oauth', clientId: config.credentials.clientId, tenant: config.credentials.tenant },
    );
    this.pacing = this.submission.pacing;
  }

  async deliver(job: DeliveryJob): Promise<DeliveryResult> {
    // Asked first so that a credentials problem is explained as one, not as an SMTP failure.
    let token: AccessToken;
    try {
      token = await this.tokens.getToken();
    } catch (e) {
      return sameForAll(job, this.tokenFailure(e));
    }
    // nodemailer hands back the TokenError itself when a new connection could not get a token.
    const ownFailure = (err: SmtpError) => (err instanceof TokenError ? this.tokenFailure(err) : null);
    const first = await this.submission.deliver(job, { token: tokenClaims(token.token) }, ownFailure);
    if (!isTokenRefusal(first.failure)) return first.result;

    // Drop the refused token (unless another delivery has already replaced it) and try once more.
    this.tokens.invalidate(token.token);
    try {
      token = await this.tokens.getToken();
    } catch (e) {
      return sameForAll(job, this.tokenFailure(e));
    }
    job.log.info({ route: this.route }, 'Exchange Online refused the cached token (535 5.7.3): trying once more with a new token');
    return (await this.submission.deliver(job, { token: tokenClaims(token.token) }, ownFailure)).result;
  }

  /** Entra ID gave no token: the route's credentials (held), or Entra ID unreachable for now (deferred). */
  private tokenFailure(error: unknown): Outcome {
    if (!(error instanceof TokenError)) return outcome('transient', `relay365 could not get a token for ${this.submission.facts.mailbox}: ${(error as Error).message}`);
    const { endpoints, scopes, credential } = this.tokens;
    const flow = 'flow' in this.tokens ? this.tokens.flow : undefined;
    const facts = endpoints && scopes && credential ? entraFacts(this.submission.facts, { endpoints, scopes, credential, ...(flow ? { flow } : {}) }) : this.submission.facts;
    return classifyTokenError(error, facts);
  }

  closeConnection(slot: number): Promise<void> {
    return this.submission.closeConnection(slot);
  }

  async close(): Promise<void> {
    await this.submission.close();
    this.tokens.close?.();
  }
}

/**
 * The route's transport with its own token provider: app-only (scope
 * https://outlook.office365.com/.default unless overridden) or delegated (the signed-in user's
 * https://outlook.office.com/SMTP.Send), as credentials.flow says.
 */
export function createSmtpOAuthTransport(route: string, config: SmtpOAuthRouteConfig, ctx: TransportContext): SmtpOAuthTransport {
  const tokens = createRouteTokenProvider({ route, transport: 'smtp-oauth', mailbox: config.mailbox, credentials: config.credentials, ca: config.ca, log: ctx.log.child({ route }), signIns: ctx.signIns, sharedTokens: ctx.sharedTokens });
  return new SmtpOAuthTransport(route, config, ctx, tokens);
}
