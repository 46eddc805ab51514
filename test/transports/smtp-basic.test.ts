// smtp-basic against the sandbox's client submission endpoint (smtp.office365.com:587's stand-in):
// delivery from the Transport interface and through a running relay, the retirement warning, and
// every AUTH row of the facts table that a password sign-in meets, produced by tenant state.
import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import type { Tenant } from '../../sandbox/tenant/schema.js';
import { SmtpBasicTransport } from '../../src/transports/m365/smtp-basic.js';
import { until } from '../helpers/sink.js';
import { fastRetry, startTestRelay, type TestRelay } from '../helpers/relay.js';
import { DEMO, useSandbox } from '../helpers/sandbox.js';
import { capturingLog, context, jobFor, only, received, route } from './m365-smtp-helpers.js';

const RELAY = DEMO.relay.address;
const t = useSandbox({
  tenant: (d) => {
    d.organization.basicAuthAllowed = true; // the tenant still allows passwords; each row takes away what it needs
  },
});
const { edit } = t;
const relayMailbox = (d: Tenant) => d.mailboxes.find((m) => m.address === RELAY)!;

function basic(password: string = DEMO.relay.password, log = capturingLog().log) {
  const config = route({ transport: 'smtp-basic', mailbox: RELAY, password, host: '127.0.0.1', port: t.sandbox.ports.submission, ca: [t.sandbox.caPath] });
  return t.closeAfterTest(new SmtpBasicTransport('m365', config, context({}, log)));
}

const WARNING =
  'routes.m365 signs in as relay@contoso.example with a password (Basic SMTP AUTH). Microsoft disables Basic SMTP AUTH by default at the end of December 2026 ' +
  '(tenants created after that never have it) and will then remove it for good; after that Exchange Online answers "550 5.7.30 Basic authentication is not supported for Client Submission." ' +
  'Switch this route to transport: smtp-oauth (an app registration with SMTP.SendAsApp, the same mailbox) or graph (Mail.Send).';

describe('smtp-basic', () => {
  it('delivers a message to a tenant mailbox with AUTH LOGIN after STARTTLS, keeping a copy in Sent Items', async () => {
    const job = jobFor({ from: RELAY, to: [DEMO.alice.address], body: 'Invoice 4711 is attached.' });
    const result = await basic().deliver(job);
    expect(only(result)).toMatchObject({ verdict: 'delivered', reply: { code: 250, enhanced: '2.0.0' } });
    expect(await received(t, DEMO.alice.address, job.subject)).toContain('Invoice 4711 is attached.');
    await received(t, RELAY, job.subject, 'SentItems');
    const auth = t.sandbox.events.list({ endpoint: 'submission' }).filter((e) => e.action.startsWith('AUTH'));
    expect(auth.at(-1)).toMatchObject({ action: 'AUTH LOGIN', status: 235, mailbox: RELAY });
  });

  it('warns at start-up and in its status that Basic SMTP AUTH is being retired, and what to switch to', () => {
    const { log, lines } = capturingLog();
    const transport = basic(undefined, log);
    expect(transport.warnings).toEqual([WARNING]);
    expect(lines).toContainEqual(expect.objectContaining({ level: 40, route: 'm365', msg: WARNING }));
  });

  it('delivers through a running relay: application → relay365 → smtp-basic → mailbox', async () => {
    let relay: TestRelay | undefined;
    try {
      relay = await startTestRelay({
        routes: { m365: { transport: 'smtp-basic', mailbox: RELAY, password: DEMO.relay.password, host: '127.0.0.1', port: t.sandbox.ports.submission, ca: [t.sandbox.caPath] } },
      });
      const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, tls: { rejectUnauthorized: false }, logger: false });
      const info = await client.sendMail({ from: RELAY, to: DEMO.bob.address, subject: 'SAP batch job finished', text: 'Job ZFI_CLOSE ended.' });
      client.close();
      const id = /queued as (\S+)/.exec(String(info.response))?.[1] as string;
      expect(await received(t, DEMO.bob.address, 'SAP batch job finished')).toContain('Job ZFI_CLOSE ended.');
      await until(async () => (await relay!.relay.store.get(id))?.state === 'delivered', 10_000, () => `${id} was not delivered`);
      expect(relay.logs).toContainEqual(expect.objectContaining({ msg: WARNING }));
    } finally {
      await relay?.stop();
    }
  });
});

describe('smtp-basic through a running relay, when the route is broken', () => {
  it('holds the message with the diagnosis and fix, and delivers it once the tenant is fixed', async () => {
    edit((d) => {
      relayMailbox(d).smtpClientAuthenticationDisabled = true;
    });
    let relay: TestRelay | undefined;
    try {
      relay = await startTestRelay({
        routes: { m365: { transport: 'smtp-basic', mailbox: RELAY, password: DEMO.relay.password, host: '127.0.0.1', port: t.sandbox.ports.submission, ca: [t.sandbox.caPath] } },
        delivery: { ...fastRetry, probe: '500ms' },
      });
      const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, tls: { rejectUnauthorized: false }, logger: false });
      const info = await client.sendMail({ from: RELAY, to: DEMO.alice.address, subject: 'Dunning run 2026-03', text: 'Level 2 letters.' });
      client.close();
      const id = /queued as (\S+)/.exec(String(info.response))?.[1] as string;
      await until(async () => (await relay!.relay.store.get(id))?.state === 'held', 10_000, () => `${id} was not held`);
      const held = (await relay.relay.store.get(id))!;
      expect(held.recipientDetails[0]).toMatchObject({
        state: 'held',
        verdict: 'route-broken',
        reply: { code: 535, enhanced: '5.7.139' },
        diagnosis: 'SMTP AUTH is disabled for relay@contoso.example (535 5.7.139: SmtpClientAuthentication is disabled for the Mailbox).',
      });
      expect(held.attempts[0]?.fix).toBe(
        'Set-CASMailbox -Identity relay@contoso.example -SmtpClientAuthenticationDisabled $false (the tenant variant, Set-TransportConfig -SmtpClientAuthenticationDisabled $false, does not help here: the mailbox setting wins).',
      );
      edit((d) => {
        relayMailbox(d).smtpClientAuthenticationDisabled = false; // the admin ran the fix
      });
      await until(async () => (await relay!.relay.store.get(id))?.state === 'delivered', 15_000, () => `${id} was not delivered after the fix`);
      expect(await received(t, DEMO.alice.address, 'Dunning run 2026-03')).toContain('Level 2 letters.');
    } finally {
      await relay?.stop();
    }
  });
});

interface AuthRow {
  name: string;
  tenant?: (d: Tenant) => void;
  password?: string;
  reply: string;
  diagnosis: string;
  fix: string;
}

const SWITCH = 'Switch routes.m365 to transport: smtp-oauth (an app registration with the application permission SMTP.SendAsApp; a shared mailbox works) or graph (Mail.Send).';

const ROWS: AuthRow[] = [
  {
    name: 'wrong password',
    password: 'Not-The-Passw0rd',
    reply: '535 5.7.139 Authentication unsuccessful, the user credentials were incorrect.',
    diagnosis: 'Exchange Online refused the password of relay@contoso.example (535 5.7.139: the user credentials were incorrect).',
    fix: `Check routes.m365.password: it must be the current password of relay@contoso.example, a user mailbox (a shared mailbox has no password and cannot sign in). Better: switch routes.m365 to transport: smtp-oauth (an app registration with the application permission SMTP.SendAsApp; a shared mailbox works) or graph (Mail.Send).`,
  },
  {
    name: 'SMTP AUTH disabled for the tenant (the mailbox follows it)',
    tenant: (d) => {
      d.organization.smtpClientAuthenticationDisabled = true;
      relayMailbox(d).smtpClientAuthenticationDisabled = null;
    },
    reply: '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.',
    diagnosis:
      "SMTP AUTH is disabled for the tenant, and relay@contoso.example follows the tenant's setting (535 5.7.139: SmtpClientAuthentication is disabled for the Tenant). Tenants created after January 2020 have it off.",
    fix: 'Enable SMTP AUTH for this mailbox only: Set-CASMailbox -Identity relay@contoso.example -SmtpClientAuthenticationDisabled $false — or for the whole tenant: Set-TransportConfig -SmtpClientAuthenticationDisabled $false. The mailbox setting wins; $null follows the tenant.',
  },
  {
    name: 'SMTP AUTH disabled for the mailbox (although the tenant allows it)',
    tenant: (d) => {
      d.organization.smtpClientAuthenticationDisabled = false;
      relayMailbox(d).smtpClientAuthenticationDisabled = true;
    },
    reply: '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.',
    diagnosis: 'SMTP AUTH is disabled for relay@contoso.example (535 5.7.139: SmtpClientAuthentication is disabled for the Mailbox).',
    fix: 'Set-CASMailbox -Identity relay@contoso.example -SmtpClientAuthenticationDisabled $false (the tenant variant, Set-TransportConfig -SmtpClientAuthenticationDisabled $false, does not help here: the mailbox setting wins).',
  },
  {
    name: 'basic authentication disabled by policy',
    tenant: (d) => {
      d.organization.basicAuthAllowed = false;
    },
    reply: '535 5.7.139 Authentication unsuccessful, basic authentication is disabled.',
    diagnosis: 'Basic authentication (sign-in with a password) is disabled for relay@contoso.example (535 5.7.139: basic authentication is disabled).',
    fix: `${SWITCH} Microsoft disables Basic SMTP AUTH by default at the end of December 2026 and will remove it; re-enabling it (an authentication policy with -AllowBasicAuthSmtp assigned to relay@contoso.example) only works until then.`,
  },
  {
    name: 'Security Defaults',
    tenant: (d) => {
      d.organization.securityDefaults = true;
    },
    reply: "535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator.",
    diagnosis: 'Security Defaults are on in the tenant, and they block SMTP AUTH with a password for relay@contoso.example (535 5.7.139: locked by the security defaults policy).',
    fix: `${SWITCH} App-only tokens are not blocked by Security Defaults. Turning Security Defaults off (Entra admin center > Identity > Overview > Properties > Manage security defaults) weakens the whole tenant; if you do, replace them with Conditional Access policies.`,
  },
  ...(['conditionalAccessBlocked', 'mfaRequired'] as const).map(
    (flag): AuthRow => ({
      name: `Conditional Access (${flag})`,
      tenant: (d) => {
        relayMailbox(d)[flag] = true;
      },
      reply: '535 5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully. Contact your administrator.',
      diagnosis:
        'Entra ID refused the password sign-in of relay@contoso.example: a Conditional Access policy blocks it or requires MFA, which SMTP AUTH with a password cannot do (535 5.7.139: the request did not meet the criteria).',
      fix: `${SWITCH} App-only sign-in has no user MFA. Or exclude relay@contoso.example from the policy (Entra admin center > Protection > Conditional Access; the sign-in logs of relay@contoso.example name the policy that refused it).`,
    }),
  ),
  {
    name: "Microsoft's final removal of basic auth for client submission",
    tenant: (d) => {
      d.organization.basicAuthRetired = true;
    },
    reply: '550 5.7.30 Basic authentication is not supported for Client Submission.',
    diagnosis: 'Microsoft has removed basic authentication for client submission (550 5.7.30 Basic authentication is not supported): relay@contoso.example can no longer sign in with a password.',
    fix: `${SWITCH} Basic SMTP AUTH cannot be re-enabled after Microsoft's final removal.`,
  },
];

describe('smtp-basic: the AUTH rows hold the route with the fix', () => {
  for (const row of ROWS) {
    it(`${row.reply.slice(0, 13)}: ${row.name}`, async () => {
      if (row.tenant) edit(row.tenant);
      const job = jobFor({ from: RELAY, to: [DEMO.alice.address] });
      const result = only(await basic(row.password).deliver(job));
      const [code, enhanced, ...words] = row.reply.split(' ');
      expect(result.reply).toMatchObject({ code: Number(code), enhanced });
      expect(result.reply?.text.startsWith(words.join(' '))).toBe(true);
      expect(result).toMatchObject({ verdict: 'route-broken', retryAt: null });
      expect(result.diagnosis).toBe(row.diagnosis);
      expect(result.fix).toBe(row.fix);
      expect(t.sandbox.mailboxes.list({ mailbox: DEMO.alice.address }).some((e) => e.subject === job.subject)).toBe(false);
    });
  }
});
