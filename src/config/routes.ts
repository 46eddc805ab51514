/**
 * Routes: where mail goes. Each is a transport with its credentials and its mailbox or
 * endpoint settings. The Microsoft 365 routes default to Microsoft's real endpoints and
 * Exchange Online's documented limits; tests and the demo point them at the sandbox.
 */
import { z } from 'zod';
import { address, bool, duration, host, httpsUrl, intInRange, oneOf, port, size, text, tlsVersion } from './fields.js';

const caFiles = () => z.array(text('a path to a PEM CA file')).default([]);

const smarthostRoute = z.strictObject({
  transport: z.literal('smarthost'),
  host: host().describe('The upstream SMTP server.'),
  port: port().default(25),
  tls: oneOf(['starttls', 'implicit', 'opportunistic', 'none'])
    .default('starttls')
    .describe('starttls: required; implicit: TLS from the first byte; opportunistic: STARTTLS when offered; none: never.'),
  minTlsVersion: tlsVersion().default('TLSv1.2'),
  verifyCertificate: bool().default(true).describe('Check the upstream certificate against trusted CAs and its name.'),
  ca: caFiles().describe('Extra CA certificates (PEM files) to trust for this route.'),
  auth: z
    .strictObject({
      user: text('a user name'),
      pass: text('a password'),
      method: oneOf(['LOGIN', 'PLAIN']).optional().describe('Defaults to what the server offers.'),
    })
    .optional(),
  maxConnections: intInRange(1, 100).default(10).describe('Pooled connections kept open to the upstream.'),
  connectTimeout: duration().prefault('30s'),
  timeout: duration().prefault('5m').describe('Longest wait for any single upstream reply.'),
});

const captureRoute = z.strictObject({
  transport: z.literal('capture'),
  dir: text('a folder path').optional().describe('Also write every captured message here as <id>.eml.'),
});

/**
 * The credentials of an Entra ID app registration, through msal-node. flow: app-only (client
 * credentials with a secret or a certificate) or delegated (a user signs in once with
 * `relay365 auth login <route>`; relay365 keeps the refresh token encrypted in its store).
 */
const credentials = z
  .strictObject({
    flow: oneOf(['app-only', 'delegated'])
      .default('app-only')
      .describe('app-only: the app signs in as itself (application permissions, admin consent). delegated: a user signs in once (relay365 auth login <route>, or --device-code) and relay365 keeps the refresh token, encrypted in its store (delegated permissions SMTP.Send or Mail.Send).'),
    tenant: text('a tenant id (GUID) or domain').describe('Directory (tenant) id, or a verified domain such as contoso.onmicrosoft.com.'),
    clientId: text('an application (client) id').describe('The app registration\'s Application (client) id.'),
    clientSecret: text('a client secret')
      .optional()
      .describe('The secret\'s Value (not its Secret ID); optional with flow: delegated (a confidential client). Give it as env:NAME, file:/path or enc:v1:… (relay365 secret encrypt) rather than in plain text.'),
    secretExpires: text('a date such as 2027-06-30')
      .refine((v) => !Number.isNaN(Date.parse(v)), { error: (iss) => `expected a date such as 2027-06-30, got ${JSON.stringify(iss.input)}` })
      .optional()
      .describe('When the client secret expires (shown in the portal); relay365 warns 30 and 7 days before.'),
    certificate: z
      .strictObject({
        key: text('a path to a PEM private key'),
        cert: text('a path to a PEM certificate'),
      })
      .optional()
      .describe('Certificate credentials instead of a secret: the private key and the certificate uploaded to the app registration. relay365 warns 30 and 7 days before it expires.'),
    redirectUri: text('a URL such as http://localhost:3017/')
      .refine((v) => /^https?:\/\/[^\s/]+/.test(v), { error: (iss) => `expected a URL such as http://localhost:3017/, got ${JSON.stringify(iss.input)}` })
      .optional()
      .describe('flow: delegated — where the browser comes back after signing in (default http://localhost:3017/); it must be a redirect URI of the app registration. relay365 auth login listens on its port.'),
    authorityHost: httpsUrl()
      .default('https://login.microsoftonline.com')
      .describe('Entra ID\'s host: login.microsoftonline.us (US Government), login.chinacloudapi.cn (China, 21Vianet), or the sandbox.'),
    tokenEndpoint: httpsUrl('an https:// URL with {tenant}')
      .optional()
      .describe('The token endpoint as a template, e.g. https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token (enaio\'s #TenantID#).'),
    scopes: z
      .array(text('a scope'))
      .optional()
      .describe('Default app-only: https://outlook.office365.com/.default (SMTP) or https://graph.microsoft.com/.default (Graph); delegated: https://outlook.office.com/SMTP.Send or https://graph.microsoft.com/Mail.Send, with offline_access.'),
    graceTime: duration().prefault('30s').describe('Tokens are renewed this long before they expire.'),
  })
  .refine((c) => c.flow === 'delegated' || Boolean(c.clientSecret) !== Boolean(c.certificate), {
    error: 'give either clientSecret or certificate (one of them, not both)',
  })
  .refine((c) => c.flow === 'app-only' || !(c.clientSecret && c.certificate), {
    error: 'flow: delegated takes clientSecret or certificate (a confidential client) or neither (a public client), not both',
  })
  .refine((c) => c.flow === 'delegated' || c.redirectUri === undefined, {
    error: 'redirectUri is for flow: delegated only',
  });

/** Exchange Online's sending limits for one mailbox; the defaults are Microsoft's. */
const pacing = z
  .strictObject({
    messagesPerMinute: intInRange(1, 100_000).default(30),
    recipientsPerDay: intInRange(1, 10_000_000).default(10_000).describe('Rolling 24 hours.'),
    recipientsPerMessage: intInRange(1, 10_000).default(500).describe('Longer recipient lists are sent as several submissions of the same message.'),
    concurrency: intInRange(1, 100).optional().describe('Connections (SMTP, default 3) or requests (Graph, default 4) at once, for all nodes sharing the store together.'),
    minute: duration().prefault('1m').describe('The window of messagesPerMinute (shorter only in tests).'),
    day: duration().prefault('24h').describe('The window of recipientsPerDay (shorter only in tests).'),
  })
  .prefault({});

/** What the route's mailbox may send as, and what to rewrite. */
const sender = z
  .strictObject({
    allowed: z
      .array(text('an address or *@domain'))
      .default([])
      .describe('Header From addresses the mailbox may send as (it has Send As on them): exact, or *@domain. The mailbox itself is always allowed.'),
    rewriteEnvelope: bool().default(false).describe('Send with the mailbox as envelope sender, whatever the application used.'),
    rewriteFrom: oneOf(['never', 'when-not-allowed', 'always'])
      .default('never')
      .describe('Rewrite the header From to the mailbox (the original goes into Reply-To).'),
  })
  .prefault({});

const microsoft365 = {
  ca: caFiles().describe('Extra CA certificates (PEM files) for the token and API endpoints (a TLS-inspecting proxy, or the sandbox).'),
  pacing,
  sender,
};

const graphRoute = z.strictObject({
  transport: z.literal('graph'),
  mailbox: address('the sending mailbox').describe('The mailbox (UPN) that sends: POST /users/{mailbox}/sendMail.'),
  credentials,
  endpoint: httpsUrl().default('https://graph.microsoft.com').describe('Microsoft Graph (graph.microsoft.us, microsoftgraph.chinacloudapi.cn, or the sandbox).'),
  saveToSentItems: bool().default(true),
  largeMessages: z
    .strictObject({
      threshold: size().prefault('3MB').describe('MIME size above which one sendMail request would exceed Graph\'s 4 MB limit.'),
      via: oneOf(['upload-session', 'route'])
        .default('upload-session')
        .describe('upload-session: draft + attachment upload sessions + send (needs Mail.ReadWrite); route: hand over to another route of the same mailbox.'),
      route: text('a route name').optional().describe('With via: route — typically an smtp-oauth route (up to 150 MB with SMTP.SendAsApp only).'),
    })
    .prefault({}),
  bounces: z
    .strictObject({
      read: oneOf(['graph', 'off'])
        .default('graph')
        .describe("graph: read the mailbox's non-delivery reports through Graph (needs Mail.Read) and mark their recipients bounced; off: do not read them (delivered then means accepted by Microsoft 365)."),
      every: duration().prefault('5m').describe('How often the mailbox is looked at for new reports.'),
    })
    .prefault({})
    .describe("Microsoft 365 accepts some mail it cannot deliver (an unknown address in the tenant: 202, then an NDR to the mailbox); the reports tell relay365 which recipients bounced."),
  ...microsoft365,
});

const smtpEndpoint = {
  host: host().optional().describe('Default smtp.office365.com (smtp.hve.mx.microsoft with hve: true).'),
  port: port().default(587),
  hve: bool().default(false).describe('High Volume Email: smtp.hve.mx.microsoft, internal recipients only.'),
  minTlsVersion: tlsVersion().default('TLSv1.2'),
  connectTimeout: duration().prefault('30s'),
  timeout: duration().prefault('5m'),
};

const smtpOAuthRoute = z.strictObject({
  transport: z.literal('smtp-oauth'),
  mailbox: address('the mailbox that signs in').describe('The mailbox in XOAUTH2 user= (a shared mailbox works).'),
  credentials,
  ...smtpEndpoint,
  ...microsoft365,
});

const smtpBasicRoute = z.strictObject({
  transport: z.literal('smtp-basic'),
  mailbox: address('the mailbox that signs in'),
  password: text('the mailbox password'),
  ...smtpEndpoint,
  ...microsoft365,
});

const mxEndpoint = {
  domain: text('an accepted domain').describe('The tenant\'s domain whose MX receives the mail (contoso.com).'),
  host: host().optional().describe('Default: the MX host Microsoft gives, <domain with dashes>.mail.protection.outlook.com.'),
  port: port().default(25),
  minTlsVersion: tlsVersion().default('TLSv1.2'),
  ca: caFiles(),
  connectTimeout: duration().prefault('30s'),
  timeout: duration().prefault('5m'),
};

const directSendRoute = z.strictObject({
  transport: z.literal('direct-send'),
  ...mxEndpoint,
  acceptedDomains: z.array(text('a domain')).optional().describe('Domains with mailboxes in the tenant; default [domain]. Other recipients are not attempted.'),
  fallback: text('a route name').optional().describe('Where recipients outside the tenant go instead of failing.'),
});

const connectorRoute = z.strictObject({
  transport: z.literal('connector'),
  ...mxEndpoint,
  certificate: z
    .strictObject({ key: text('a path to a PEM private key'), cert: text('a path to a PEM certificate') })
    .optional()
    .describe('Client certificate for a certificate-based connector (its CN/SAN is the connector\'s TlsSenderCertificateName).'),
});

export const routeSchema = z.discriminatedUnion('transport', [
  smarthostRoute,
  captureRoute,
  graphRoute,
  smtpOAuthRoute,
  smtpBasicRoute,
  directSendRoute,
  connectorRoute,
]);

export type RouteConfig = z.output<typeof routeSchema>;
export type SmarthostRouteConfig = z.output<typeof smarthostRoute>;
export type CaptureRouteConfig = z.output<typeof captureRoute>;
export type GraphRouteConfig = z.output<typeof graphRoute>;
export type SmtpOAuthRouteConfig = z.output<typeof smtpOAuthRoute>;
export type SmtpBasicRouteConfig = z.output<typeof smtpBasicRoute>;
export type DirectSendRouteConfig = z.output<typeof directSendRoute>;
export type ConnectorRouteConfig = z.output<typeof connectorRoute>;
export type CredentialsConfig = z.output<typeof credentials>;
export type PacingConfig = z.output<typeof pacing>;
export type SenderConfig = z.output<typeof sender>;
