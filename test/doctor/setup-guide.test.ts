// setupGuide(): the tenant-side steps of each transport, filled in with the route's values, as data
// (the CLI prints it, the admin console shows it): no terminal formatting in it.
import { describe, expect, it } from 'vitest';
import { routeSchema } from '../../src/config/routes.js';
import { setupGuide, type SetupGuide } from '../../src/doctor/setup-guide.js';

const APP = '3c0d7a55-2f7e-4b8e-9c1a-5e6f7a8b9c01';
const TENANT = '6f1c2b2e-7d55-4c07-9a4f-2b4f0c8a1d11';
const guide = (name: string, input: Record<string, unknown>, publicIps: string[] = []) => setupGuide(name, routeSchema.parse(input), { publicIps });
const commands = (g: SetupGuide) => g.sections.flatMap((s) => s.steps.flatMap((x) => (x.command ? x.command.split('\n') : [])));
const texts = (g: SetupGuide) => JSON.stringify(g);

describe('setupGuide', () => {
  it('graph app-only: Mail.Send, the admin-consent URL, RBAC for Applications scoped to the mailbox, Send As', () => {
    const g = guide('m365', { transport: 'graph', mailbox: 'relay@contoso.com', credentials: { tenant: TENANT, clientId: APP, clientSecret: 'x' }, sender: { allowed: ['billing@contoso.com'] } });
    expect(g.summary).toContain('Mail.Send');
    expect(g.sections.flatMap((s) => s.steps.map((x) => x.url))).toContain(`https://login.microsoftonline.com/${TENANT}/adminconsent?client_id=${APP}`);
    expect(commands(g)).toContain(`New-ManagementRoleAssignment -Role "Application Mail.Send" -App ${APP} -CustomResourceScope "relay365 m365"`);
    // Exchange knows the app only as a service principal: it comes first, from the enterprise application's object id.
    const order = commands(g).filter((c) => /^(New-ServicePrincipal|New-ManagementScope|New-ManagementRoleAssignment|Test-ServicePrincipalAuthorization) /.test(c)).map((c) => c.split(' ')[0]);
    expect(order).toEqual(['New-ServicePrincipal', 'New-ManagementScope', 'New-ManagementRoleAssignment', 'Test-ServicePrincipalAuthorization']);
    expect(commands(g)).toContain(`New-ServicePrincipal -AppId ${APP} -ObjectId <object id of the enterprise application> -DisplayName "relay365 m365"`);
    expect(g.warnings).toEqual([]);
    expect(commands(g)).toContain('Add-RecipientPermission -Identity billing@contoso.com -Trustee relay@contoso.com -AccessRights SendAs -Confirm:$false');
    expect(texts(g)).not.toMatch(/\u001b\[/); // no terminal colours
  });

  it('smtp-oauth app-only: the service principal from the enterprise application, then FullAccess or RBAC for Applications', () => {
    const g = guide('m365', { transport: 'smtp-oauth', mailbox: 'relay@contoso.com', credentials: { tenant: TENANT, clientId: APP, clientSecret: 'x' } });
    const sp = g.sections.flatMap((s) => s.steps).find((x) => x.command?.startsWith('New-ServicePrincipal'));
    expect(sp?.command).toBe(`New-ServicePrincipal -AppId ${APP} -ObjectId <object id of the enterprise application> -DisplayName "relay365 m365"`);
    expect(sp?.text).toMatch(/ENTERPRISE APPLICATION.*not the Object ID on the app registration's page/);
    expect(commands(g)).toContain(`New-ManagementRoleAssignment -Role "Application SMTP.SendAsApp" -App ${APP} -CustomResourceScope "relay365 m365"`);
  });

  it('says first when the client id or tenant is still a placeholder, naming the key and what belongs there', () => {
    const g = guide('m365', { transport: 'graph', mailbox: 'relay@contoso.com', credentials: { tenant: 'your-tenant-id', clientId: '00000000-0000-0000-0000-000000000000', clientSecret: 'x' } });
    expect(g.warnings).toEqual([
      expect.stringMatching(/^routes\.m365\.credentials\.clientId is "00000000-0000-0000-0000-000000000000", a placeholder: put the app registration's Application \(client\) ID there/),
      expect.stringMatching(/^routes\.m365\.credentials\.tenant is "your-tenant-id", a placeholder: put your Directory \(tenant\) ID there/),
    ]);
    expect(guide('m365', { transport: 'graph', mailbox: 'relay@contoso.com', credentials: { tenant: 'contoso.com', clientId: APP, clientSecret: 'x' } }).warnings).toEqual([]);
  });

  it('smtp-oauth delegated: redirect URI, SMTP.Send with offline_access, public client flows, auth login', () => {
    const g = guide('alice', { transport: 'smtp-oauth', mailbox: 'alice@contoso.com', credentials: { flow: 'delegated', tenant: TENANT, clientId: APP } });
    expect(texts(g)).toContain('redirect URI http://localhost:3017/');
    expect(texts(g)).toContain('Office 365 Exchange Online > SMTP.Send, and offline_access');
    expect(texts(g)).toContain('Allow public client flows: Yes');
    expect(commands(g)).toContain('Set-CASMailbox -Identity alice@contoso.com -SmtpClientAuthenticationDisabled $false');
    expect(commands(g).some((c) => c.startsWith('relay365 auth login alice'))).toBe(true);
  });

  it('connector: the certificate connector, MX and SPF with the public IP', () => {
    const g = guide('relay', { transport: 'connector', domain: 'contoso.com', certificate: { key: 'k.pem', cert: 'c.pem' } }, ['198.51.100.7']);
    expect(commands(g)).toContain('New-InboundConnector -Name "relay365" -ConnectorType OnPremises -SenderDomains * -RequireTls $true -TlsSenderCertificateName contoso.com');
    expect(commands(g)).toContain('contoso.com. TXT "v=spf1 ip4:198.51.100.7 include:spf.protection.outlook.com ~all"');
    expect(commands(g)).toContain('contoso.com. MX 0 contoso-com.mail.protection.outlook.com.');
  });

  it('connector by IP without doctor.publicIps says where the IP goes', () => {
    const g = guide('relay', { transport: 'connector', domain: 'contoso.com' });
    expect(commands(g).find((c) => c.startsWith('New-InboundConnector'))).toContain("-SenderIPAddresses <this relay's public IP>");
  });

  it('smtp-basic warns of the retirement; capture needs nothing', () => {
    expect(guide('old', { transport: 'smtp-basic', mailbox: 'scan@contoso.com', password: 'x' }).summary).toContain('end of December 2026');
    expect(guide('keep', { transport: 'capture' }).sections).toEqual([]);
  });
});
