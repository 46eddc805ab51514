/**
 * `relay365 setup ROUTE`: the tenant-side steps a route's transport needs, filled in with the
 * route's values (app id, tenant, mailbox, domain, senders, public IPs) — app registration, admin
 * consent URL, Exchange Online PowerShell, SPF, connector. The guide is data (sections of steps,
 * each with its exact command or URL), free of terminal formatting: the CLI prints it and the
 * admin console shows the same guide.
 */
import { routePlaceholders } from '../config/placeholders.js';
import type { RouteConfig } from '../config/schema.js';
import type { UnresolvableRef } from '../config/secret-refs.js';
import { missingSecretFix, missingSecretSaid } from './missing-secrets.js';
import { entraEndpoints } from '../credentials/entra-endpoints.js';
import { mxHostFor } from '../transports/m365/mx-host.js';
import { spfRecordFor } from './spf-connector.js';

export interface SetupStep {
  /** What to do, in plain words. */
  text: string;
  /** The exact command (Exchange Online PowerShell, shell) or DNS record, when there is one; several are one per line. */
  command?: string;
  /** A page to open, when there is one. */
  url?: string;
}

export interface SetupSection {
  title: string;
  steps: SetupStep[];
}

export interface SetupGuide {
  route: string;
  transport: RouteConfig['transport'];
  /** What to fix in the config before any of this can work (a client id that is still 00000000-…), each naming the key. */
  warnings: string[];
  /** One paragraph: what this route needs in the tenant. */
  summary: string;
  sections: SetupSection[];
}

export interface SetupOptions {
  /** doctor.publicIps: this relay's public addresses, for SPF and IP-based connectors. */
  publicIps?: readonly string[];
  /** The route's secret references that do not resolve yet: each becomes a step, after the tenant's. */
  unresolvedSecrets?: readonly UnresolvableRef[];
}

const ENTERPRISE_OBJECT_ID = '<object id of the enterprise application>';
const CONNECT: SetupStep = { text: 'Open Exchange Online PowerShell as an Exchange administrator.', command: 'Install-Module ExchangeOnlineManagement -Scope CurrentUser\nConnect-ExchangeOnline' };

export function setupGuide(name: string, route: RouteConfig, options: SetupOptions = {}): SetupGuide {
  // The guide's commands carry the route's ids: a placeholder there would be typed into PowerShell as it is.
  const warnings = routePlaceholders(name, route).map((p) => `${p.key} is "${p.value}", a placeholder: ${p.fix}. The commands below use it as it is.`);
  const missing = options.unresolvedSecrets ?? [];
  const guide = guideFor(name, route, options);
  if (!missing.length) return { ...guide, warnings };
  warnings.push(...missing.map((ref) => `${missingSecretSaid(ref)}; the last section says what to do.`));
  const section = { title: 'Secrets relay365 cannot read yet', steps: missing.map((ref) => ({ text: `${missingSecretSaid(ref)}. ${missingSecretFix(ref)}` })) };
  return { ...guide, sections: [...guide.sections, section], warnings };
}

function guideFor(name: string, route: RouteConfig, options: SetupOptions): Omit<SetupGuide, 'warnings'> {
  const base = { route: name, transport: route.transport };
  switch (route.transport) {
    case 'capture':
      return { ...base, summary: 'A capture route keeps mail in the queue and sends nothing: the tenant needs nothing.', sections: [] };
    case 'smarthost':
      return { ...base, summary: `A smarthost route hands mail to ${route.host}:${route.port}; its admin decides what it needs (relay permission for this host, or the account in routes.${name}.auth).`, sections: [] };
    case 'graph':
    case 'smtp-oauth':
      return route.credentials.flow === 'delegated' ? delegatedGuide(name, route, base) : appOnlyGuide(name, route, base);
    case 'smtp-basic':
      return {
        ...base,
        summary: `${route.mailbox} signs in to ${route.host ?? 'smtp.office365.com'}:${route.port} with its password. Microsoft disables Basic SMTP AUTH by default at the end of December 2026 and will remove it: plan a move to smtp-oauth or graph.`,
        sections: [
          { title: 'Exchange Online', steps: [CONNECT, smtpAuthStep(route.mailbox), { text: `Allow basic authentication for SMTP for ${route.mailbox} (an authentication policy), while Microsoft still allows it.`, command: `New-AuthenticationPolicy -Name "relay365 SMTP basic" -AllowBasicAuthSmtp\nSet-User -Identity ${route.mailbox} -AuthenticationPolicy "relay365 SMTP basic"` }, ...sendAsSteps(route.mailbox, route.sender.allowed)] },
          { title: 'Entra ID', steps: [{ text: `Security Defaults and Conditional Access policies requiring MFA block password sign-in: exclude ${route.mailbox}, or use smtp-oauth instead.` }] },
        ],
      };
    case 'direct-send':
      return {
        ...base,
        summary: `Direct Send delivers to the MX of ${route.domain} on port 25 without signing in; it reaches only mailboxes in the tenant.`,
        sections: [
          { title: 'DNS', steps: [mxStep(route.domain), spfStep(route.domain, options.publicIps ?? [])] },
          { title: 'Exchange Online', steps: [CONNECT, { text: 'Direct Send must not be rejected for the organization (RejectDirectSend off).', command: 'Get-OrganizationConfig | Format-List RejectDirectSend' }] },
          { title: 'Network', steps: [{ text: `Outbound TCP 25 from this host to ${route.host ?? mxHostFor(route.domain)} must be open (many ISPs and clouds block it).` }] },
        ],
      };
    case 'connector': {
      const ips = options.publicIps ?? [];
      const connector: SetupStep = route.certificate
        ? { text: `Create an inbound connector that recognises this relay by its client certificate (CN or SAN under ${route.domain}, from a CA Microsoft trusts).`, command: `New-InboundConnector -Name "relay365" -ConnectorType OnPremises -SenderDomains * -RequireTls $true -TlsSenderCertificateName ${route.domain}` }
        : { text: "Create an inbound connector that recognises this relay by its static public IP address.", command: `New-InboundConnector -Name "relay365" -ConnectorType OnPremises -SenderDomains * -SenderIPAddresses ${ips.length ? ips.join(',') : "<this relay's public IP>"} -RestrictDomainsToIPAddresses $true` };
      return {
        ...base,
        summary: `A relay connector lets this relay send through the MX of ${route.domain} (port 25, TLS) to any recipient, recognised by ${route.certificate ? 'its client certificate' : 'its public IP address'}.`,
        sections: [
          { title: 'Exchange Online', steps: [CONNECT, connector, { text: 'Check the connector.', command: 'Get-InboundConnector | Format-List Name,Enabled,SenderIPAddresses,TlsSenderCertificateName,RequireTls' }] },
          { title: 'DNS', steps: [mxStep(route.domain), spfStep(route.domain, ips)] },
          { title: 'Network', steps: [{ text: `Outbound TCP 25 from this host to ${route.host ?? mxHostFor(route.domain)} must be open (many ISPs and clouds block it).` }] },
        ],
      };
    }
  }
}

type OAuthRoute = Extract<RouteConfig, { transport: 'graph' | 'smtp-oauth' }>;
type Base = Pick<SetupGuide, 'route' | 'transport'>;
type Guide = Omit<SetupGuide, 'warnings'>;

/**
 * Exchange Online knows an Entra app only as a service principal of its own, made from the
 * ENTERPRISE APPLICATION's object id: RBAC for Applications, FullAccess and Send As all name it.
 */
function servicePrincipalStep(app: string, name: string, lead = 'Register'): SetupStep {
  return {
    text: `${lead} the app in Exchange Online as a service principal. -ObjectId is the Object ID of its ENTERPRISE APPLICATION (Entra admin center > Enterprise applications > the app > Object ID; relay365 doctor shows it as the token's oid) — not the Object ID on the app registration's page, which is another value.`,
    command: `New-ServicePrincipal -AppId ${app} -ObjectId ${ENTERPRISE_OBJECT_ID} -DisplayName "relay365 ${name}"`,
  };
}

function scopeCommand(name: string, mailbox: string): string {
  return `New-ManagementScope -Name "relay365 ${name}" -RecipientRestrictionFilter "PrimarySmtpAddress -eq '${mailbox}'"`;
}

function rbacCheckStep(app: string, mailbox: string): SetupStep {
  return { text: `Check that the role reaches ${mailbox} (InScope: True).`, command: `Test-ServicePrincipalAuthorization -Identity ${app} -Resource ${mailbox} | Format-Table` };
}

function appOnlyGuide(name: string, route: OAuthRoute, base: Base): Guide {
  const app = route.credentials.clientId;
  const consent = entraEndpoints(route.credentials).adminConsentUrl;
  const graph = route.transport === 'graph';
  const permission = graph ? 'Mail.Send (Microsoft Graph)' : 'SMTP.SendAsApp (Office 365 Exchange Online)';
  const registration: SetupSection = {
    title: 'App registration (Microsoft Entra admin center)',
    steps: [
      { text: `App registrations > the app with Application (client) ID ${app} (or New registration; single tenant; no redirect URI needed). Put its Directory (tenant) ID in routes.${name}.credentials.tenant.`, url: 'https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade' },
      { text: `API permissions > Add a permission > ${graph ? 'Microsoft Graph' : 'APIs my organization uses > Office 365 Exchange Online'} > Application permissions > ${graph ? 'Mail.Send' : 'SMTP.SendAsApp'}.` },
      ...(graph && route.bounces.read === 'graph'
        ? [{ text: `Also Mail.Read (Microsoft Graph, application): relay365 reads ${route.mailbox}'s non-delivery reports with it, so a recipient Microsoft accepts and then bounces is not left "delivered" (routes.${name}.bounces.read: off does without it).` }]
        : []),
      { text: `Grant admin consent for ${permission}: open this URL as a Global Administrator (or Privileged Role Administrator) and accept.`, url: consent },
      {
        text: `Certificates & secrets > New client secret: copy its Value (not the Secret ID) into routes.${name}.credentials.clientSecret (best encrypted: relay365 secret encrypt) and its expiry date into routes.${name}.credentials.secretExpires.`,
        command: 'relay365 secret encrypt',
      },
    ],
  };
  if (graph) {
    return {
      ...base,
      summary: `The app ${app} sends as ${route.mailbox} through Microsoft Graph with the application permission Mail.Send. Without a scope, Mail.Send lets the app send as every mailbox: limit it to ${route.mailbox}.`,
      sections: [
        registration,
        {
          title: 'Exchange Online: limit the app to the mailbox',
          steps: [
            CONNECT,
            servicePrincipalStep(app, name, 'RBAC for Applications (recommended), first: register'),
            {
              text: `Then a management scope containing ${route.mailbox}, and the role Application Mail.Send for the app within it. Changes take 30–60 minutes. Permissions granted in Entra ID and in Exchange add up: a consented Mail.Send application permission still lets the app send as every mailbox, so remove that consent once this assignment works.`,
              command: `${scopeCommand(name, route.mailbox)}\nNew-ManagementRoleAssignment -Role "Application Mail.Send" -App ${app} -CustomResourceScope "relay365 ${name}"`,
            },
            rbacCheckStep(app, route.mailbox),
            { text: 'Or an Application Access Policy for a mail-enabled security group containing the mailbox (the older way; it needs the Mail.Send consent above).', command: `New-ApplicationAccessPolicy -AppId ${app} -PolicyScopeGroupId <group containing ${route.mailbox}> -AccessRight RestrictAccess -Description "relay365"\nTest-ApplicationAccessPolicy -Identity ${route.mailbox} -AppId ${app}` },
            ...sendAsSteps(route.mailbox, route.sender.allowed),
          ],
        },
      ],
    };
  }
  return {
    ...base,
    summary: `The app ${app} signs in to ${route.host ?? 'smtp.office365.com'}:${route.port} as ${route.mailbox} with XOAUTH2 and the application permission SMTP.SendAsApp; Exchange Online must know the app (a service principal) and let it use the mailbox.`,
    sections: [
      registration,
      {
        title: 'Exchange Online PowerShell',
        steps: [
          CONNECT,
          servicePrincipalStep(app, name),
          { text: `Let the app sign in as ${route.mailbox}.`, command: `Add-MailboxPermission -Identity ${route.mailbox} -User ${ENTERPRISE_OBJECT_ID} -AccessRights FullAccess` },
          { text: `Or, scoped (RBAC for Applications, with the service principal above) instead of FullAccess: a management scope containing ${route.mailbox}, and the role Application SMTP.SendAsApp within it.`, command: `${scopeCommand(name, route.mailbox)}\nNew-ManagementRoleAssignment -Role "Application SMTP.SendAsApp" -App ${app} -CustomResourceScope "relay365 ${name}"` },
          smtpAuthStep(route.mailbox),
          ...sendAsSteps(route.mailbox, route.sender.allowed),
        ],
      },
    ],
  };
}

function delegatedGuide(name: string, route: OAuthRoute, base: Base): Guide {
  const app = route.credentials.clientId;
  const redirect = route.credentials.redirectUri ?? 'http://localhost:3017/';
  const graph = route.transport === 'graph';
  return {
    ...base,
    summary: `A user signs in once (relay365 auth login ${name}); relay365 keeps the refresh token, encrypted in its store, and sends as ${route.mailbox} with the delegated permission ${graph ? 'Mail.Send' : 'SMTP.Send'}.`,
    sections: [
      {
        title: 'App registration (Microsoft Entra admin center)',
        steps: [
          { text: `App registrations > the app with Application (client) ID ${app} > Authentication > Add a platform > Web (or Mobile and desktop applications): redirect URI ${redirect}.` },
          { text: `API permissions > Delegated permissions: ${graph ? 'Microsoft Graph > Mail.Send' : 'Office 365 Exchange Online > SMTP.Send'}, and offline_access.` },
          { text: `Without a client secret: Authentication > Allow public client flows: Yes (device code sign-in).` },
          { text: 'Admin consent, if users may not consent themselves.', url: entraEndpoints(route.credentials).adminConsentUrl },
        ],
      },
      {
        title: 'Exchange Online PowerShell',
        steps: [CONNECT, ...(graph ? [] : [smtpAuthStep(route.mailbox)]), { text: `If the signing-in user is not ${route.mailbox}: FullAccess for that user.`, command: `Add-MailboxPermission -Identity ${route.mailbox} -User <signing-in user> -AccessRights FullAccess` }, ...sendAsSteps(route.mailbox, route.sender.allowed)],
      },
      { title: 'Sign in', steps: [{ text: 'Sign the user in (a browser), or with a code on a server without one.', command: `relay365 auth login ${name}   # or: relay365 auth login ${name} --device-code` }] },
    ],
  };
}

function smtpAuthStep(mailbox: string): SetupStep {
  return { text: `Enable SMTP AUTH for ${mailbox} (off for tenants created after January 2020; the mailbox setting wins over the tenant's).`, command: `Set-CASMailbox -Identity ${mailbox} -SmtpClientAuthenticationDisabled $false` };
}

function sendAsSteps(mailbox: string, allowed: readonly string[]): SetupStep[] {
  return allowed
    .filter((a) => a.toLowerCase() !== mailbox.toLowerCase())
    .map((a) => ({ text: `Let ${mailbox} send as ${a}${a.includes('*') ? ' (each address the pattern stands for)' : ''}.`, command: `Add-RecipientPermission -Identity ${a.includes('*') ? '<address>' : a} -Trustee ${mailbox} -AccessRights SendAs -Confirm:$false` }));
}

function mxStep(domain: string): SetupStep {
  return { text: `The MX of ${domain} points at Exchange Online Protection (Microsoft 365 admin center > Settings > Domains shows the exact value).`, command: `${domain}. MX 0 ${mxHostFor(domain)}.` };
}

function spfStep(domain: string, ips: readonly string[]): SetupStep {
  return { text: `One SPF record for ${domain} with this relay's public IP${ips.length ? '' : ' (set doctor.publicIps to fill it in)'} and Exchange Online.`, command: `${domain}. TXT "${spfRecordFor(ips)}"` };
}
