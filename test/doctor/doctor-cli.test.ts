// relay365 doctor and relay365 setup as an admin runs them: the built CLI in a child process, the
// table, the exit codes (0 with ⚠ allowed, 1 with any ✖), --route, --json's documented shape.
import { describe, expect, it } from 'vitest';
import { CHECK_STATUS } from '../../src/doctor/check.js';
import { tempDir, writeConfig } from '../helpers/relay.js';
import { DEMO, useSandbox } from '../helpers/sandbox.js';
import { directSendRoute, doctorCli, oauthRoute, PUBLIC_IP, writeDoctorConfig } from './doctor-helpers.js';

const t = useSandbox();

describe('relay365 doctor', () => {
  it('prints a ✔ table and exits 0 for a healthy route', async () => {
    const dir = writeDoctorConfig(t, { m365: oauthRoute(t) });
    const { code, stdout } = await doctorCli(dir, ['doctor']);
    expect(code).toBe(0);
    expect(stdout).toContain('route m365 (smtp-oauth)');
    expect(stdout).toMatch(/✔ token +aud https:\/\/outlook\.office365\.com, roles SMTP\.SendAsApp/);
    expect(stdout).toMatch(/✔ SMTP AUTH XOAUTH2 localhost:\d+ +signed in as relay@contoso\.example/);
    expect(stdout).toContain('all checks passed: ');
    expect(stdout).not.toContain(DEMO.appOnly.secret);
  });

  it('exits 0 with a ⚠ and prints its fix', async () => {
    const dir = writeDoctorConfig(t, { internal: directSendRoute(t) });
    const { code, stdout } = await doctorCli(dir, ['doctor']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/⚠ MX contoso\.example +The MX of contoso\.example is contoso-example\.mail\.protection\.outlook\.com, but routes\.internal\.host is localhost\./);
    expect(stdout).toContain('fix 1 (MX contoso.example): Remove routes.internal.host');
    expect(stdout).toContain('no check failed: ');
  });

  it('exits 1 when a check fails, with the ✖ and the fix; --route checks only that route', async () => {
    t.edit((tenant) => {
      tenant.mailboxes.find((m) => m.address === DEMO.relay.address)!.smtpClientAuthenticationDisabled = true;
    });
    const dir = writeDoctorConfig(t, { m365: oauthRoute(t), internal: directSendRoute(t) });
    const { code, stdout } = await doctorCli(dir, ['doctor']);
    expect(code).toBe(1);
    expect(stdout).toMatch(/✖ SMTP AUTH XOAUTH2 localhost:\d+ +SMTP AUTH is disabled for relay@contoso\.example/);
    expect(stdout).toContain('Set-CASMailbox -Identity relay@contoso.example -SmtpClientAuthenticationDisabled $false');
    expect(stdout).toContain('some checks failed: ');

    const one = await doctorCli(dir, ['doctor', '--route', 'internal']);
    expect(one.code).toBe(0);
    expect(one.stdout).not.toContain('route m365');
    expect((await doctorCli(dir, ['doctor', '--route', 'nope'])).code).toBe(64);
  });

  it('--json gives the documented shape', async () => {
    const dir = writeDoctorConfig(t, { m365: oauthRoute(t) });
    const { code, stdout } = await doctorCli(dir, ['doctor', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as Record<string, unknown>;
    expect(Object.keys(report)).toEqual(['ok', 'checkedAt', 'config', 'routes']);
    expect(report).toMatchObject({ ok: true, config: { file: `${dir}/relay365.yaml`, checks: [expect.objectContaining({ check: 'config', status: 'pass' })] } });
    const routes = report.routes as { route: string; transport: string; checks: Record<string, unknown>[] }[];
    expect(routes.map((r) => [r.route, r.transport])).toEqual([['m365', 'smtp-oauth']]);
    for (const check of routes[0]!.checks) {
      expect(Object.keys(check)).toEqual(['check', 'title', 'status', 'detail', 'fix', 'ms']);
      expect(CHECK_STATUS).toContain(check.status);
    }
    expect(routes[0]!.checks.map((c) => c.check)).toEqual(['secrets', 'secrets', 'dns', 'tcp', 'tls', 'token', 'smtp-auth', 'sender']);
  });

  it('does not call a client secret from a RELAY365_* variable plain text; one still in the file beside it gets a note', async () => {
    const variable = 'RELAY365_ROUTES__M365__CREDENTIALS__CLIENT_SECRET';
    const secretsOf = async (dir: string) => {
      const { stdout } = await doctorCli(dir, ['doctor', '--json', '--route', 'm365'], { [variable]: DEMO.appOnly.secret });
      const report = JSON.parse(stdout) as { config: { checks: { status: string }[] }; routes: { checks: { check: string; status: string; detail: string; fix: string | null }[] }[] };
      return { config: report.config.checks, secrets: report.routes[0]!.checks.filter((c) => c.check === 'secrets'), token: report.routes[0]!.checks.find((c) => c.check === 'token') };
    };
    const onlyEnv = await secretsOf(writeDoctorConfig(t, { m365: oauthRoute(t, {}, { clientSecret: undefined }) }));
    expect(onlyEnv.token?.status).toBe('pass'); // the variable's secret is the one used
    expect(onlyEnv.secrets.map((c) => [c.status, c.detail])).toEqual([
      ['pass', `routes.m365.credentials.clientSecret comes from the environment (${variable})`],
      ['pass', expect.stringMatching(/^the secret is valid until 2099-12-31/)],
    ]);
    expect(onlyEnv.config.every((c) => c.status === 'pass')).toBe(true);

    const both = await secretsOf(writeDoctorConfig(t, { m365: oauthRoute(t, {}, { clientSecret: 'a-stale-secret-left-in-the-file' }) }));
    expect(both.secrets.filter((c) => c.status === 'warn')).toEqual([
      expect.objectContaining({ detail: `routes.m365.credentials.clientSecret is overridden by ${variable}, but the configuration file still holds it in plain text.`, fix: `Remove routes.m365.credentials.clientSecret from the configuration file; ${variable} gives it.` }),
    ]);
  });

  it('reports a configuration that does not load as a failed check (exit 1), in --json too', async () => {
    const dir = tempDir('relay365-doctor-');
    writeConfig(dir, { routes: { m365: { transport: 'smtp-oauth', mailbox: 'relay@contoso.example', prot: 587 } } });
    const { code, stdout } = await doctorCli(dir, ['doctor', '--json']);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { ok: boolean; config: { checks: { status: string; detail: string }[] }; routes: unknown[] };
    expect(report.ok).toBe(false);
    expect(report.routes).toEqual([]);
    expect(report.config.checks.some((c) => c.status === 'fail' && c.detail.includes('routes.m365'))).toBe(true);
  });
});

describe('relay365 doctor and setup on a secret that does not resolve yet', () => {
  it('report the reference (key and variable or file, never a value) as a failed check and a step, and go on with the rest', async () => {
    const dir = writeDoctorConfig(t, { m365: oauthRoute(t), legacy: { transport: 'smtp-basic', mailbox: DEMO.relay.address, password: 'file:missing-password', host: 'localhost', port: t.sandbox.ports.submission, ca: [t.sandbox.caPath] } });
    const doctor = await doctorCli(dir, ['doctor', '--json'], {});
    expect(doctor.code).toBe(1);
    const report = JSON.parse(doctor.stdout) as { routes: { route: string; checks: { check: string; status: string; detail: string; fix: string | null }[] }[] };
    const [m365, legacy] = report.routes;
    expect(m365!.checks.find((c) => c.status === 'fail')).toMatchObject({
      check: 'secrets',
      detail: 'routes.m365.credentials.clientSecret does not resolve: the environment variable M365_SECRET (env:M365_SECRET) is not set',
      fix: expect.stringContaining("export M365_SECRET='…'"),
    });
    // The rest still runs: the endpoint is checked, only what signs in waits for the secret.
    expect(m365!.checks.map((c) => [c.check, c.status])).toEqual(expect.arrayContaining([['tls', 'pass'], ['token', 'skip']]));
    expect(legacy!.checks.find((c) => c.status === 'fail')?.detail).toBe(`routes.legacy.password does not resolve: cannot read the secret file ${dir}/missing-password (ENOENT)`);
    expect(legacy!.checks.map((c) => [c.check, c.status])).toEqual(expect.arrayContaining([['tcp', 'pass'], ['smtp-auth', 'skip']]));

    const setup = await doctorCli(dir, ['setup', 'm365'], {});
    expect(setup.code).toBe(0);
    expect(setup.stdout).toContain('warning: routes.m365.credentials.clientSecret does not resolve: the environment variable M365_SECRET (env:M365_SECRET) is not set');
    expect(setup.stdout).toContain(`New-ServicePrincipal -AppId ${DEMO.appOnly.clientId}`);
    expect(setup.stdout).toMatch(/== Secrets relay365 cannot read yet\n1\. routes\.m365\.credentials\.clientSecret does not resolve: .* Create the client secret/);
  });
});

describe('relay365 setup', () => {
  it("prints an smtp-oauth route's tenant-side steps with its values", async () => {
    const dir = writeDoctorConfig(t, { m365: oauthRoute(t) });
    const { code, stdout } = await doctorCli(dir, ['setup', 'm365']);
    expect(code).toBe(0);
    expect(stdout).toContain(`New-ServicePrincipal -AppId ${DEMO.appOnly.clientId} -ObjectId <object id of the enterprise application>`);
    expect(stdout).toContain('Add-MailboxPermission -Identity relay@contoso.example');
    expect(stdout).toContain('Set-CASMailbox -Identity relay@contoso.example -SmtpClientAuthenticationDisabled $false');
    expect(stdout).toContain('Add-RecipientPermission -Identity noreply@contoso.example -Trustee relay@contoso.example -AccessRights SendAs');
    expect(stdout).toContain(`/${DEMO.tenantId}/adminconsent?client_id=${DEMO.appOnly.clientId}`);
    expect(stdout).toContain('Connect-ExchangeOnline');
  });

  it('gives a graph route RBAC for Applications in order: the service principal (enterprise application), the scope, the role, the check', async () => {
    const dir = writeDoctorConfig(t, { m365: { transport: 'graph', mailbox: DEMO.relay.address, credentials: oauthRoute(t).credentials } });
    const { code, stdout } = await doctorCli(dir, ['setup', 'm365']);
    expect(code, stdout).toBe(0);
    const sp = stdout.indexOf(`New-ServicePrincipal -AppId ${DEMO.appOnly.clientId} -ObjectId <object id of the enterprise application> -DisplayName "relay365 m365"`);
    const scope = stdout.indexOf('New-ManagementScope -Name "relay365 m365"');
    const role = stdout.indexOf(`New-ManagementRoleAssignment -Role "Application Mail.Send" -App ${DEMO.appOnly.clientId}`);
    const check = stdout.indexOf(`Test-ServicePrincipalAuthorization -Identity ${DEMO.appOnly.clientId} -Resource ${DEMO.relay.address}`);
    expect([sp, scope, role, check].every((i) => i > 0)).toBe(true);
    expect(sp < scope && scope < role && role < check).toBe(true);
    expect(stdout).toContain("not the Object ID on the app registration's page");
    expect(stdout).not.toContain('warning:');
  });

  it('flags a placeholder client id and tenant in setup, doctor and config check, naming the key and what to put there', async () => {
    const dir = writeDoctorConfig(t, { m365: oauthRoute(t, {}, { clientId: '00000000-0000-0000-0000-000000000000', tenant: 'your-tenant-id' }) });
    const setup = await doctorCli(dir, ['setup', 'm365']);
    expect(setup.code).toBe(0);
    expect(setup.stdout.split('\n').slice(0, 3)).toEqual([
      'route m365 (smtp-oauth)',
      expect.stringMatching(/^warning: routes\.m365\.credentials\.clientId is "00000000-0000-0000-0000-000000000000", a placeholder: put the app registration's Application \(client\) ID there \(Microsoft Entra admin center > App registrations > the app > Overview/),
      expect.stringMatching(/^warning: routes\.m365\.credentials\.tenant is "your-tenant-id", a placeholder: put your Directory \(tenant\) ID there/),
    ]);

    const doctor = await doctorCli(dir, ['doctor', '--json', '--route', 'm365']);
    expect(doctor.code).toBe(1);
    const report = JSON.parse(doctor.stdout) as { config: { checks: { detail: string }[] }; routes: { checks: { check: string; title: string; status: string; detail: string; fix: string | null }[] }[] };
    expect(report.routes[0]!.checks.filter((c) => c.title === 'credentials' || c.detail.includes('a placeholder'))).toEqual([
      expect.objectContaining({ check: 'config', status: 'fail', detail: 'routes.m365.credentials.clientId is "00000000-0000-0000-0000-000000000000", a placeholder: Entra ID issues no token for it.', fix: expect.stringMatching(/^Put the app registration's Application \(client\) ID there/) }),
      expect.objectContaining({ check: 'config', status: 'fail', detail: 'routes.m365.credentials.tenant is "your-tenant-id", a placeholder: Entra ID issues no token for it.' }),
    ]);
    expect(report.config.checks.some((c) => c.detail.includes('placeholder'))).toBe(false); // once, with the route

    const check = await doctorCli(dir, ['config', 'check']);
    expect(check.code).toBe(0); // a starter file is valid with them
    expect(check.stderr).toContain(`warning: relay365.yaml: routes.m365.credentials.clientId: "00000000-0000-0000-0000-000000000000" is a placeholder, not a real client id; put the app registration's Application (client) ID there`);
    expect(check.stderr).toContain(`warning: relay365.yaml: routes.m365.credentials.tenant: "your-tenant-id" is a placeholder, not a real tenant; put your Directory (tenant) ID there`);
  });

  it('gives a direct-send route the SPF record with the public IP, as JSON for the console', async () => {
    const dir = writeDoctorConfig(t, { internal: directSendRoute(t) });
    const { code, stdout } = await doctorCli(dir, ['setup', 'internal', '--json']);
    expect(code).toBe(0);
    const guide = JSON.parse(stdout) as { route: string; transport: string; sections: { title: string; steps: { text: string; command?: string }[] }[] };
    expect(guide).toMatchObject({ route: 'internal', transport: 'direct-send' });
    const commands = guide.sections.flatMap((s) => s.steps.map((x) => x.command ?? ''));
    expect(commands).toContain(`contoso.example. TXT "v=spf1 ip4:${PUBLIC_IP} include:spf.protection.outlook.com ~all"`);
    expect(commands).toContain('contoso.example. MX 0 contoso-example.mail.protection.outlook.com.');
    expect((await doctorCli(dir, ['setup', 'nope'])).code).toBe(64);
  });
});
