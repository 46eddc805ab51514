/**
 * The other ways in besides SMTP listeners: the HTTP submission API's own listener, and
 * where `relay365 sendmail` submits (for cron jobs and scripts that pipe to sendmail).
 * Both go through the same door and the same commit as SMTP.
 */
import { z } from 'zod';
import { network } from './apps.js';
import { duration, host, intInRange, isLoopbackHost, oneOf, size, text, tlsVersion } from './fields.js';

export const httpSchema = z
  .strictObject({
    host: host()
      .default('127.0.0.1')
      .describe('Address the HTTP submission API listens on; "::" or "0.0.0.0" for every interface (then tls.mode: https, or http.trustProxy naming the TLS proxy in front: plain HTTP on a network is refused).'),
    port: intInRange(0, 65535).default(8026).describe('Port of the HTTP submission API (0 picks a free one; the port chosen is logged).'),
    tls: z
      .strictObject({
        mode: oneOf(['none', 'https'])
          .default('none')
          .describe('none: plain HTTP (only on 127.0.0.1/::1, or behind a TLS-terminating proxy named in http.trustProxy: the API token travels in every request); https: TLS with cert and key.'),
        cert: text('a path to a PEM certificate file').optional().describe('PEM certificate (chain) for https. Without cert and key a self-signed certificate is generated, with a warning.'),
        key: text('a path to a PEM private key file').optional().describe('PEM private key for cert.'),
        minVersion: tlsVersion().default('TLSv1.2'),
      })
      .prefault({}),
    trustProxy: z
      .array(network())
      .default([])
      .describe('Reverse proxies in front of the API (addresses or networks): only requests from these are believed about X-Forwarded-For, the client address in the log and the Received header. [] believes no one.'),
    hostname: text('a host name').optional().describe('Name in the Received header of messages submitted over HTTP; defaults to node.name.'),
    maxMessageSize: size().prefault('35MB').describe('Largest message (raw MIME, or the message built from JSON) the API takes: 413 beyond.'),
    maxRecipients: intInRange(1, 100_000).default(500).describe('Recipients (to, cc and bcc together) per request.'),
    maxConcurrent: intInRange(1, 100_000)
      .default(20)
      .describe('Submissions taken in at once (each holds its body in memory until committed); beyond it 503 (busy) with Retry-After.'),
    maxBuffered: size()
      .prefault('256MB')
      .describe('Bytes of request bodies held in memory at once, all submissions together (reserved from Content-Length, else as they arrive); beyond it 503 (busy) with Retry-After. At least maxMessageSize.'),
    idempotencyTtl: duration().prefault('24h').describe('How long an Idempotency-Key and its first answer are kept: a retry within this time gets the same answer and creates no second message.'),
  })
  .optional()
  .describe('The HTTP submission API (POST /api/v1/messages) on its own listener; without this key it is off.');

export const sendmailSchema = z
  .strictObject({
    host: host().optional().describe('Where `relay365 sendmail` submits; default: the first SMTP listener\'s address (127.0.0.1 when it listens on every interface).'),
    port: intInRange(1, 65535).optional().describe('Port to submit to; default: the first SMTP listener\'s port.'),
    tls: oneOf(['starttls', 'implicit', 'none']).optional().describe('How to talk TLS to it; default: as the listener does. The relay\'s own (possibly self-signed) certificate is accepted. With app, starttls requires the upgrade (no password or message goes to a relay that does not do STARTTLS), and none is refused for a relay on another host.'),
    app: text('an app name').optional().describe('The app to authenticate as (its auth.user); without it, sendmail relies on its address being in an app\'s networks (127.0.0.1 by default).'),
    password: text('a password').optional().describe('The app\'s password, best as env:NAME or file:/path (readable by the users that run sendmail); required with app. The only secret of the config sendmail resolves: the users it runs as need not read the others or the master key.'),
    timeout: duration().prefault('60s').describe('How long to wait for the relay before exiting 75 (EX_TEMPFAIL).'),
  })
  .optional()
  .describe('How `relay365 sendmail` (and the `sendmail` symlink) reaches the relay.');

export type HttpConfig = NonNullable<z.output<typeof httpSchema>>;
/** Plain HTTP on a network address would carry the apps' API tokens in the clear: refused unless a TLS proxy in front is named. */
export function httpPlainHttpProblem(http: HttpConfig | undefined): string | null {
  if (!http || http.tls.mode !== 'none' || isLoopbackHost(http.host) || http.trustProxy.length) return null;
  return `http.tls.mode: the HTTP submission API would take API tokens over plain HTTP on ${http.host}; set http.tls.mode: https, keep http.host on 127.0.0.1 or ::1, or name the TLS proxy in front in http.trustProxy`;
}

export type SendmailConfig = NonNullable<z.output<typeof sendmailSchema>>;
