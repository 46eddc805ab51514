// The tenant file: everything the sandbox knows about one Microsoft 365 tenant.
//
// The shape follows the admin's tools rather than Graph's object model: app registrations as the
// Entra portal shows them, Exchange's service principals and permissions as the cmdlets create them
// (New-ServicePrincipal, Add-MailboxPermission, Add-RecipientPermission, ...), and the
// organisation switches under their cmdlet names. A file only states what differs from the
// defaults; every default below is the value a tenant created today has.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { findResource } from './resources.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const guid = z.string().regex(GUID, 'must be a GUID such as 6f1c2b2e-7d55-4c07-9a4f-2b4f0c8a1d11');
const address = z
  .string()
  .regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'must be an e-mail address')
  .transform((s) => s.toLowerCase());
const domain = z
  .string()
  .regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i, 'must be a domain name')
  .transform((s) => s.toLowerCase());
const date = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be a date such as 2027-06-30');
const resourceName = z
  .string()
  .refine((s) => findResource(s) !== undefined, 'unknown resource: use "Office 365 Exchange Online", "Microsoft Graph" or their URI');

export const clientSecretSchema = z.object({
  /** The secret's ID (portal: "Secret ID"). Sending it instead of the value gives AADSTS7000215. */
  id: guid,
  /** The secret's value (portal: "Value"), the thing a client sends. */
  value: z.string().min(1),
  displayName: z.string().optional(),
  expires: date,
});

export const certificateSchema = z
  .object({
    /** PEM of the public certificate uploaded to the app registration. */
    pem: z.string().optional(),
    /** Or a path to it, relative to the tenant file. */
    pemFile: z.string().optional(),
    displayName: z.string().optional(),
  })
  .refine((c) => c.pem !== undefined || c.pemFile !== undefined, 'give pem or pemFile');

export const permissionGrantSchema = z.object({
  resource: resourceName,
  /** Application permissions (roles), e.g. SMTP.SendAsApp, Mail.Send. */
  roles: z.array(z.string()).default([]),
});

export const delegatedGrantSchema = z.object({
  resource: resourceName,
  /** Delegated permissions (scopes), e.g. SMTP.Send. */
  scopes: z.array(z.string()).default([]),
});

export const appSchema = z.object({
  appId: guid,
  displayName: z.string().min(1),
  /** Object id of the enterprise application (service principal) in Entra ID: the `oid` of app-only tokens. */
  servicePrincipalObjectId: guid,
  secrets: z.array(clientSecretSchema).default([]),
  certificates: z.array(certificateSchema).default([]),
  applicationPermissions: z.array(permissionGrantSchema).default([]),
  /** Whether an administrator clicked "Grant admin consent". Without it app-only tokens fail with AADSTS65001. */
  adminConsent: z.boolean().default(false),
  delegatedPermissions: z.array(delegatedGrantSchema).default([]),
  redirectUris: z.array(z.string()).default([]),
  /** Portal: "Allow public client flows". Public clients may redeem codes and device codes without a secret. */
  publicClient: z.boolean().default(false),
});

export const exchangeServicePrincipalSchema = z.object({
  /** New-ServicePrincipal -AppId */
  appId: guid,
  /** New-ServicePrincipal -ObjectId: must be the enterprise application's object id, or SMTP AUTH gives 535 5.7.3. */
  objectId: guid,
  displayName: z.string().optional(),
});

export const mailboxPermissionSchema = z.object({
  /** Add-MailboxPermission -Identity */
  mailbox: address,
  /** Add-MailboxPermission -User: a service principal (object id, app id or display name) or a user's address. */
  user: z.string().min(1),
  accessRights: z.array(z.literal('FullAccess')).default(['FullAccess']),
});

export const recipientPermissionSchema = z.object({
  /** Add-RecipientPermission -Identity */
  mailbox: address,
  /** Add-RecipientPermission -Trustee */
  trustee: z.string().min(1),
  accessRights: z.array(z.literal('SendAs')).default(['SendAs']),
});

export const managementRoleAssignmentSchema = z.object({
  /** RBAC for Applications, e.g. 'Application SMTP.SendAsApp' or 'Application Mail.Send'. */
  role: z.string().regex(/^Application /, "must start with 'Application '"),
  /** New-ManagementRoleAssignment -App */
  app: guid,
  /** Mailboxes in the custom resource scope; absent means the whole organisation. */
  recipients: z.array(address).optional(),
});

export const applicationAccessPolicySchema = z.object({
  /** New-ApplicationAccessPolicy -AppId */
  appId: guid,
  accessRight: z.enum(['RestrictAccess', 'DenyAccess']),
  /** Members of the policy's scope group. */
  mailboxes: z.array(address),
});

export const mailboxSchema = z.object({
  address,
  type: z.enum(['user', 'shared']).default('user'),
  displayName: z.string().optional(),
  /** Object id of the user; derived from the address when absent. */
  id: guid.optional(),
  /** Proxy addresses that also deliver to this mailbox. */
  aliases: z.array(address).default([]),
  /** Password for SMTP basic auth and the sandbox's sign-in pages (user mailboxes). */
  password: z.string().optional(),
  /** Set-CASMailbox -SmtpClientAuthenticationDisabled: true, false, or null to follow the tenant. */
  smtpClientAuthenticationDisabled: z.boolean().nullable().default(null),
  /** Bytes; Exchange's default is 35 MB. */
  maxSendSize: z.number().int().positive().default(35 * 1024 * 1024),
  maxReceiveSize: z.number().int().positive().default(36 * 1024 * 1024),
  /** The mailbox is over its quota: submissions fail with 554 5.2.2. */
  full: z.boolean().default(false),
  /** A Conditional Access policy requires MFA for this user. */
  mfaRequired: z.boolean().default(false),
  /** A Conditional Access policy blocks this user (AADSTS53003). */
  conditionalAccessBlocked: z.boolean().default(false),
}).transform((m) => ({ ...m, id: (m.id ?? idFromAddress(m.address)).toLowerCase() }));

function isIpOrRange(s: string): boolean {
  const [addr = '', bits, extra] = s.split('/');
  if (extra !== undefined || !isIP(addr)) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return Number.isInteger(n) && n >= 0 && n <= (isIP(addr) === 6 ? 128 : 32);
}

/** A stable object id for a mailbox that does not state one, so tokens and Graph URLs stay the same across restarts. */
function idFromAddress(addr: string): string {
  const h = createHash('sha1').update(`mailbox:${addr}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const organizationSchema = z.object({
  /** Set-TransportConfig -SmtpClientAuthenticationDisabled (true for tenants created after January 2020). */
  smtpClientAuthenticationDisabled: z.boolean().default(true),
  /** Whether an authentication policy still allows basic auth for SMTP. */
  basicAuthAllowed: z.boolean().default(false),
  /** Microsoft has removed basic auth for SMTP client submission for good: 550 5.7.30, whatever else is set. */
  basicAuthRetired: z.boolean().default(false),
  /** Set-OrganizationConfig -RejectDirectSend */
  rejectDirectSend: z.boolean().default(false),
  /** Security Defaults on: legacy authentication is blocked. */
  securityDefaults: z.boolean().default(false),
  /** Whether users may consent to apps themselves (delegated permissions). */
  userConsentAllowed: z.boolean().default(true),
});

export const inboundConnectorSchema = z
  .object({
    name: z.string().min(1),
    enabled: z.boolean().default(true),
    /** New-InboundConnector -SenderIPAddresses: addresses or CIDR ranges. */
    senderIpAddresses: z.array(z.string().refine(isIpOrRange, 'must be an IP address or a CIDR range such as 203.0.113.0/24')).default([]),
    /** New-InboundConnector -TlsSenderCertificateName: a domain (or *.domain) in the certificate's CN or SAN. */
    tlsSenderCertificateName: z.string().optional(),
    requireTls: z.boolean().default(false),
  })
  .refine((c) => c.senderIpAddresses.length > 0 || c.tlsSenderCertificateName !== undefined, 'give senderIpAddresses or tlsSenderCertificateName');

/**
 * What the sandbox's DNS server answers besides its defaults (sandbox/dns/records.ts): a record
 * here replaces the default records of the same name and type, so a test can break one SPF or
 * MX record. An empty value removes them.
 */
export const dnsRecordSchema = z.object({
  name: z.string().min(1).transform((s) => s.toLowerCase().replace(/\.$/, '')),
  type: z.enum(['A', 'AAAA', 'MX', 'TXT']),
  value: z.string(),
  /** MX preference. */
  priority: z.number().int().min(0).max(65535).default(0),
});

export const tenantSchema = z
  .object({
    tenantId: guid.transform((s) => s.toLowerCase()),
    displayName: z.string().default('Contoso'),
    /** Accepted domains; the first is the initial (default) domain. */
    domains: z.array(domain).min(1),
    organization: organizationSchema.default(organizationSchema.parse({})),
    apps: z.array(appSchema).default([]),
    exchange: z
      .object({
        servicePrincipals: z.array(exchangeServicePrincipalSchema).default([]),
        mailboxPermissions: z.array(mailboxPermissionSchema).default([]),
        recipientPermissions: z.array(recipientPermissionSchema).default([]),
        managementRoleAssignments: z.array(managementRoleAssignmentSchema).default([]),
        applicationAccessPolicies: z.array(applicationAccessPolicySchema).default([]),
      })
      .default({ servicePrincipals: [], mailboxPermissions: [], recipientPermissions: [], managementRoleAssignments: [], applicationAccessPolicies: [] }),
    mailboxes: z.array(mailboxSchema).default([]),
    inboundConnectors: z.array(inboundConnectorSchema).default([]),
    /** The tenant's public DNS as the sandbox's DNS server answers it (see dnsRecordSchema). */
    dns: z.object({ records: z.array(dnsRecordSchema).default([]) }).default({ records: [] }),
  })
  .superRefine((t, ctx) => {
    const seen = new Set<string>();
    t.mailboxes.forEach((m, i) => {
      for (const a of [m.address, ...m.aliases]) {
        if (seen.has(a)) ctx.addIssue({ code: 'custom', path: ['mailboxes', i, 'address'], message: `${a} is used by two mailboxes` });
        seen.add(a);
        const d = a.split('@')[1] ?? '';
        if (!t.domains.includes(d)) {
          ctx.addIssue({ code: 'custom', path: ['mailboxes', i, 'address'], message: `${a}: ${d} is not an accepted domain of the tenant` });
        }
      }
    });
    const apps = new Set<string>();
    t.apps.forEach((a, i) => {
      if (apps.has(a.appId.toLowerCase())) ctx.addIssue({ code: 'custom', path: ['apps', i, 'appId'], message: `app ${a.appId} is registered twice` });
      apps.add(a.appId.toLowerCase());
    });
  });

/** A tenant as written in a file (defaults may be missing). */
export type TenantInput = z.input<typeof tenantSchema>;
/** A validated tenant with every default filled in. */
export type Tenant = z.output<typeof tenantSchema>;
export type AppRegistration = Tenant['apps'][number];
export type ClientSecret = AppRegistration['secrets'][number];
export type AppCertificate = AppRegistration['certificates'][number];
export type Mailbox = Tenant['mailboxes'][number];
export type ExchangeServicePrincipal = Tenant['exchange']['servicePrincipals'][number];
export type InboundConnector = Tenant['inboundConnectors'][number];
export type OrganizationSettings = Tenant['organization'];
export type DnsRecord = Tenant['dns']['records'][number];
