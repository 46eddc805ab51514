/**
 * Who is asking: a console session (cookie), an API token (Authorization: Bearer), or nobody.
 *
 * Sessions: a random cookie (HttpOnly, SameSite=Strict, Secure over TLS, Path=/) whose SHA-256
 * is the session's key in the store, so every node of a cluster accepts it. Every state-changing
 * request on a session must carry the session's CSRF token in the X-CSRF-Token header
 * (a synchronizer token, bound to the session server-side); SameSite=Strict is the second wall.
 * Sign-in itself only takes application/json, which a cross-site form cannot send.
 * API tokens carry no ambient authority (a browser never adds them), so they need no CSRF token.
 *
 * Both are checked against the config in force at every request: a session whose user left
 * admin.users (a reload or a restart) is deleted and refused; a token works only until it
 * expires and while its owner is still a user, never above its owner's role (roles.ts).
 *
 * With no admin users configured, a one-time setup token is printed to the log at start: it
 * signs in once (as "setup") so a new admin can look around; `relay365 admin passwd` makes real users.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/cookie';
import type { Logger } from 'pino';
import type { AdminConfig, AdminUsers } from '../config/admin.js';
import { own } from '../config/own.js';
import { maskSecret } from '../config/secrets.js';
import { isBelowCurrentCost, verifyPassword } from '../policy/passwords.js';
import { SignInGuard } from '../policy/sign-in-guard.js';
import type { Store } from '../queue/store.js';
import { tokenStanding } from './api-tokens.js';
import { ProblemError } from './problems.js';
import { roleOfUser, SETUP_USER, type Role } from './roles.js';
import { API_TOKEN_PREFIX, randomToken, sameSecret, sha256 } from './secrets.js';

export { SETUP_USER } from './roles.js';
export const SESSION_COOKIE = 'relay365_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface Caller {
  user: string;
  via: 'session' | 'token';
  role: Role;
  /** The console user (or cli:<os user>) behind the caller: the user itself, or a token's owner. */
  owner: string;
  /** The session's key (hash) and CSRF token, for sessions. */
  sessionId?: string;
  csrf?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

const unauthorized = (detail: string) => new ProblemError(401, 'unauthorized', 'Sign-in required', detail, {}, { 'www-authenticate': 'Bearer realm="relay365"' });

/** Sign-ins checked at once per address and per user name on each node, and how many more may wait (SMTP's are protection.authAtOnce). */
const CONSOLE_AT_ONCE = { perAddress: 2, perUser: 2, waiting: 8 };

export class AdminAuth {
  private setupToken: string | null;
  private readonly signIns: SignInGuard;
  /** Why a request's session was refused (its user removed), for the 401's words. */
  private readonly ended = new WeakMap<FastifyRequest, string>();

  constructor(
    /** Replaced (users only) when a reload changes admin.users. */
    private config: AdminConfig,
    private readonly store: Store,
    private readonly secure: boolean,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.setupToken = Object.keys(config.users).length ? null : `setup-${randomToken(24)}`;
    for (const [user, { passwordHash }] of Object.entries(config.users)) {
      if (isBelowCurrentCost(passwordHash)) log.warn({ user }, `admin.users.${user}.passwordHash was made with less scrypt work than new hashes get: it works, but is cheaper to guess; make a new one with \`relay365 admin passwd ${user}\``);
    }
    const { attempts, duration, perUser, slowDown, trustSignedIn } = config.lockout;
    this.signIns = new SignInGuard(store, 'admin', {
      limits: { address: { max: attempts, windowMs: duration, coolDownMs: duration }, user: { max: perUser, windowMs: duration, slowDownMs: slowDown }, trustMs: trustSignedIn },
      atOnce: CONSOLE_AT_ONCE,
    }, now);
  }

  /**
   * Written to a file only its owner can read when there are no users (the admin needs it to
   * get in); the log says where, since a token in the log would be in every log collector.
   */
  announceSetupToken(url: string): void {
    if (!this.setupToken) return;
    const file = this.config.setupTokenFile;
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      rmSync(file, { force: true }); // a file left by another user or mode is not written into
      writeFileSync(file, `${this.setupToken}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      this.setupToken = null;
      this.log.error({ setupTokenFile: file, error: (err as Error).message }, 'no admin users are configured, and the setup token cannot be written: nobody can sign in to the console until admin.users has a user (relay365 admin passwd <user>)');
      return;
    }
    this.log.warn(
      { setupTokenFile: file, console: url },
      `no admin users are configured: sign in to the console once as user "setup" with the one-time token in ${file}, then add users with \`relay365 admin passwd <user>\``,
    );
  }

  get needsSetup(): boolean {
    return Object.keys(this.config.users).length === 0;
  }

  /** The admin config in force (its users change on reload). */
  get admin(): AdminConfig {
    return this.config;
  }

  /**
   * A reload changed admin.users: sessions and tokens are judged by the new users from their
   * next request; once a real user exists the setup token is void.
   */
  setUsers(users: AdminUsers): void {
    this.config = { ...this.config, users };
    if (this.setupToken && !this.needsSetup) {
      this.setupToken = null;
      rmSync(this.config.setupTokenFile, { force: true });
    }
  }

  /** Fastify onRequest hook: identifies the caller (or leaves it null); CSRF is checked here too. */
  identify = async (request: FastifyRequest): Promise<void> => {
    request.caller = null;
    const header = request.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      if (!match || !match[1]!.startsWith(API_TOKEN_PREFIX)) throw unauthorized('The Authorization header must be "Bearer <API token>" with a token from `relay365 admin token create`.');
      const now = this.now();
      const token = await this.store.useApiToken(sha256(match[1]!), now);
      if (!token) throw unauthorized('This API token is unknown or revoked.');
      const standing = tokenStanding(token, this.config, now);
      if (standing.state === 'expired') {
        throw new ProblemError(401, 'token-expired', 'API token expired', `The API token "${token.name}" expired at ${new Date(token.expiresAt).toISOString()}; make a new one (relay365 admin token create, or POST /api/tokens).`, {}, { 'www-authenticate': 'Bearer realm="relay365", error="invalid_token"' });
      }
      if (!standing.role) throw unauthorized(`The API token "${token.name}" belonged to ${token.owner}, who is no longer in admin.users; make a new one.`);
      request.caller = { user: `token:${token.name}`, via: 'token', role: standing.role, owner: token.owner };
      return;
    }
    const cookie = request.cookies[SESSION_COOKIE];
    if (!cookie) return;
    const session = await this.store.adminSession(sha256(cookie), this.now());
    if (!session) return;
    const role = roleOfUser(session.user, this.config.users);
    if (!role) {
      await this.store.deleteAdminSession(session.id);
      const why = session.user === SETUP_USER ? 'admin users are configured now, so the setup sign-in has ended' : `${session.user} is no longer in admin.users`;
      this.ended.set(request, why);
      this.log.info({ user: session.user, client: request.ip }, `admin session ended: ${why}`);
      return;
    }
    request.caller = { user: session.user, via: 'session', role, owner: session.user, sessionId: session.id, csrf: session.csrf };
  };

  /** For every state-changing request of a session: the CSRF token must come back in the header. */
  checkCsrf(request: FastifyRequest): void {
    const caller = request.caller;
    if (!caller || caller.via !== 'session') return;
    const given = request.headers[CSRF_HEADER];
    if (typeof given !== 'string' || !caller.csrf || !sameSecret(given, caller.csrf)) {
      throw new ProblemError(403, 'csrf', 'CSRF token missing or wrong', `A request that changes something must carry the session's CSRF token in the ${CSRF_HEADER} header (GET /api/session returns it).`);
    }
  }

  require(request: FastifyRequest): Caller {
    if (!request.caller) {
      const ended = this.ended.get(request);
      throw unauthorized(`${ended ? `Your session has ended: ${ended}. ` : ''}Sign in to the console (POST /api/login) or send an API token (Authorization: Bearer).`);
    }
    return request.caller;
  }

  async login(request: FastifyRequest, reply: FastifyReply, user: string, password: string): Promise<{ user: string; csrfToken: string; expiresAt: number }> {
    // Counted per client address and per user name, for every node together, before the
    // password is checked (policy/sign-in-guard.ts): an address that guesses is locked out, a
    // user that is guessed at is only slowed down — nobody can lock `admin` out.
    const outcome = await this.signIns.attempt(request.ip, user, async () => ((await this.passwordMatches(user, password)) ? true : undefined));
    // The user field may hold a password typed in the wrong place: only a user that exists is logged as it is.
    const shown = { user: this.isUser(user) ? user : maskSecret(user), client: request.ip };
    if (!outcome.ok) {
      const wait = (until: number) => Math.max(1, Math.ceil((until - this.now()) / 1000));
      const tooMany = (slug: string, title: string, seconds: number, detail: string) =>
        new ProblemError(429, slug, title, detail, { retryAfter: seconds }, { 'retry-after': String(seconds) });
      switch (outcome.refusal) {
        case 'wrong':
          this.log.warn({ ...shown, coolDownUntil: outcome.coolDownUntil ? new Date(outcome.coolDownUntil).toISOString() : undefined }, 'admin sign-in failed');
          throw new ProblemError(401, 'bad-credentials', 'Wrong user or password', 'The user name or the password is wrong.');
        case 'cooling-down':
          this.log.warn(shown, 'admin sign-in refused: the address is locked out');
          throw tooMany('locked-out', 'Too many failed sign-ins', wait(outcome.until), `Sign-in from ${request.ip} is locked for ${wait(outcome.until)} s after ${this.config.lockout.attempts} failed sign-ins.`);
        case 'slowed-down':
          this.log.warn(shown, 'admin sign-in refused: too many failed sign-ins for this user, slowed down');
          throw tooMany('slowed-down', 'Too many failed sign-ins for this user', wait(outcome.until), `Too many failed sign-ins for this user name: wait ${wait(outcome.until)} s before the next attempt.`);
        case 'busy':
          this.log.warn({ ...shown, busy: outcome.of }, 'admin sign-in refused: too many at once');
          throw tooMany('busy', 'Too many sign-ins at once', 1, 'Too many sign-ins are being checked at once; try again in a moment.');
      }
    }
    const now = this.now();
    if (user === SETUP_USER && this.setupToken) {
      this.setupToken = null; // one time only
      rmSync(this.config.setupTokenFile, { force: true });
    }
    const cookie = randomToken();
    const session = { id: sha256(cookie), user, csrf: randomToken(), createdAt: now, expiresAt: now + this.config.sessionLifetime };
    await this.store.createAdminSession(session, now);
    reply.setCookie(SESSION_COOKIE, cookie, { httpOnly: true, sameSite: 'strict', secure: this.secure, path: '/', expires: new Date(session.expiresAt) });
    this.log.info(shown, 'admin signed in');
    return { user, csrfToken: session.csrf, expiresAt: session.expiresAt };
  }

  async logout(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (request.caller?.sessionId) await this.store.deleteAdminSession(request.caller.sessionId);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
  }

  private isUser(user: string): boolean {
    return Object.hasOwn(this.config.users, user) || (user === SETUP_USER && this.setupToken !== null);
  }

  private async passwordMatches(user: string, password: string): Promise<boolean> {
    if (user === SETUP_USER && this.setupToken) return sameSecret(password, this.setupToken);
    // An unknown user is checked against a dummy hash of the same cost: a wrong user name takes as long as a wrong password.
    return verifyPassword(password, own(this.config.users, user)?.passwordHash);
  }
}
