/**
 * The one definition of relay365's configuration: validation, defaults, the JSON Schema
 * for editors (`relay365 config schema`) and the types the code uses all come from here.
 * A minimal file works; every key has a safe default except what only the admin knows
 * (a smarthost's name, for instance).
 */
import { z } from 'zod';
import { bool, duration, host, intInRange, oneOf, size, text, tlsVersion } from './fields.js';
import { routeSchema } from './routes.js';
import { postgresUrl, storeJsonSchema, storeShorthand } from './store-url.js';
import { secretsSchema } from './master-key.js';
import { appsSchema, protectionSchema } from './apps.js';
import { doctorSchema } from './doctor.js';
import { httpSchema, sendmailSchema } from './submission.js';
import { adminSchema } from './admin.js';
import { notifySchema } from './notify.js';
import { isLoopbackHost } from './listeners.js';


const listenerTls = z
  .strictObject({
    mode: oneOf(['starttls', 'implicit', 'none'])
      .default('starttls')
      .describe('starttls: offer STARTTLS (AUTH only after it); implicit: TLS from the first byte (port 465 style); none: plaintext only, no AUTH unless trustedPlaintext.'),
    cert: text('a path to a PEM certificate file').optional().describe('PEM certificate (chain). Without cert and key a self-signed certificate is generated, with a warning.'),
    key: text('a path to a PEM private key file').optional().describe('PEM private key for cert.'),
    minVersion: tlsVersion().default('TLSv1.2'),
  })
  .prefault({});

const listener = z.strictObject({
  host: host().default('127.0.0.1').describe('Address to listen on; "::" or "0.0.0.0" for every interface.'),
  port: intInRange(0, 65535).default(2525).describe('0 picks a free port (tests); the port chosen is logged.'),
  hostname: text('a host name').optional().describe('Name in the greeting and Received headers; defaults to node.name.'),
  tls: listenerTls,
  maxMessageSize: size().prefault('35MB').describe('Advertised in EHLO SIZE and enforced as the message streams in: nothing past it is stored, and the client gets 552 5.3.4. 35MB is Exchange Online\'s default.'),
  maxRecipients: intInRange(1, 100_000).default(500).describe('Recipients per message (452 4.5.3 beyond it).'),
  maxConnections: intInRange(1, 100_000).default(200).describe('Simultaneous client connections on this listener.'),
  idleTimeout: duration().prefault('5m').describe('A client silent for this long is disconnected.'),
  greetingDelay: duration()
    .prefault(0)
    .describe('Wait before the 220 greeting to catch early talkers. 0 for listeners that only serve known applications (each delay caps throughput for clients that connect per message).'),
  trustedPlaintext: bool()
    .default(false)
    .describe('Allow AUTH without TLS on this listener: only for a listener on 127.0.0.1/::1 (not with tls.mode: implicit), for local applications that cannot do STARTTLS. Without it AUTH needs TLS: 530 5.7.0 before STARTTLS, 503 5.5.1 on a tls.mode: none listener.'),
  restricted: bool()
    .optional()
    .describe('Refuse connections (554) from addresses no app lists in its networks, before the greeting. Default: true on a listener that is not on loopback (127.0.0.1, ::1, localhost), false on loopback.'),
  unauthenticated: z
    .strictObject({
      maxCommands: intInRange(1, 10_000).default(20).describe('Commands a client that is not (yet) an app may give; then 421 4.7.0 and the connection is closed.'),
      timeout: duration().prefault('1m').describe('How long a client that is not (yet) an app may stay connected; then 421 4.7.0 and the connection is closed.'),
    })
    .prefault({})
    .describe('A session whose client is not (yet) an app: not authenticated, and its address in no app\'s networks. AUTH ends these limits.'),
  bareLineEndings: oneOf(['reject', 'normalize'])
    .default('reject')
    .describe('A bare LF or bare CR inside DATA: reject (550 5.5.2, as Postfix does since the SMTP smuggling disclosures) or normalize to CRLF for legacy applications.'),
})
  // A listener other machines can reach takes only the apps' networks unless the admin says otherwise.
  .transform((l) => ({ ...l, restricted: l.restricted ?? !isLoopbackHost(l.host) }));

const retry = z
  .strictObject({
    initial: duration().prefault('1m').describe('Wait after the first transient failure.'),
    factor: z.number().min(1).max(10).default(2).describe('Each further wait is the previous times this.'),
    max: duration().prefault('1h').describe('Longest wait between attempts.'),
    jitter: z.number().min(0).max(1).default(0.2).describe('Random spread (0.2 = ±20 %) so retries do not arrive in waves.'),
  })
  .prefault({});

const delivery = z
  .strictObject({
    concurrency: intInRange(1, 1000).default(20).describe('Messages in delivery at once, all routes together.'),
    lease: duration().prefault('5m').describe('A message being delivered is returned to the queue if its node does not finish or renew within this time (crash safety).'),
    poll: duration().prefault('1s').describe('How often the scheduler looks for due messages besides being woken by new mail.'),
    lifetime: duration().prefault('5d').describe('A message not delivered after this long fails with the last reason.'),
    probe: duration().prefault('5m').describe('A held route (bad secret, SMTP AUTH disabled…) tries one message this often to see whether it works again.'),
    shutdownGrace: duration().prefault('15s').describe('On shutdown, how long deliveries in progress may finish before their messages go back to the queue.'),
    retry,
  })
  .prefault({});

const storeKeys = z.strictObject({
  url: postgresUrl()
    .optional()
    .describe('A PostgreSQL database several nodes share (postgres://user@host/db, TLS with ?sslmode=verify-full); without it, the SQLite file at path. Also RELAY365_STORE_URL, or `store: postgres://…` for short.'),
  password: text('a password').optional().describe('The database password, when it is not in url; best from the environment (RELAY365_STORE__PASSWORD).'),
  connections: intInRange(1, 1000).default(10).describe('PostgreSQL: connections this node keeps open (a few more carry large bodies).'),
  path: text('a file path').default('data/relay365.db').describe('SQLite database file (WAL mode); relative paths are relative to the config file.'),
  spool: text('a folder path').optional().describe('SQLite: folder for message bodies larger than inlineLimit; defaults to "spool" beside the database.'),
  inlineLimit: size().prefault('256KB').describe('Bodies up to this size are committed with the message (one commit); larger ones are streamed to the spool (SQLite) or in chunks (PostgreSQL) first.'),
  retention: duration().prefault('7d').describe('Delivered, failed and cancelled messages (bodies included) are deleted this long after their last change.'),
});
/** `store: postgres://…` is short for `store: { url: … }` (store-url.ts). */
const store = z.preprocess(storeShorthand, storeKeys).prefault({});
/** For z.toJSONSchema: the store key takes a URL or its keys. */
export const storeJsonSchemaOverride = storeJsonSchema(storeKeys);

export const configSchema = z.strictObject({
  node: z
    .strictObject({
      name: text('a host name').optional().describe('This relay\'s name in greetings, Received headers and logs; defaults to the machine\'s host name.'),
    })
    .prefault({}),
  store,
  listeners: z
    .record(z.string(), listener)
    .default({ default: listener.parse({}) })
    .describe('SMTP listeners by name. Without this key: one on 127.0.0.1:2525.'),
  apps: appsSchema.describe('Applications that may send, by name. Without apps only this host (127.0.0.1, ::1) may send.'),
  protection: protectionSchema,
  routes: z.record(z.string(), routeSchema).default({}).describe('Where mail goes, by name. Without routes, mail is captured (kept, not sent).'),
  routing: z
    .strictObject({
      default: text('a route name').optional().describe('The route for mail no rule sends elsewhere; required when there are several routes.'),
      rules: z
        .array(
          z.strictObject({
            senderDomains: z.array(text('a domain')).optional().describe('The envelope sender\'s domain is one of these.'),
            recipientDomains: z.array(text('a domain')).optional().describe('The recipient\'s domain is one of these.'),
            route: text('a route name'),
          }),
        )
        .default([])
        .describe('Rules tried in order; the first that matches a recipient chooses its route. "*.example.com" matches subdomains.'),
    })
    .prefault({}),
  delivery,
  secrets: secretsSchema,
  http: httpSchema,
  sendmail: sendmailSchema,
  admin: adminSchema.describe('The admin console and JSON API (HTTP), /metrics and health checks.'),
  notify: notifySchema.describe('DSNs to senders of mail that failed, and notifications to the admins.'),
  doctor: doctorSchema.describe('relay365 doctor: the DNS servers it asks, this relay\'s public IP addresses, how long each check may take.'),
  log: z
    .strictObject({
      level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
      format: oneOf(['auto', 'json', 'pretty'])
        .default('auto')
        .describe('auto: human-readable lines when stdout is a terminal, JSON lines otherwise (journald, Docker, a pipe); json or pretty: always that. Secrets are censored in both.'),
    })
    .prefault({}),
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type ListenerConfig = z.output<typeof listener>;
export type { RouteConfig, SmarthostRouteConfig, CaptureRouteConfig, GraphRouteConfig, SmtpOAuthRouteConfig, SmtpBasicRouteConfig, DirectSendRouteConfig, ConnectorRouteConfig, CredentialsConfig, PacingConfig, SenderConfig } from './routes.js';
export type { AppConfig, AppsConfig, ProtectionConfig } from './apps.js';
export type { HttpConfig, SendmailConfig } from './submission.js';
export type { AdminConfig } from './admin.js';
export type RetryConfig = z.output<typeof retry>;
