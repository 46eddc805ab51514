/**
 * What Exchange Online's SMTP replies mean (client submission on 587, the MX endpoint on 25):
 * every row of the SMTP tables in M365-FACTS.md → a verdict, a plain diagnosis and the fix
 * with the route's real values. Rows Microsoft documents no exact text for ("unconfirmed")
 * are matched on the status code and a stable keyword, never on the whole line; replies no
 * row knows fall back to the generic meaning of their code (smtp-reply.ts).
 */
import type { UpstreamReply } from '../../queue/store.js';
import { formatReply, outcomeFromReply } from '../smtp-reply.js';
import { outcome, type Outcome } from '../transport.js';
import { fixes } from './fixes-exchange.js';
import type { RouteFacts } from './route-facts.js';

/** The claims of the app token that was refused (never the token itself): they say what is missing. */
export interface TokenClaims {
  aud?: string;
  roles?: string[];
  /** The enterprise application's object id: what New-ServicePrincipal -ObjectId needs. */
  oid?: string;
  /** Delegated tokens (a user signed in): their scopes and the user. */
  scp?: string;
  upn?: string;
}

export interface SmtpRefusalContext {
  facts: RouteFacts;
  /** Where the session stopped, as nodemailer names it: 'CONN', 'AUTH XOAUTH2', 'MAIL FROM', 'RCPT TO', 'DATA'. */
  command?: string | undefined;
  recipient?: string | undefined;
  envelopeFrom?: string | undefined;
  token?: TokenClaims | undefined;
  /** The names (CN, DNS SANs) of the client certificate a connector route presents. */
  certificateNames?: string[] | undefined;
  mxHost?: string | undefined;
  concurrency?: number | undefined;
  recipientsPerMessage?: number | undefined;
  /** The message's size in bytes. */
  size?: number | undefined;
  now?: number | undefined;
}

interface Row {
  code: number;
  enhanced: string | RegExp;
  /** The stable words that tell rows with the same status code apart (and match "unconfirmed" texts). */
  keyword: RegExp | null;
  explain(reply: UpstreamReply, ctx: SmtpRefusalContext): Outcome;
}

const row = (code: number, enhanced: string | RegExp, keyword: RegExp | null, explain: Row['explain']): Row => ({ code, enhanced, keyword, explain });

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
export const SMTP_SCOPE_AUDIENCE = 'https://outlook.office365.com';

const status = (reply: UpstreamReply) => [reply.code, reply.enhanced].filter(Boolean).join(' ');
const mailbox = (ctx: SmtpRefusalContext) => ctx.facts.mailbox ?? 'the mailbox';
const who = (ctx: SmtpRefusalContext) => ctx.facts.endpoint ?? 'Exchange Online';
const sizeOf = (bytes: number) => (bytes < 1024 * 1024 ? `${Math.ceil(bytes / 1024)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`);

function routeBroken(reply: UpstreamReply, diagnosis: string, fix: string): Outcome {
  return outcome('route-broken', diagnosis, { reply, fix });
}

/** What the token's claims show about a 535 5.7.3; empty when they show nothing wrong. */
function tokenFindings(claims: TokenClaims | undefined): string {
  if (!claims) return '';
  const found: string[] = [];
  if (claims.aud && claims.aud.replace(/\/$/, '') !== SMTP_SCOPE_AUDIENCE) found.push(`The token is for ${claims.aud}, not ${SMTP_SCOPE_AUDIENCE} (scope https://outlook.office365.com/.default).`);
  if (!claims.roles?.includes('SMTP.SendAsApp')) found.push(`The token carries no SMTP.SendAsApp role (roles: ${claims.roles?.length ? claims.roles.join(', ') : 'none'}): the permission or its admin consent is missing.`);
  return found.length ? ` ${found.join(' ')}` : '';
}

/** 535 5.7.3 for a delegated token: the signed-in user may not sign in as the mailbox, or the token lacks SMTP.Send. */
function delegatedRefused(reply: UpstreamReply, ctx: SmtpRefusalContext, claims: TokenClaims): Outcome {
  const user = claims.upn ?? 'the signed-in user';
  const scopes = (claims.scp ?? '').split(' ').filter(Boolean);
  const findings = [
    ...(claims.aud && claims.aud.replace(/\/$/, '') !== 'https://outlook.office.com' ? [`The token is for ${claims.aud}, not https://outlook.office.com.`] : []),
    ...(!scopes.includes('SMTP.Send') ? [`The token carries no SMTP.Send scope (scopes: ${scopes.join(', ') || 'none'}).`] : []),
  ];
  const other = claims.upn && claims.upn.toLowerCase() !== mailbox(ctx).toLowerCase();
  return routeBroken(
    reply,
    `Exchange Online refused the token of ${user} for ${mailbox(ctx)} (${status(reply)} Authentication unsuccessful). A signed-in user's token needs the scope SMTP.Send for https://outlook.office.com, and XOAUTH2 user= must be that user or a mailbox the user has FullAccess on.${other ? ` ${user} signs in as ${mailbox(ctx)}, which needs FullAccess.` : ''}${findings.length ? ` ${findings.join(' ')}` : ''}`,
    other
      ? `Exchange Online PowerShell: Add-MailboxPermission -Identity ${mailbox(ctx)} -User ${user} -AccessRights FullAccess; or sign in as ${mailbox(ctx)}: relay365 auth login ${ctx.facts.route}.`
      : `Add the delegated permission SMTP.Send (Office 365 Exchange Online) to the app registration, then sign in again: relay365 auth login ${ctx.facts.route}.`,
  );
}

const AUTH_ROWS: Row[] = [
  row(535, '5.7.3', null, (reply, ctx) =>
    ctx.token?.scp !== undefined ? delegatedRefused(reply, ctx, ctx.token) : routeBroken(reply, `Exchange Online refused the app's token for ${mailbox(ctx)} (${status(reply)} Authentication unsuccessful). It signs an app in only when the token is for ${SMTP_SCOPE_AUDIENCE} with the role SMTP.SendAsApp, the app is registered in Exchange with New-ServicePrincipal under the enterprise application's object id, and that service principal has FullAccess on ${mailbox(ctx)}.${tokenFindings(ctx.token)}`, fixes.appNotAllowed(ctx.facts, ctx.token?.oid)),
  ),
  row(535, '5.7.139', /disabled for the Mailbox/i, (reply, ctx) =>
    routeBroken(reply, `SMTP AUTH is disabled for ${mailbox(ctx)} (${status(reply)}: SmtpClientAuthentication is disabled for the Mailbox).`, fixes.smtpAuthDisabledForMailbox(ctx.facts)),
  ),
  row(535, '5.7.139', /disabled for the Tenant/i, (reply, ctx) =>
    routeBroken(reply, `SMTP AUTH is disabled for the tenant, and ${mailbox(ctx)} follows the tenant's setting (${status(reply)}: SmtpClientAuthentication is disabled for the Tenant). Tenants created after January 2020 have it off.`, fixes.smtpAuthDisabledForTenant(ctx.facts)),
  ),
  row(535, '5.7.139', /credentials were incorrect/i, (reply, ctx) =>
    routeBroken(reply, `Exchange Online refused the password of ${mailbox(ctx)} (${status(reply)}: the user credentials were incorrect).`, fixes.wrongPassword(ctx.facts)),
  ),
  row(535, '5.7.139', /basic authentication is disabled/i, (reply, ctx) =>
    routeBroken(reply, `Basic authentication (sign-in with a password) is disabled for ${mailbox(ctx)} (${status(reply)}: basic authentication is disabled).`, fixes.basicAuthDisabled(ctx.facts)),
  ),
  row(535, '5.7.139', /security defaults/i, (reply, ctx) =>
    routeBroken(reply, `Security Defaults are on in the tenant, and they block SMTP AUTH with a password for ${mailbox(ctx)} (${status(reply)}: locked by the security defaults policy).`, fixes.securityDefaults(ctx.facts)),
  ),
  row(535, '5.7.139', /did not meet the criteria/i, (reply, ctx) =>
    routeBroken(reply, `Entra ID refused the password sign-in of ${mailbox(ctx)}: a Conditional Access policy blocks it or requires MFA, which SMTP AUTH with a password cannot do (${status(reply)}: the request did not meet the criteria).`, fixes.conditionalAccess(ctx.facts)),
  ),
  row(550, '5.7.30', null, (reply, ctx) =>
    routeBroken(reply, `Microsoft has removed basic authentication for client submission (${status(reply)} Basic authentication is not supported): ${mailbox(ctx)} can no longer sign in with a password.`, fixes.basicAuthRetired(ctx.facts)),
  ),
  row(504, '5.7.4', null, (reply, ctx) =>
    routeBroken(reply, `${who(ctx)} does not accept this sign-in (${status(reply)} Unrecognized authentication type): client submission takes only AUTH LOGIN and XOAUTH2, and only after STARTTLS; the MX endpoint takes no AUTH at all.`, fixes.wrongEndpoint(ctx.facts, ctx.mxHost)),
  ),
  row(530, '5.7.57', null, (reply, ctx) =>
    routeBroken(reply, `${who(ctx)} takes mail only from signed-in clients (${status(reply)} Client not authenticated to send mail), and this route did not sign in.`, fixes.wrongEndpoint(ctx.facts, ctx.mxHost)),
  ),
];

const SENDING_ROWS: Row[] = [
  row(550, '5.7.60', null, (reply, ctx) =>
    outcome('permanent', `${mailbox(ctx)} may not send as ${ctx.envelopeFrom || '<> (the null sender)'}: the envelope sender is not the signed-in mailbox, and ${mailbox(ctx)} has no Send As permission on it (${status(reply)}). Only this message fails; others from allowed senders go on.`, {
      reply,
      fix: fixes.sendAs(ctx.facts, ctx.envelopeFrom || '<sender address>', 'envelope'),
    }),
  ),
  row(554, '5.2.252', /SendAsDenied/i, (reply, ctx) => {
    const named = /;\s*(\S+) not allowed to send as (\S+?);/i.exec(reply.text);
    return outcome('permanent', `${named?.[1] ?? mailbox(ctx)} may not send as ${named?.[2] ?? 'the From address'}: the message's From header names an address ${mailbox(ctx)} has no Send As permission on (${status(reply)} SendAsDenied). Only this message fails.`, {
      reply,
      fix: fixes.sendAs(ctx.facts, named?.[2] ?? '<From address>', 'header'),
    });
  }),
  // Both texts Microsoft is seen to use ("Concurrent connections limit exceeded", "sender thread limit exceeded").
  row(432, '4.3.2', null, (reply, ctx) =>
    outcome('transient', `${mailbox(ctx)} already has as many SMTP connections open as Exchange Online allows (3 per mailbox; ${status(reply)}). Other programs signing in as ${mailbox(ctx)} count too. relay365 tries again in a minute.`, {
      reply,
      fix: fixes.concurrency(ctx.facts, ctx.concurrency),
      retryAt: (ctx.now ?? Date.now()) + MINUTE,
    }),
  ),
  row(421, '4.4.2', /rate/i, (reply, ctx) =>
    outcome('transient', `${mailbox(ctx)} is over Exchange Online's message rate (30 messages a minute; ${status(reply)}). relay365 tries again in a minute.`, { reply, fix: fixes.messageRate(ctx.facts), retryAt: (ctx.now ?? Date.now()) + MINUTE }),
  ),
  row(554, '5.2.0', /SubmissionQuota/i, (reply, ctx) =>
    outcome('transient', `${mailbox(ctx)} has reached Exchange Online's recipient limit (10,000 recipients in a rolling 24 hours; ${status(reply)} SubmissionQuotaExceeded). Room frees as the recipients of 24 hours ago age out of the window, so relay365 tries again in an hour rather than failing the message.`, {
      reply,
      fix: fixes.dailyQuota(ctx.facts),
      retryAt: (ctx.now ?? Date.now()) + HOUR,
    }),
  ),
  // The sending mailbox is full: nothing sent as it can be stored until space is freed, so every
  // message of the route would fail the same way — hold them rather than burn them.
  row(554, '5.2.2', /full|QuotaExceeded/i, (reply, ctx) =>
    routeBroken(reply, `${mailbox(ctx)} is full (${status(reply)} mailbox full): Exchange Online cannot keep the copy in its Sent Items, so it sends nothing as ${mailbox(ctx)} until space is freed. The route's messages are held, not failed.`, fixes.mailboxFull(ctx.facts)),
  ),
  // Graph and SMTP submission accept the message and Exchange reports this later, in a
  // non-delivery report to the route's mailbox (the bounce reader, src/notify/bounces.ts).
  row(550, '5.1.10', /RecipientNotFound/i, (reply, ctx) =>
    outcome('permanent', `${ctx.recipient ?? 'The recipient'} does not exist in the tenant (${status(reply)} RESOLVER.ADR.RecipientNotFound): Exchange Online has no mailbox, group or contact with that address; check the address.`, {
      reply,
      fix: fixes.recipientNotFound(ctx.recipient),
    }),
  ),
  row(552, '5.3.4', /header/i, (reply) =>
    outcome('permanent', `The message's header block is larger than Exchange Online accepts (256 KB; ${status(reply)} Header size exceeds fixed maximum size).`, { reply, fix: fixes.headerTooLarge() }),
  ),
  row(552, '5.3.4', null, (reply, ctx) =>
    outcome('permanent', `The message${ctx.size === undefined ? '' : ` (${sizeOf(ctx.size)})`} is larger than Exchange Online accepts here (${status(reply)} Message size exceeds fixed maximum message size); the default limit is 35 MB, at most 150 MB.`, {
      reply,
      fix: fixes.messageTooLarge(ctx.facts),
    }),
  ),
  // At RCPT: the recipients before it were accepted and get the message; the refused ones are
  // tried again, which is a new submission of the same message.
  row(550, '5.5.3', /RecipLimit|too many recipients/i, (reply, ctx) =>
    outcome('transient', `Exchange Online took no more recipients for this submission (at most 500 per message; ${status(reply)} too many recipients). The recipients it accepted got the message; ${ctx.recipient ?? 'this recipient'} is tried again in another submission of the same message.`, {
      reply,
      fix: fixes.recipientLimit(ctx.facts, ctx.recipientsPerMessage),
    }),
  ),
  row(451, '4.7.0', null, (reply) => outcome('transient', `Exchange Online had a temporary problem (${formatReply(trimmed(reply))}); relay365 tries again later.`, { reply })),
  row(421, '4.3.2', null, (reply) => outcome('transient', `Exchange Online is not available at the moment (${formatReply(trimmed(reply))}); relay365 tries again later.`, { reply })),
];

/** 5.7.64 for a connector route: the relay was not recognised (by certificate name or by IP address). */
function notAttributed(reply: UpstreamReply, ctx: SmtpRefusalContext, what: string): Outcome {
  const names = ctx.certificateNames?.length ? ctx.certificateNames : undefined;
  const why = names ? `the client certificate (${names.join(', ')}) matches no inbound connector's TlsSenderCertificateName` : "this relay's public IP address is in no inbound connector's SenderIPAddresses";
  return routeBroken(reply, `Exchange Online did not attribute this relay to an inbound connector of the tenant, so it refused ${what} (${status(reply)} TenantAttribution; Relay Access Denied): ${why}.`, fixes.connectorMismatch(ctx.facts, names?.[0]));
}

const MX_ROWS: Row[] = [
  row(550, '5.7.64', /TenantAttribution/i, (reply, ctx) => {
    if (ctx.facts.transport === 'connector') return notAttributed(reply, ctx, 'a recipient outside the tenant');
    if (ctx.facts.transport !== 'direct-send') return outcome('permanent', `${who(ctx)} refused ${ctx.recipient ?? 'the recipient'}: ${formatReply(trimmed(reply))}`, { reply });
    return outcome('permanent', `${ctx.recipient ?? 'The recipient'} is outside the tenant, and Direct Send only reaches mailboxes in the tenant (${status(reply)} TenantAttribution; Relay Access Denied).`, {
      reply,
      fix: fixes.outsideTenant(ctx.facts, ctx.recipient?.split('@').pop() ?? 'its domain'),
    });
  }),
  row(550, '5.7.68', /Direct Send|TenantInboundAttribution/i, (reply, ctx) =>
    ctx.facts.transport === 'connector'
      ? routeBroken(reply, `Exchange Online did not attribute this relay to an inbound connector, and the tenant rejects Direct Send (${status(reply)} TenantInboundAttribution).`, fixes.connectorMismatch(ctx.facts, ctx.certificateNames?.[0]))
      : routeBroken(reply, `The tenant rejects Direct Send (Set-OrganizationConfig -RejectDirectSend $true; ${status(reply)} TenantInboundAttribution): mail from its own domains must come through a connector or a signed-in mailbox.`, fixes.directSendRejected(ctx.facts)),
  ),
  row(550, /^5\.7\.6(?:0[6-9]|[1-4]\d)$/, null, (reply) => {
    const ip = /\[(\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]+)\]/i.exec(reply.text)?.[1];
    return routeBroken(reply, `Microsoft has banned this relay's sending IP address${ip ? ` ${ip}` : ''} (${status(reply)} banned sending IP).`, fixes.bannedIp(ip));
  }),
  row(550, '5.7.708', null, (reply) => routeBroken(reply, `Exchange Online does not accept traffic from this relay's IP address (${status(reply)} traffic not accepted from this IP).`, fixes.ipNotAccepted())),
];

const ROWS = [...AUTH_ROWS, ...SENDING_ROWS, ...MX_ROWS];

/** Microsoft's trailer `[host date session]` says nothing to an admin; the stored reply keeps it. */
function trimmed(reply: UpstreamReply): UpstreamReply {
  return { ...reply, text: reply.text.replace(/\s*\[[^\]]*\.outlook\.com [^\]]*\]$/, '') };
}

function matches(row: Row, reply: UpstreamReply): boolean {
  if (row.code !== reply.code || reply.enhanced === null) return false;
  const enhancedOk = typeof row.enhanced === 'string' ? row.enhanced === reply.enhanced : row.enhanced.test(reply.enhanced);
  return enhancedOk && (!row.keyword || row.keyword.test(reply.text));
}

export function classifySmtpReply(reply: UpstreamReply, ctx: SmtpRefusalContext): Outcome {
  const row = ROWS.find((r) => matches(r, reply));
  if (row) return row.explain(reply, ctx);
  const code = reply.code ?? 0;
  const stage = ctx.command ? ` at ${ctx.command}` : '';
  if (code >= 500 && ctx.command?.startsWith('AUTH')) {
    // A sign-in refused for a reason no row knows is still the route's problem, not the message's.
    return routeBroken(reply, `${who(ctx)} refused the route's sign-in as ${mailbox(ctx)} (${formatReply(trimmed(reply))}).`, `Check routes.${ctx.facts.route}: its mailbox and credentials.`);
  }
  if (code >= 500 && ctx.recipient) {
    return outcome('permanent', `${who(ctx)} refused ${ctx.recipient}${stage}: ${formatReply(trimmed(reply))}`, { reply });
  }
  const base = outcomeFromReply(reply, who(ctx));
  return { ...base, diagnosis: base.diagnosis.replace(':', `${stage}:`) };
}
