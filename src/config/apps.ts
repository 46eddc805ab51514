/**
 * Applications: who may send through the relay, recognised by SMTP AUTH or by source
 * address, and what each may send. Without any app configured, only this host
 * (127.0.0.1, ::1) may send — relay365 is never an open relay.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { duration, intInRange, size, text } from './fields.js';
import { PASSWORD_HASH } from '../policy/passwords.js';
import { API_TOKEN_HASH } from '../policy/api-tokens.js';
import { appDsnTarget } from './notify.js';

const got = (input: unknown) => JSON.stringify(input);

/** An address or network: 10.1.2.3, 10.1.0.0/16, ::1, 2001:db8::/32. */
export function network() {
  return text('an IP address or network').refine(
    (value) => {
      const [address, bits, extra] = value.split('/');
      const family = isIP(address ?? '');
      if (!family || extra !== undefined) return false;
      if (bits === undefined) return true;
      const n = Number(bits);
      return /^\d+$/.test(bits) && n >= 0 && n <= (family === 4 ? 32 : 128);
    },
    { error: (iss) => `expected an IP address or network such as 10.1.0.0/16 or 2001:db8::/32, got ${got(iss.input)}` },
  );
}

/** An address pattern: local@domain, *@domain, or a bare domain meaning *@domain. */
const addressPattern = () => text('an address or *@domain');

const app = z.strictObject({
  auth: z
    .strictObject({
      user: text('a user name').optional().describe('The SMTP AUTH user name; default: the app\'s name.'),
      passwordHash: text('a password hash from relay365 app passwd')
        .refine((v) => PASSWORD_HASH.test(v), { error: 'expected a hash made by `relay365 app passwd` (scrypt$…), not a password' })
        .describe('scrypt hash made by `relay365 app passwd <app>`; never the password itself.'),
    })
    .optional()
    .describe('SMTP AUTH (PLAIN or LOGIN, only after STARTTLS unless the listener is trustedPlaintext).'),
  apiTokens: z
    .array(text('a token hash from relay365 app token').refine((v) => API_TOKEN_HASH.test(v), { error: 'expected a hash made by `relay365 app token` (sha256$…), not a token' }))
    .default([])
    .describe('Hashes of the app\'s API tokens for the HTTP submission API (Authorization: Bearer), made by `relay365 app token <app>`; remove one to revoke it.'),
  networks: z.array(network()).default([]).describe('Source addresses that are this app without AUTH (SAP SCOT without login, scanners): IPv4/IPv6 addresses or networks.'),
  senders: z.array(addressPattern()).default([]).describe('Allowed envelope senders (MAIL FROM): exact, or *@domain. Empty: any.'),
  from: z
    .array(addressPattern())
    .default([])
    .describe('Allowed header From and Sender addresses, checked after DATA: every address of them, and one From and one Sender header at most (RFC 5322). Empty: any.'),
  rewrite: z
    .strictObject({
      to: text('an address').describe('The address to send as: the route mailbox (relay@contoso.com).'),
      envelope: z.boolean().default(true).describe('Rewrite MAIL FROM to it.'),
      from: z.boolean().default(true).describe('Rewrite the header From to it, keeping the original as Reply-To.'),
    })
    .optional()
    .describe('For applications that send as sapadmin@localhost: their mail goes out as a real mailbox.'),
  defaultDomain: text('a domain').optional().describe('Appended to bare local parts in MAIL FROM and RCPT TO, as SAP SCOT\'s default domain does.'),
  recipients: z
    .strictObject({
      allowDomains: z
        .array(text('a domain'))
        .default([])
        .describe('Only these recipient domains ("*.example.com" for subdomains). Empty: any. Compared without case or trailing dot, IDN as punycode; address literals are refused.'),
      denyDomains: z.array(text('a domain')).default([]).describe('Never these recipient domains.'),
      maxPerMessage: intInRange(1, 100_000).optional().describe('Recipients per message for this app.'),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxMessageSize: size().optional().describe('Largest message this app may send (552 5.3.4 beyond; kept as the message streams in, like the listener\'s).'),
      messagesPerMinute: intInRange(1, 1_000_000).optional().describe('451 4.7.1 beyond, with the reason.'),
      recipientsPerDay: intInRange(1, 100_000_000).optional().describe('Rolling 24 hours; 451 4.7.1 beyond.'),
    })
    .prefault({}),
  route: text('a route name').optional().describe('The route for this app\'s mail (default: routing.default).'),
  routes: z
    .array(z.strictObject({ recipientDomains: z.array(text('a domain')), route: text('a route name') }))
    .default([])
    .describe('Per-recipient-domain routes for this app, tried first (internal domains via direct-send, the rest via graph).'),
  fallback: text('a route name').optional().describe('Used while this app\'s route is held (route-broken) or paused.'),
  dsn: appDsnTarget(),
});

export const appsSchema = z.record(z.string(), app).default({});

export const protectionSchema = z
  .strictObject({
    authFailures: z
      .strictObject({
        max: intInRange(1, 1000).default(5).describe('Failed AUTH attempts from one address (an IPv6 address counts by its /64), on all nodes together…'),
        window: duration().prefault('10m').describe('…within this time…'),
        coolDown: duration().prefault('15m').describe('…make it get 421 4.7.0 for this long, whatever user it tries.'),
        perUser: intInRange(1, 1000)
          .default(5)
          .describe('From this many failed AUTH attempts for one user name (from any addresses, none more than window apart) on, it gets one attempt…'),
        slowDown: duration().prefault('1m').describe('…per this long (454 4.7.0 for the others): slowed down, never locked out…'),
        trustSignedIn: duration().prefault('30d').describe('…and not at all at an address where it signed in within this time.'),
      })
      .prefault({}),
    authAtOnce: z
      .strictObject({
        perAddress: intInRange(1, 100).default(2).describe('AUTH password checks at once, on each node, for one address (an IPv6 address: its /64)…'),
        perUser: intInRange(1, 100).default(2).describe('…and for one user name…'),
        waiting: intInRange(0, 1000).default(8).describe('…with this many more waiting their turn behind each; beyond that, 454 4.7.0.'),
      })
      .prefault({}),
    connectionsPerAddress: intInRange(1, 100_000).default(50).describe('Simultaneous connections from one address, all listeners together.'),
  })
  .prefault({});

export type AppConfig = z.output<typeof app>;
export type AppsConfig = z.output<typeof appsSchema>;
export type ProtectionConfig = z.output<typeof protectionSchema>;
