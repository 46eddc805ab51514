/**
 * Who a message says it is from, against what the route's mailbox may send as. Exchange
 * Online refuses a header From the mailbox has no Send As on (554 5.2.252 SendAsDenied,
 * or Graph's 403 ErrorSendAsDenied) — after the whole message went up. When the route lists
 * the addresses it may send as, relay365 predicts that refusal before sending, or rewrites
 * the From to the mailbox (keeping the original as Reply-To, so answers still reach it).
 * Headers are read and rewritten by mime/from-header.ts: the rest passes byte for byte.
 */
import type { Readable } from 'node:stream';
import { readFrom, rewriteFrom, type ParsedAddress } from '../../mime/from-header.js';
import { addressMatches } from '../../policy/addresses.js';
import type { SenderConfig } from '../../config/schema.js';
import { outcome, type DeliveryJob, type Outcome } from '../transport.js';
import type { RouteFacts } from './route-facts.js';

export interface PreparedSender {
  /** MAIL FROM to use: the application's, or the mailbox (rewriteEnvelope, or a null sender). */
  envelopeFrom: string;
  /** The header From address as the message has it (null when it has none). */
  headerFrom: string | null;
  /** The message to send, with the From rewritten when the route says so. */
  openMessage: () => Promise<Readable>;
  /** A refusal predicted before sending (the mailbox may not send as the header From). */
  refusal: Outcome | null;
}

export async function prepareSender(job: DeliveryJob, mailbox: string, sender: SenderConfig, facts: RouteFacts): Promise<PreparedSender> {
  const from = await readFrom(await job.openMessage());
  // Exchange Online takes no null sender on client submission: a bounce goes out as the mailbox.
  const envelopeFrom = sender.rewriteEnvelope || !job.mailFrom ? mailbox : job.mailFrom;
  const allowed = from !== null && mayUse(from, mailbox, sender.allowed);
  const checked = sender.allowed.length > 0;
  const rewrite = sender.rewriteFrom === 'always' ? from?.address.toLowerCase() !== mailbox.toLowerCase() : sender.rewriteFrom === 'when-not-allowed' && !allowed && (checked || from !== null);

  if (rewrite && from) {
    return { envelopeFrom, headerFrom: from.address, refusal: null, openMessage: async () => rewriteFrom(await job.openMessage(), mailbox) };
  }
  if (checked && from && !allowed) {
    return { envelopeFrom, headerFrom: from.address, openMessage: job.openMessage, refusal: sendAsRefusal(from.address, mailbox, facts) };
  }
  return { envelopeFrom, headerFrom: from?.address ?? null, openMessage: job.openMessage, refusal: null };
}

function sendAsRefusal(from: string, mailbox: string, facts: RouteFacts): Outcome {
  const key = `routes.${facts.route}.sender`;
  return outcome(
    'permanent',
    `The message is from ${from}, which ${mailbox} may not send as (not in ${key}.allowed): Exchange Online would refuse it with SendAsDenied, so it was not sent.`,
    {
      fix: `Either give the mailbox Send As in Exchange Online PowerShell — Add-RecipientPermission -Identity ${from} -Trustee ${mailbox} -AccessRights SendAs — and add ${from} to ${key}.allowed; or set ${key}.rewriteFrom: when-not-allowed to send it as ${mailbox} with Reply-To ${from}.`,
    },
  );
}

/** The mailbox itself, an exact address, or *@domain. */
export function mayUse(from: ParsedAddress, mailbox: string, allowed: readonly string[]): boolean {
  return from.address.toLowerCase() === mailbox.toLowerCase() || addressMatches(from.address, allowed);
}
