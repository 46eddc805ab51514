/**
 * The `admin` key: the console and JSON API's own HTTP listener (src/admin/), who may sign in
 * and with which role, how long a session and an API token last, and what the listener
 * believes of a reverse proxy in front. Off the SMTP listeners on purpose: it can be bound to a
 * management network and put behind its own TLS certificate.
 */
import { z } from 'zod';
import { PASSWORD_HASH } from '../policy/passwords.js';
import { network } from './apps.js';
import { bool, duration, host, intInRange, isLoopbackHost, oneOf, text } from './fields.js';

/** What a console user or API token may do: read-only reads the queue, routes and messages' metadata; admin also acts and reads bodies. */
export const ROLES = ['admin', 'read-only'] as const;
export type Role = (typeof ROLES)[number];

const adminUser = z.strictObject({
  passwordHash: text('a password hash from relay365 admin passwd')
    .refine((v) => PASSWORD_HASH.test(v), { error: 'expected a hash made by `relay365 admin passwd` (scrypt$…), not a password' })
    .describe('scrypt hash made by `relay365 admin passwd <user>`; never the password itself.'),
  role: oneOf(ROLES)
    .default('admin')
    .describe('admin: everything; read-only: the queue, routes, apps, nodes and messages\' envelopes, headers and attempts, but no actions, no API tokens and no message bodies. Users without a role are admins.'),
});

export const adminSchema = z
  .strictObject({
    enabled: bool().default(true).describe('Serve the admin console, JSON API, /metrics, /healthz and /readyz.'),
    host: host()
      .default('127.0.0.1')
      .describe('Address the console listens on. Anything but 127.0.0.1/::1 needs admin.tls, or admin.trustProxy naming the TLS proxy in front: plain HTTP on a network is refused.'),
    port: intInRange(0, 65535).default(8025).describe('0 picks a free port (tests); the port chosen is logged.'),
    tls: z
      .strictObject({
        cert: text('a path to a PEM certificate file').describe('PEM certificate (chain) for the console: HTTPS, and Secure session cookies.'),
        key: text('a path to a PEM private key file').describe('PEM private key for cert.'),
      })
      .optional()
      .describe('Serve the console over HTTPS. Without it, plain HTTP: bind to 127.0.0.1 or put a TLS proxy in front (admin.trustProxy).'),
    trustProxy: z
      .array(network())
      .default([])
      .describe('Reverse proxies in front of the console (addresses or networks). Only requests from these are believed about X-Forwarded-For (the client sign-in lock-outs count and the log names) and X-Forwarded-Proto; [] believes no one.'),
    secureCookies: oneOf(['auto', 'always'])
      .default('auto')
      .describe('auto: the session cookie is Secure when the browser came over HTTPS (admin.tls, or a proxy in admin.trustProxy saying so with X-Forwarded-Proto); always: always Secure (behind a TLS proxy that does not send X-Forwarded-Proto).'),
    metrics: oneOf(['token', 'public'])
      .default('token')
      .describe('token: /metrics needs an API token (any role; Prometheus\'s authorization: credentials) or a session; public: anyone who reaches the port may read it (its labels name apps, routes and listeners).'),
    users: z
      .record(z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, { error: 'a user name is 1 to 64 letters, digits and . _ @ -' }), adminUser)
      .default({})
      .describe('Who may sign in, by user name. With none, each start writes a one-time setup token to setupTokenFile. Taken on reload (SIGHUP): a removed user\'s sessions and API tokens stop working at their next request.'),
    setupTokenFile: text('a file path')
      .default('data/admin-setup-token')
      .describe('Where the one-time setup token is written (mode 0600) while admin.users is empty; the log names the file, never the token. Relative paths are relative to the config file.'),
    sessionLifetime: duration().prefault('8h').describe('A console session ends this long after signing in.'),
    tokenLifetime: duration().prefault('90d').describe('An API token made without --expires (or expiresIn) ends this long after it is made.'),
    tokenMaxLifetime: duration().prefault('365d').describe('The longest an API token may be made to last.'),
    lockout: z
      .strictObject({
        attempts: intInRange(1, 1000).default(5).describe('Failed sign-ins from one address (an IPv6 address counts by its /64), on all nodes together, before the address is locked out, whatever user it tries.'),
        duration: duration().prefault('15m').describe("How long an address's lock-out lasts; failures older than this are forgotten."),
        perUser: intInRange(1, 1000)
          .default(5)
          .describe('From this many failed sign-ins for one user name (from any addresses, none more than duration apart) on, it gets one attempt…'),
        slowDown: duration().prefault('1m').describe('…per this long (429 with Retry-After for the others): slowed down, never locked out…'),
        trustSignedIn: duration().prefault('30d').describe('…and not at all at an address where it signed in within this time.'),
      })
      .prefault({}),
  })
  .prefault({});

export type AdminConfig = z.output<typeof adminSchema>;
export type AdminUsers = AdminConfig['users'];

/**
 * Plain HTTP on a network address would carry passwords, session cookies and API tokens in the
 * clear: refused unless a TLS proxy in front is named (then the relay warns at start-up instead).
 */
export function adminPlainHttpProblem(admin: AdminConfig): string | null {
  if (!admin.enabled || admin.tls || isLoopbackHost(admin.host) || admin.trustProxy.length) return null;
  return `admin.host: the console would serve plain HTTP on ${admin.host}, where passwords, session cookies and API tokens cross the network unencrypted; set admin.tls (cert and key), keep admin.host on 127.0.0.1 or ::1, or name the TLS proxy in front in admin.trustProxy`;
}
