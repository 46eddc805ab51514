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
