/**
 * The admin-side steps the diagnoses point to, written once and filled with the route's real
 * values: the Entra admin center paths, the config keys, the consent URL and the Exchange
 * Online PowerShell lines. classify-token.ts and classify-graph.ts (and the SMTP classifiers)
 * use them, so a step reads the same wherever it is suggested.
 */
import type { RouteFacts } from './route-facts.js';

/** What the fixes need beyond RouteFacts. */
export interface EntraFacts extends RouteFacts {
  /** https://<authority host>/<tenant>/adminconsent?client_id=<app> */
  adminConsentUrl?: string;
  /** The host tokens come from, e.g. login.microsoftonline.com. */
  authorityHost?: string;
  /** The scopes the route asks tokens for. */
  scopes?: readonly string[];
  credential?: { kind: 'secret' | 'certificate' | 'none'; sha1Thumbprint?: string; sha256Thumbprint?: string; certFile?: string };
  /** app-only (client credentials) or delegated (a user signed in; classify-delegated.ts). */
  flow?: 'app-only' | 'delegated';
  /** The account of a delegated route's sign-in, when known. */
  signedInAs?: string;
}

export const key = (f: RouteFacts, path: string) => `routes.${f.route}.${path}`;
const app = (f: RouteFacts) => f.clientId ?? `<routes.${f.route}.credentials.clientId>`;
const mailbox = (f: RouteFacts) => f.mailbox ?? `<routes.${f.route}.mailbox>`;

/** The app registration in the Entra admin center, down to one of its pages. */
export function appRegistration(f: RouteFacts, page: string): string {
  return `Microsoft Entra admin center (entra.microsoft.com) > App registrations > All applications > the app with Application (client) ID ${app(f)} > ${page}`;
}

/** The environment variable that sets the route's client secret (route names that can be one). */
export function secretVariable(f: RouteFacts): string | null {
  return /^[A-Za-z0-9]+(_[A-Za-z0-9]+)*$/.test(f.route) ? `RELAY365_ROUTES__${f.route.toUpperCase()}__CREDENTIALS__CLIENT_SECRET` : null;
}

/** The application permission the route's kind of delivery needs, and the API that offers it. */
export function permissionFor(f: RouteFacts): { api: string; permission: string } {
  return f.transport === 'graph' ? { api: 'Microsoft Graph', permission: 'Mail.Send' } : { api: 'Office 365 Exchange Online', permission: 'SMTP.SendAsApp' };
}

export function newSecretSteps(f: RouteFacts): string {
  const variable = secretVariable(f);
  return (
    `In the ${appRegistration(f, 'Certificates & secrets > Client secrets')}: New client secret, then copy its Value (shown only once; not the Secret ID) ` +
    `into ${key(f, 'credentials.clientSecret')}${variable ? ` (or the environment variable ${variable})` : ''} and restart relay365. ` +
    `Set ${key(f, 'credentials.secretExpires')} to the new expiry date so relay365 warns before it runs out.`
  );
}

export function consentSteps(f: EntraFacts): string {
  const { api, permission } = permissionFor(f);
  const url = f.adminConsentUrl ? `open ${f.adminConsentUrl} as a Global Administrator (or Privileged Role Administrator) and accept, or ` : '';
  return (
    `Grant admin consent: ${url}in the ${appRegistration(f, 'API permissions')}: make sure the application permission ${permission} (${api}) is listed, ` +
    `then "Grant admin consent". A token issued before that still lacks it; relay365 asks for a new one when it tries again.`
  );
}

/** Exchange Online PowerShell: let the route's mailbox send as another address. */
export function sendAsCommand(f: RouteFacts, from: string): string {
  return `Add-RecipientPermission -Identity ${from} -Trustee ${mailbox(f)} -AccessRights SendAs -Confirm:$false`;
}

/** Exchange Online PowerShell: how an app is fenced to mailboxes (Application Access Policy, or RBAC for Applications). */
export function mailboxScopeSteps(f: RouteFacts, role: 'Mail.Send' | 'Mail.ReadWrite'): string {
  return (
    `Either put ${mailbox(f)} into the mail-enabled security group of the app's Application Access Policy ` +
    `(Get-ApplicationAccessPolicy | Where-Object AppId -eq ${app(f)}; Add-DistributionGroupMember -Identity <that group> -Member ${mailbox(f)}), ` +
    `or give the app a policy that includes it: New-ApplicationAccessPolicy -AppId ${app(f)} -PolicyScopeGroupId <group containing ${mailbox(f)}> -AccessRight RestrictAccess -Description "relay365"; ` +
    `check with Test-ApplicationAccessPolicy -Identity ${mailbox(f)} -AppId ${app(f)}. ` +
    `Or use RBAC for Applications: New-ManagementRoleAssignment -Role "Application ${role}" -App ${app(f)} -CustomResourceScope <management scope containing ${mailbox(f)}>. ` +
    `Changes take 30–60 minutes to apply; meanwhile the route stays held and relay365 tries it again by itself.`
  );
}

export function certificateUploadSteps(f: EntraFacts): string {
  const c = f.credential;
  const which = c?.sha1Thumbprint ? ` (thumbprint ${c.sha1Thumbprint}; SHA-256 ${c.sha256Thumbprint})` : '';
  return `Upload the certificate ${c?.certFile ?? `in ${key(f, 'credentials.certificate.cert')}`}${which} in the ${appRegistration(f, 'Certificates & secrets > Certificates > Upload certificate')}, or point ${key(f, 'credentials.certificate')} at the key and certificate that are uploaded there.`;
}

export function networkSteps(f: RouteFacts, host: string): string {
  return `Check that this host reaches ${host} on port 443 (DNS, firewall, outbound proxy). If a TLS-inspecting proxy is in the way, add its CA certificate (PEM file) to ${key(f, 'ca')}.`;
}
