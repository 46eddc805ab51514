/**
 * The envelope a message's own headers give, as `sendmail -t` takes it: the recipients in
 * To, Cc and Bcc, the sender in From — and the message without its Bcc header, which must
 * never reach the other recipients. Read with mailsplit (the root header block only; the
 * rest passes through byte for byte). Used by `relay365 sendmail -t` and the HTTP API's
 * raw submissions.
 */
import { randomUUID } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { rfc5322Date } from '../ingress/received.js';
import { Joiner, Splitter, type MimeNode } from '@zone-eu/mailsplit';
import addressparser from 'nodemailer/lib/addressparser';
import { firstAddress, type ParsedAddress } from './from-header.js';

type Headers = Exclude<MimeNode['headers'], false>;
type Chunk = { type: string; root?: boolean; headers?: Headers };

export interface HeaderEnvelope {
  from: ParsedAddress | null;
  /** Every address of To, Cc and Bcc, in that order, each once. */
  recipients: string[];
  /** Entries of those headers that are not an address (a group's name, a bare word): the caller refuses them. */
  malformed: string[];
  /** The message without Bcc. */
  message: Buffer;
}

/** A plausible address: local@domain with a dot-free-or-dotted domain and no spaces or brackets. */
export const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+$/;

export function addressesOf(header: string): { addresses: string[]; named: ParsedAddress[]; malformed: string[] } {
  const named: ParsedAddress[] = [];
  const malformed: string[] = [];
  for (const entry of addressparser(header, { flatten: true })) {
    const address = 'address' in entry ? (entry.address ?? '') : '';
    if (ADDRESS.test(address)) named.push({ name: entry.name ?? '', address });
    else malformed.push(address || entry.name || header.trim());
  }
  return { addresses: named.map((a) => a.address), named, malformed };
}

/** Headers sendmail adds when the message has none (RFC 5322 requires From and Date). */
export interface MissingHeaders {
  from?: string;
  date?: Date;
  /** The domain part of a generated Message-ID. */
  messageIdDomain?: string;
}

export async function envelopeFromHeaders(message: Buffer, missing: MissingHeaders = {}): Promise<HeaderEnvelope> {
  const found: HeaderEnvelope = { from: null, recipients: [], malformed: [], message };
  const splitter = new Splitter() as unknown as Transform;
  const joiner = new Joiner() as unknown as Transform;
  const inspect = new Transform({
    objectMode: true,
    transform(chunk: Chunk, _encoding, callback) {
      if (chunk.type === 'node' && chunk.root && chunk.headers) {
        const headers = chunk.headers;
        found.from = firstAddress(headers.getFirst('from'));
        for (const key of ['to', 'cc', 'bcc']) {
          for (const value of headers.get(key)) {
            const { addresses, malformed } = addressesOf(value.replace(/^[^:]*:/, ''));
            found.recipients.push(...addresses.filter((a) => !found.recipients.some((r) => r.toLowerCase() === a.toLowerCase())));
            found.malformed.push(...malformed);
          }
        }
        headers.remove('bcc');
        const end = Number.MAX_SAFE_INTEGER;
        if (missing.from && !headers.hasHeader('from')) headers.add('From', missing.from, end);
        if (missing.date && !headers.hasHeader('date')) headers.add('Date', rfc5322Date(missing.date), end);
        if (missing.messageIdDomain && !headers.hasHeader('message-id')) headers.add('Message-ID', `<${randomUUID()}@${missing.messageIdDomain}>`, end);
      }
      callback(null, chunk);
    },
  });
  const parts: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    for (const stage of [splitter, inspect, joiner]) stage.once('error', reject);
    joiner.on('data', (part: Buffer) => parts.push(part));
    joiner.once('end', resolve);
    Readable.from([message]).pipe(splitter).pipe(inspect).pipe(joiner);
  });
  found.message = Buffer.concat(parts);
  return found;
}
