/**
 * The fixes for Exchange Online's SMTP refusals, as an admin types them: the Exchange Online
 * PowerShell line or the portal step, filled in with the route's real mailbox, app and domain.
 * Only values relay365 cannot know (the relay's public IP address as Microsoft sees it) stay
 * as a named placeholder.
 */
import { appRegistration, sendAsCommand } from './fixes-entra.js';
import type { RouteFacts } from './route-facts.js';

const key = (facts: RouteFacts, field?: string) => `routes.${facts.route}${field ? `.${field}` : ''}`;
const mailboxOf = (facts: RouteFacts) => facts.mailbox ?? '<mailbox>';

export const PUBLIC_IP = "<this relay's public IP address>";

const SWITCH_FROM_BASIC = (facts: RouteFacts) =>
  `Switch ${key(facts)} to transport: smtp-oauth (an app registration with the application permission SMTP.SendAsApp; a shared mailbox works) or graph (Mail.Send).`;

export const fixes = {
  smtpAuthDisabledForMailbox: (facts: RouteFacts) =>
    `Set-CASMailbox -Identity ${mailboxOf(facts)} -SmtpClientAuthenticationDisabled $false ` +
    `(the tenant variant, Set-TransportConfig -SmtpClientAuthenticationDisabled $false, does not help here: the mailbox setting wins).`,

  smtpAuthDisabledForTenant: (facts: RouteFacts) =>
    `Enable SMTP AUTH for this mailbox only: Set-CASMailbox -Identity ${mailboxOf(facts)} -SmtpClientAuthenticationDisabled $false — ` +
    `or for the whole tenant: Set-TransportConfig -SmtpClientAuthenticationDisabled $false. The mailbox setting wins; $null follows the tenant.`,

  /** 535 5.7.3 for an app: the three tenant-side steps, with the app's ids where relay365 knows them. */
  appNotAllowed: (facts: RouteFacts, objectId: string | undefined) => {
    const clientId = facts.clientId ?? '<application (client) id>';
    const principal = objectId ?? '<object id of the enterprise application>';
    const whence = objectId ? ` (${objectId} is the oid of the token Entra ID issued to the app)` : '';
    return [
      `1. In the ${appRegistration(facts, 'API permissions')}: the application permission SMTP.SendAsApp of Office 365 Exchange Online, with admin consent granted.`,
      `2. Exchange Online PowerShell: New-ServicePrincipal -AppId ${clientId} -ObjectId ${principal} — the object id of the ENTERPRISE APPLICATION (Entra admin center > Enterprise applications)${whence}, not the app registration's: registering that one is the classic mistake; Get-ServicePrincipal | Format-List AppId,ObjectId shows what is registered.`,
      `3. Add-MailboxPermission -Identity ${mailboxOf(facts)} -User ${principal} -AccessRights FullAccess (or RBAC for Applications: New-ManagementRoleAssignment -Role "Application SMTP.SendAsApp" -App ${clientId} -CustomResourceScope <a management scope containing ${mailboxOf(facts)}>).`,
    ].join(' ');
  },

  wrongPassword: (facts: RouteFacts) =>
    `Check ${key(facts, 'password')}: it must be the current password of ${mailboxOf(facts)}, a user mailbox (a shared mailbox has no password and cannot sign in). ` +
    `Better: ${SWITCH_FROM_BASIC(facts).replace(/^Switch/, 'switch')}`,

  basicAuthDisabled: (facts: RouteFacts) =>
    `${SWITCH_FROM_BASIC(facts)} Microsoft disables Basic SMTP AUTH by default at the end of December 2026 and will remove it; ` +
    `re-enabling it (an authentication policy with -AllowBasicAuthSmtp assigned to ${mailboxOf(facts)}) only works until then.`,

  basicAuthRetired: (facts: RouteFacts) => `${SWITCH_FROM_BASIC(facts)} Basic SMTP AUTH cannot be re-enabled after Microsoft's final removal.`,

  securityDefaults: (facts: RouteFacts) =>
    `${SWITCH_FROM_BASIC(facts)} App-only tokens are not blocked by Security Defaults. ` +
    `Turning Security Defaults off (Entra admin center > Identity > Overview > Properties > Manage security defaults) weakens the whole tenant; if you do, replace them with Conditional Access policies.`,

  conditionalAccess: (facts: RouteFacts) =>
    `${SWITCH_FROM_BASIC(facts)} App-only sign-in has no user MFA. ` +
    `Or exclude ${mailboxOf(facts)} from the policy (Entra admin center > Protection > Conditional Access; the sign-in logs of ${mailboxOf(facts)} name the policy that refused it).`,

  sendAs: (facts: RouteFacts, from: string, option: 'envelope' | 'header') =>
    `Give ${mailboxOf(facts)} Send As on ${from}: ${sendAsCommand(facts, from)} ` +
    `(FullAccess is not enough), and list ${from} in ${key(facts, 'sender.allowed')} — ` +
    (option === 'envelope'
      ? `or set ${key(facts, 'sender.rewriteEnvelope')}: true to send with ${mailboxOf(facts)} as the envelope sender.`
      : `or set ${key(facts, 'sender.rewriteFrom')}: when-not-allowed (From becomes ${mailboxOf(facts)}, the original address goes into Reply-To).`),

  concurrency: (facts: RouteFacts, concurrency: number | undefined) =>
    `Keep ${key(facts, 'pacing.concurrency')}${concurrency === undefined ? '' : ` (now ${concurrency})`} at 3 or less, and stop other programs signing in as ${mailboxOf(facts)} at the same time — give each sending system its own mailbox.`,

  dailyQuota: (facts: RouteFacts) =>
    `Spread the volume over several mailboxes (one route each), or lower ${key(facts, 'pacing.recipientsPerDay')} to leave room for others sending as ${mailboxOf(facts)}. ` +
    `For internal bulk mail, High Volume Email (hve: true) has its own limits.`,

  mailboxFull: (facts: RouteFacts) =>
    `Free space in ${mailboxOf(facts)}: every message sent through SMTP leaves a copy in its Sent Items. ` +
    `Get-MailboxStatistics -Identity ${mailboxOf(facts)} | Format-List TotalItemSize shows the size; delete or archive old items, or give the mailbox a retention policy that empties Sent Items.`,

  messageTooLarge: (facts: RouteFacts) =>
    facts.mailbox
      ? `Raise the mailbox's limit (up to 150 MB): Set-Mailbox -Identity ${facts.mailbox} -MaxSendSize 150MB — the recipients' MaxReceiveSize must allow it too. Otherwise the application must send it smaller (attachments grow by a third in MIME).`
      : `The tenant's limits apply (Get-TransportConfig | Format-List MaxSendSize,MaxReceiveSize, and each recipient's MaxReceiveSize); otherwise the application must send it smaller (attachments grow by a third in MIME).`,

  recipientNotFound: (recipient: string | undefined) =>
    `Check the address${recipient ? ` ${recipient}` : ''} with the application that sent it (a typo, or a person who left); if it should exist, create the mailbox, group or contact in Microsoft 365 (Get-Recipient -Identity ${recipient ?? '<address>'} finds it when it does).`,

  headerTooLarge: () => 'The sending application must write a smaller header block (often a very long To or Cc list); Exchange Online\'s 256 KB header limit cannot be raised.',

  recipientLimit: (facts: RouteFacts, perMessage: number | undefined) =>
    `Keep ${key(facts, 'pacing.recipientsPerMessage')}${perMessage === undefined ? '' : ` (now ${perMessage})`} at 500 or less — relay365 splits longer lists; ` +
    `if the mailbox has a lower limit (Get-Mailbox -Identity ${mailboxOf(facts)} | Format-List RecipientLimits), use that value.`,

  messageRate: (facts: RouteFacts) =>
    `Keep ${key(facts, 'pacing.messagesPerMinute')} at 30 or less, counting other programs sending as ${mailboxOf(facts)}.`,

  outsideTenant: (facts: RouteFacts, domain: string) =>
    `Direct Send cannot reach it. If ${domain} is not an accepted domain of the tenant, remove it from ${key(facts, 'acceptedDomains')}; ` +
    `to reach outside recipients, set ${key(facts, 'fallback')} to an smtp-oauth, graph or connector route.`,

  connectorMismatch: (facts: RouteFacts, certificateName: string | undefined) => {
    const inspect = 'Get-InboundConnector | Format-List Name,Enabled,SenderIPAddresses,TlsSenderCertificateName,RequireTls shows the connectors.';
    if (certificateName) {
      return (
        `${inspect} A certificate-based connector for this relay: New-InboundConnector -Name "relay365" -ConnectorType OnPremises -SenderDomains * -RequireTls $true -TlsSenderCertificateName ${certificateName} ` +
        `(or Set-InboundConnector -Identity <connector name> -TlsSenderCertificateName ${certificateName}). ${certificateName} must be a domain registered in the tenant, and the certificate must come from a CA Microsoft trusts.`
      );
    }
    return (
      `${inspect} An IP-based connector needs the static public IP address Microsoft sees from this relay: New-InboundConnector -Name "relay365" -ConnectorType OnPremises -SenderDomains * -SenderIPAddresses ${PUBLIC_IP} -RestrictDomainsToIPAddresses $true ` +
      `— or give ${key(facts, 'certificate')} (key and cert) for a certificate-based connector. SPF for ${facts.domain ?? '<domain>'}: v=spf1 ip4:${PUBLIC_IP} include:spf.protection.outlook.com ~all.`
    );
  },

  directSendRejected: (facts: RouteFacts) =>
    `Send through a relay connector instead (transport: connector, with a certificate- or IP-based inbound connector), or through smtp-oauth or graph. ` +
    `Only if you accept the risk: Set-OrganizationConfig -RejectDirectSend $false — it lets anyone on the internet send mail as ${facts.domain ?? 'your domains'} to your users again, the spoofing RejectDirectSend stops.`,

  bannedIp: (ip: string | undefined) =>
    `Ask for delisting at the delisting portal, https://sender.office.com${ip ? `, for ${ip}` : ''}, after finding out why it was listed (a compromised host, or another sender on a shared address). ` +
    `Until then deliver through smtp-oauth or graph, which do not depend on the sending IP address.`,

  ipNotAccepted: () =>
    'Exchange Online judges this address by its reputation; the delisting portal does not handle 5.7.708. Send from another static IP address, ask Microsoft support, or deliver through smtp-oauth or graph.',

  wrongEndpoint: (facts: RouteFacts, mxHost: string | undefined) =>
    facts.transport === 'direct-send' || facts.transport === 'connector'
      ? `${key(facts)} points at the client submission endpoint (smtp.office365.com), which takes only signed-in clients; a ${facts.transport} route goes to the MX host${mxHost ? ` ${mxHost}` : ''} on port 25: remove ${key(facts, 'host')} or set it to that host.`
      : `Check ${key(facts, 'host')} and ${key(facts, 'port')}: SMTP AUTH client submission is smtp.office365.com:587 with STARTTLS; sign-in is offered only after STARTTLS.`,
};
