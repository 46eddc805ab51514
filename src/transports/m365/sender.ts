/**
 * Who a message says it is from, against what the route's mailbox may send as. Exchange
 * Online refuses a header From the mailbox has no Send As on (554 5.2.252 SendAsDenied,
 * or Graph's 403 ErrorSendAsDenied) — after the whole message went up. When the route lists
 * the addresses it may send as, relay365 predicts that refusal before sending, or rewrites
 * the From to the mailbox (keeping the original as Reply-To, so answers still reach it).
 * Headers are read and rewritten with mailsplit, from the Nodemailer project: the rest of
 * the message passes through byte for byte.
 */
import { Transform, type Readable } from 'node:stream';
import { Joiner, Splitter, type MimeNode } from '@zone-eu/mailsplit';
import addressparser from 'nodemailer/lib/addressparser';
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
  const head = await readRootHeaders(await job.openMessage());
  const from = head ? firstAddress(head.getFirst('from')) : null;
  // Exchange Online takes no null sender on client submission: a bounce goes out as the mailbox.
  const envelopeFrom = sender.rewriteEnvelope || !job.mailFrom ? mailbox : job.mailFrom;
  const allowed = from !== null && mayUse(from, mailbox, sender.allowed);
  const checked = sender.allowed.length > 0;
  const rewrite = sender.rewriteFrom === 'always' ? from?.address.toLowerCase() !== mailbox.toLowerCase() : sender.rewriteFrom === 'when-not-allowed' && !allowed && (checked || from !== null);

  if (rewrite && from) {
    return { envelopeFrom, headerFrom: from.address, refusal: null, openMessage: async () => rewriteFrom(await job.openMessage(), from, mailbox) };
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

interface ParsedAddress {
  name: string;
  address: string;
}

function firstAddress(header: string): ParsedAddress | null {
  if (!header) return null;
  for (const entry of addressparser(header, { flatten: true })) {
    if ('address' in entry && entry.address) return { name: entry.name ?? '', address: entry.address };
  }
  return null;
}

/** The mailbox itself, an exact address, or *@domain. */
export function mayUse(from: ParsedAddress, mailbox: string, allowed: readonly string[]): boolean {
  const address = from.address.toLowerCase();
  if (address === mailbox.toLowerCase()) return true;
  return allowed.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith('*@') ? address.endsWith(p.slice(1)) : address === p;
  });
}

/** Reads just the root header block, then lets go of the stream. */
function readRootHeaders(message: Readable): Promise<MimeNode['headers'] | null> {
  return new Promise((resolve, reject) => {
    // mailsplit's typings narrow its events to 'data'; it is an ordinary Transform stream.
    const splitter = new Splitter() as unknown as Transform;
    let done = false;
    const finish = (headers: MimeNode['headers'] | null) => {
      if (done) return;
      done = true;
      message.unpipe(splitter);
      message.destroy();
      splitter.destroy();
      resolve(headers);
    };
    splitter.on('data', (chunk: { type: string; root?: boolean; headers?: MimeNode['headers'] }) => {
      if (chunk.type === 'node' && chunk.root) finish(chunk.headers ?? null);
    });
    splitter.on('end', () => finish(null));
    splitter.on('error', (err) => (done ? undefined : reject(err)));
    message.on('error', (err) => (done ? undefined : reject(err)));
    message.pipe(splitter);
  });
}

function rewriteFrom(message: Readable, from: ParsedAddress, mailbox: string): Readable {
  const fix = new Transform({
    objectMode: true,
    transform(chunk: { type: string; root?: boolean; headers?: MimeNode['headers'] }, _encoding, callback) {
      if (chunk.type === 'node' && chunk.root && chunk.headers) {
        const display = from.name ? `"${from.name.replace(/["\\\r\n]/g, '')}" <${mailbox}>` : mailbox;
        chunk.headers.update('From', display);
        // Added after every other header (index past the end), not above the Received trace.
        if (!chunk.headers.hasHeader('Reply-To')) chunk.headers.add('Reply-To', from.name ? `"${from.name.replace(/["\\\r\n]/g, '')}" <${from.address}>` : from.address, Number.MAX_SAFE_INTEGER);
      }
      callback(null, chunk);
    },
  });
  const splitter = new Splitter() as unknown as Transform;
  const joiner = new Joiner() as unknown as Transform;
  message.on('error', (err) => joiner.destroy(err));
  splitter.on('error', (err) => joiner.destroy(err));
  return message.pipe(splitter).pipe(fix).pipe(joiner);
}
