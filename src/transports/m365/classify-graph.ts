/**
 * Graph's answers as verdicts, with a plain diagnosis and the fix filled with the route's
 * values. Every Graph row of M365-FACTS.md is here: a refusal only this message has (Send As,
 * size) fails it (permanent); a refusal that every message of the route would get (permissions,
 * access policies, no mailbox) holds the route (route-broken: its messages wait, none fail); a
 * busy or unavailable service defers it (transient, at Retry-After when Graph gave one).
 */
import type { TokenError } from '../../credentials/token.js';
import type { UpstreamReply } from '../../queue/store.js';
import { outcome, type Outcome } from '../transport.js';
import { classifyTokenError } from './classify-token.js';
import { consentSteps, key, mailboxScopeSteps, networkSteps, sendAsCommand, type EntraFacts } from './fixes-entra.js';

/** The Graph requests a delivery makes; which one failed changes what a 403 means. */
export type GraphOperation = 'sendMail' | 'createDraft' | 'addAttachment' | 'createUploadSession' | 'uploadRange' | 'send' | 'deleteDraft' | 'listMessages' | 'getMessageMime';
const DRAFT_OPERATIONS: readonly GraphOperation[] = ['createDraft', 'addAttachment', 'createUploadSession'];

export type GraphFailure =
  | {
      kind: 'answer';
      operation: GraphOperation;
      status: number;
      /** Graph's error code ("ErrorSendAsDenied"), or "" when the body was not Graph's JSON. */
      code: string;
      message: string;
      retryAfterSeconds: number | null;
      requestId: string | null;
      /** A 401 that came again with a token fetched just for this retry. */
      afterFreshToken?: boolean;
      /** Bytes of the request Graph answered (sendMail: the base64 message). */
      requestBytes?: number;
    }
  | { kind: 'network'; operation: GraphOperation; reason: string; code: string | null }
  | { kind: 'token'; error: TokenError };

export interface GraphFacts extends EntraFacts {
  /** The header From of the message, when it has one. */
  from?: string;
  /** The message's size in bytes (MIME). */
  size?: number;
  /** routes.<route>.largeMessages.threshold, bytes. */
  threshold?: number;
}

const MB = 1024 * 1024;
const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
/** Graph's limit for one request ("about 4 MB"). */
const REQUEST_LIMIT = 4 * MB;

export function classifyGraphFailure(failure: GraphFailure, f: GraphFacts, now: number = Date.now()): Outcome {
  if (failure.kind === 'token') return classifyTokenError(failure.error, f, now);
  const host = f.endpoint ? new URL(f.endpoint).host : 'graph.microsoft.com';
  if (failure.kind === 'network') {
    if (/certificate|self[- ]signed|unable to verify|CERT_|SSL|TLS/i.test(`${failure.code ?? ''} ${failure.reason}`)) {
      return outcome('route-broken', `TLS with Microsoft Graph (${host}) failed: ${failure.reason}`, { fix: networkSteps(f, host) });
    }
    return outcome('transient', `Microsoft Graph (${host}) did not answer the ${failure.operation} request: ${failure.reason}.`, { fix: networkSteps(f, host) });
  }
  const a = failure;
  const reply: UpstreamReply = { code: a.status, enhanced: a.code || null, text: a.message };
  const said = `${a.status}${a.code ? ` ${a.code}` : ''}: ${a.message}`;
  const retryAt = a.retryAfterSeconds !== null ? now + a.retryAfterSeconds * 1000 : null;
  const mailbox = f.mailbox ?? '?';
  const app = f.clientId ?? '?';

  if (a.status === 429) {
    const wait = a.retryAfterSeconds !== null ? `relay365 tries again after the ${a.retryAfterSeconds} s Graph asked for` : 'relay365 tries again later';
    return outcome('transient', `Graph is throttling app ${app} on mailbox ${mailbox} (${said}); ${wait}.`, {
      reply,
      retryAt: retryAt ?? now + 60_000,
      fix: `If this happens often, lower ${key(f, 'pacing.concurrency')} (Graph allows 4 requests at once per mailbox) or spread the applications over several mailboxes (10,000 requests per 10 minutes and 150 MB per 5 minutes per mailbox).`,
    });
  }
  if (a.status >= 500) return outcome('transient', `Microsoft Graph is temporarily unavailable (${said}).`, { reply, retryAt });

  if (a.status === 401 && a.operation === 'uploadRange') {
    return outcome('transient', `The upload session's URL expired before the attachment was up (${said}); relay365 starts the message over.`, { reply });
  }
  if (a.status === 401) {
    const fix = /audience/i.test(a.message)
      ? `The token is for another resource: remove ${key(f, 'credentials.scopes')} (the default is Graph's .default) or set it to [https://graph.microsoft.com/.default].`
      : /expired|lifetime/i.test(a.message)
        ? `A token fetched a moment ago is already expired for Graph: this host's clock is wrong. Synchronise it (NTP: timedatectl set-ntp true).`
        : `Check that ${key(f, 'credentials.tenant')} and ${key(f, 'credentials.authorityHost')} are the tenant and cloud of ${key(f, 'endpoint')} (${f.endpoint ?? 'https://graph.microsoft.com'}).`;
    return outcome('route-broken', `Graph refused the access token again after relay365 fetched a fresh one (${said}).`, { reply, fix });
  }

  if (a.status === 403 && a.code === 'ErrorSendAsDenied') {
    const from = f.from ?? 'the From address';
    return outcome('permanent', `Mailbox ${mailbox} may not send as ${from} (${said}): the message's From is another address and ${mailbox} has no Send As right on it.`, {
      reply,
      fix: `Grant it in Exchange Online PowerShell: ${sendAsCommand(f, from)}, and add ${from} to ${key(f, 'sender.allowed')}; or let relay365 rewrite such senders to the mailbox: ${key(f, 'sender.rewriteFrom')}: when-not-allowed. Then retry the message.`,
    });
  }
  if (a.status === 403 && a.code === 'ErrorAccessDenied' && /AccessPolicy/i.test(a.message)) {
    return outcome('route-broken', `An Application Access Policy keeps app ${app} away from mailbox ${mailbox} (${said}).`, {
      reply,
      fix: mailboxScopeSteps(f, DRAFT_OPERATIONS.includes(a.operation) ? 'Mail.ReadWrite' : 'Mail.Send'),
    });
  }
  if (a.status === 403 && DRAFT_OPERATIONS.includes(a.operation)) {
    return outcome('route-broken', `Messages over ${mb(f.threshold ?? 3 * MB)} go through a draft and upload sessions, which need the Microsoft Graph application permission Mail.ReadWrite; app ${app} does not have it for ${mailbox} (${said}). Many admins refuse Mail.ReadWrite because it lets the app read the mailboxes it can reach.`, {
      reply,
      fix:
        `Either hand large messages to an smtp-oauth route of the same mailbox, which needs only SMTP.SendAsApp: ${key(f, 'largeMessages.via')}: route and ${key(f, 'largeMessages.route')}: <that route>. ` +
        `Or grant Mail.ReadWrite (application) to app ${app} with admin consent, fenced to ${mailbox} (New-ManagementRoleAssignment -Role "Application Mail.ReadWrite" -App ${app} -CustomResourceScope <scope>, or an Application Access Policy).`,
    });
  }
  if (a.status === 403) {
    return outcome('route-broken', `App ${app} may not send mail from ${mailbox} through Graph (${said}): it lacks the application permission Mail.Send, or an RBAC for Applications assignment covering the mailbox.`, {
      reply,
      fix: `${consentSteps({ ...f, transport: 'graph' })} Or assign it in Exchange Online PowerShell: New-ManagementRoleAssignment -Role "Application Mail.Send" -App ${app} -CustomResourceScope <management scope containing ${mailbox}>.`,
    });
  }
  if (a.status === 404 && a.code === 'MailboxNotEnabledForRESTAPI') {
    return outcome('route-broken', `${mailbox} has no Exchange Online mailbox Graph can send from (${said}): the user is unlicensed, the mailbox is inactive or soft-deleted, or it is hosted on-premises.`, {
      reply,
      fix: `Check ${key(f, 'mailbox')}. Give the user an Exchange Online license in the Microsoft 365 admin center (or use a shared mailbox); a mailbox on an on-premises Exchange server cannot send through Graph: send through that server (a smarthost route) instead.`,
    });
  }
  if (a.status === 404 && a.code === 'ErrorInvalidUser') {
    return outcome('route-broken', `Graph knows no user ${mailbox} (${said}).`, { reply, fix: `Set ${key(f, 'mailbox')} to the mailbox's user principal name or primary SMTP address.` });
  }
  if (a.status === 413) {
    if (a.operation === 'sendMail' && (a.requestBytes ?? 0) > 0.95 * REQUEST_LIMIT) {
      return outcome('route-broken', `The sendMail request (${mb(a.requestBytes ?? 0)} of base64) was over Graph's 4 MB request limit (${said}): ${key(f, 'largeMessages.threshold')} (${mb(f.threshold ?? 0)}) is too high.`, {
        reply,
        fix: `Set ${key(f, 'largeMessages.threshold')} to 3MB (the largest message whose base64 fits in one request); larger messages then take ${key(f, 'largeMessages.via')}.`,
      });
    }
    return outcome('permanent', `The message${f.size ? ` (${mb(f.size)})` : ''} is larger than mailbox ${mailbox} may send (${said}). Exchange Online allows 35 MB by default and at most 150 MB.`, {
      reply,
      fix: `Raise the limit in Exchange Online PowerShell: Set-Mailbox -Identity ${mailbox} -MaxSendSize 150MB (and the recipients' MaxReceiveSize), then retry the message; or ask the sender for a smaller one.`,
    });
  }
  if (a.status === 400 && a.code === 'ErrorMimeContentInvalidBase64String') {
    return outcome('permanent', `Graph could not read the message's MIME content (${said}). relay365 sends the stored message in base64; Graph refuses an empty or unreadable message.`, {
      reply,
      fix: `Look at the message (relay365 queue show <id>): if it is empty or not a MIME message, correct the sending application.`,
    });
  }
  if ((a.status === 404 && a.code === 'ErrorItemNotFound') || a.status === 416) {
    return outcome('transient', `The draft or upload session went away during the upload (${said}); relay365 starts the message over.`, { reply });
  }
  return outcome('permanent', `Graph refused the message (${said}).`, { reply, fix: a.requestId ? `Graph's request-id was ${a.requestId} (for a support case).` : null });
}
