/**
 * `relay365 init [--transport T]`: writes a commented starter relay365.yaml for one way
 * into Microsoft 365 — never over an existing file — and prints what to do next, including
 * `relay365 setup ROUTE` for the tenant side. The file is valid as written once its secret
 * is in the environment; the placeholders say what to put where.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { EXIT, fail } from './context.js';

export const INIT_TRANSPORTS = ['graph', 'smtp-oauth', 'smtp-basic', 'direct-send', 'connector', 'smarthost'] as const;
type InitTransport = (typeof INIT_TRANSPORTS)[number];
const EX_CANTCREAT = 73;
const ROUTE = 'm365';
const SECRET_VARIABLE = 'M365_SECRET';

const appCredentials = `    credentials:
      # The app registration in Entra ID (relay365 setup ${ROUTE} says how to make it).
      tenant: contoso.onmicrosoft.com
      clientId: 00000000-0000-0000-0000-000000000000
      # The client secret, from the environment (or file:/path, or enc:v1:… from relay365 secret encrypt).
      clientSecret: env:${SECRET_VARIABLE}
      # The date the portal shows for the secret: warned about 30 and 7 days ahead.
      # secretExpires: 2027-06-30`;

const ROUTES: Record<InitTransport, { comment: string; body: string; secret: boolean }> = {
  graph: {
    comment: 'Microsoft Graph sendMail: application permission Mail.Send (admin consent).',
    body: `    transport: graph
    # The mailbox that sends (its UPN).
    mailbox: relay@contoso.com
${appCredentials}`,
    secret: true,
  },
  'smtp-oauth': {
    comment: 'smtp.office365.com:587 with OAuth2 (XOAUTH2): SMTP.SendAsApp, a service principal with FullAccess on the mailbox, SMTP AUTH enabled for it.',
    body: `    transport: smtp-oauth
    mailbox: relay@contoso.com
${appCredentials}`,
    secret: true,
  },
  'smtp-basic': {
    comment: 'smtp.office365.com:587 with the mailbox password. Microsoft disables Basic SMTP AUTH by default at the end of December 2026: prefer graph or smtp-oauth.',
    body: `    transport: smtp-basic
    mailbox: relay@contoso.com
    password: env:${SECRET_VARIABLE}`,
    secret: true,
  },
  'direct-send': {
    comment: "Direct Send: the tenant's MX on port 25, no authentication, recipients in the tenant only; SPF must include this host's IP.",
    body: `    transport: direct-send
    # The accepted domain whose MX receives the mail.
    domain: contoso.com`,
    secret: false,
  },
  connector: {
    comment: "An inbound connector in Exchange Online for this host's static IP or its certificate: the MX on port 25 with TLS.",
    body: `    transport: connector
    domain: contoso.com
    # For a certificate-based connector (CN/SAN = the connector's TlsSenderCertificateName):
    # certificate:
    #   key: /etc/relay365/relay.key
    #   cert: /etc/relay365/relay.crt`,
    secret: false,
  },
  smarthost: {
    comment: 'Any SMTP server (an on-premises Exchange, a hybrid server, another relay).',
    body: `    transport: smarthost
    host: smtp.contoso.example
    port: 587
    tls: starttls
    auth:
      user: relay@contoso.example
      pass: env:${SECRET_VARIABLE}`,
    secret: true,
  },
};

export function starterConfig(transport: InitTransport, schemaPath: string, node = hostname()): string {
  const route = ROUTES[transport];
  return `# yaml-language-server: $schema=${schemaPath}
#
# relay365.yaml, written by \`relay365 init --transport ${transport}\`. Every key, its default and
# what it is for: relay365.example.yaml (beside relay365.schema.json). Check this file with
# \`relay365 config check\`; after a change, \`systemctl reload relay365\` (SIGHUP) takes apps and
# routing without a restart.

node:
  # This relay's name in SMTP greetings, Received headers and logs.
  name: ${node}

store:
  # The queue (SQLite, relative to this file). Under the systemd unit: /var/lib/relay365/relay365.db.
  path: data/relay365.db

listeners:
  default:
    # 0.0.0.0 (or ::) to take mail from other machines; then list them under apps. Such a
    # listener takes only the apps' networks unless it says restricted: false (apps that AUTH).
    host: 127.0.0.1
    # 25 or 587 for applications that cannot change the port (below 1024 needs CAP_NET_BIND_SERVICE).
    port: 2525

apps:
  # Who may send: recognised by source address (SAP SCOT, scanners) or SMTP AUTH
  # (\`relay365 app passwd APP\` makes the hash). Never an open relay.
  local:
    networks: [127.0.0.1, "::1"]
    # An application that logs in:
    # auth:
    #   passwordHash: scrypt$…            # relay365 app passwd erp
    # API tokens for the HTTP submission API: relay365 app token erp
    # apiTokens: [sha256$…]

routes:
  # ${route.comment}
  ${ROUTE}:
${route.body}

routing:
  default: ${ROUTE}

# The HTTP submission API (POST /api/v1/messages), off without this key:
# http:
#   host: 127.0.0.1
#   port: 8026

# Where \`relay365 sendmail\` (and a sendmail symlink) submits, and as which app:
# sendmail:
#   app: local
#   password: env:SENDMAIL_PASSWORD
`;
}

export function initCommand(program: Command): void {
  program
    .command('init')
    .description('write a commented starter relay365.yaml for one transport, and print the next steps')
    .option('--transport <transport>', `one of ${INIT_TRANSPORTS.join(', ')}`, 'graph')
    .option('--file <file>', 'where to write it', 'relay365.yaml')
    .action((opts: { transport: string; file: string }) => {
      const transport = opts.transport as InitTransport;
      if (!INIT_TRANSPORTS.includes(transport)) fail(`--transport ${opts.transport}: expected one of ${INIT_TRANSPORTS.join(', ')}`, EXIT.usage);
      const file = resolve(opts.file);
      if (existsSync(file)) fail(`${opts.file} exists; relay365 init never overwrites a config (move it away, or give --file)`, EX_CANTCREAT);
      const schema = fileURLToPath(new URL('../../../relay365.schema.json', import.meta.url));
      writeFileSync(file, starterConfig(transport, schema), { flag: 'wx', mode: 0o640 });
      const secret = ROUTES[transport].secret;
      const steps = [
        `Wrote ${opts.file} (route "${ROUTE}", transport ${transport}). Next:`,
        `  1. Edit it: the placeholders (contoso.com, the ids) and which applications may send (apps).`,
        ...(secret ? [`  2. Give the secret in the environment: export ${SECRET_VARIABLE}=… (or a file: reference, or relay365 secret encrypt).`] : [`  2. No secret needed for ${transport}.`]),
        `  3. The tenant side — app registration, permissions, PowerShell: relay365 setup ${ROUTE}`,
        `  4. relay365 ${opts.file === 'relay365.yaml' ? '' : `--config ${opts.file} `}config check`,
        `  5. relay365 serve (or the systemd unit: see packaging/relay365.service), then relay365 send-test --to you@contoso.com`,
      ];
      process.stdout.write(`${steps.join('\n')}\n`);
    });
}
