/**
 * The message's From header, read and rewritten with mailsplit (from the Nodemailer
 * project): only the root header block changes, the rest passes through byte for byte.
 * Used at the door (apps.<app>.from / rewrite) and by the Microsoft 365 routes (sender.*).
 */
import { Transform, type Readable } from 'node:stream';
import { Joiner, Splitter, type MimeNode } from '@zone-eu/mailsplit';
import addressparser from 'nodemailer/lib/addressparser';

export interface ParsedAddress {
  name: string;
  address: string;
}

type Headers = Exclude<MimeNode['headers'], false>;
type Chunk = { type: string; root?: boolean; headers?: Headers };

export function firstAddress(header: string): ParsedAddress | null {
  if (!header) return null;
  for (const entry of addressparser(header, { flatten: true })) {
    if ('address' in entry && entry.address) return { name: entry.name ?? '', address: entry.address };
  }
  return null;
}

/** Every address in a header's value (all of a list, the members of a group). */
function allAddresses(value: string): ParsedAddress[] {
  if (!value) return [];
  return addressparser(value, { flatten: true }).flatMap((entry) => ('address' in entry && entry.address ? [{ name: entry.name ?? '', address: entry.address }] : []));
}

/**
 * Who the message says it is from: every address of every From header and Sender header,
 * and how many of each there are (RFC 5322 allows one of each). A rule that looked only at
 * the first From address would let `From: allowed@…, ceo@…` or a second From through.
 */
export interface Originators {
  from: ParsedAddress[];
  fromHeaders: number;
  sender: ParsedAddress[];
  senderHeaders: number;
}

function originatorsOf(headers: Headers): Originators {
  const values = (key: string) => headers.getDecoded(key).flatMap((h) => allAddresses(String(h.value)));
  return { from: values('from'), fromHeaders: headers.get('from').length, sender: values('sender'), senderHeaders: headers.get('sender').length };
}

/** Reads just the root header block's From, then lets go of the stream. */
export async function readFrom(message: Readable): Promise<ParsedAddress | null> {
  const headers = await readRootHeaders(message);
  return headers ? firstAddress(headers.getFirst('from')) : null;
}

/** Reads just the root header block (null when there is none), then lets go of the stream: the body is never read. */
export function readRootHeaders(message: Readable): Promise<Headers | null> {
  return new Promise((resolve, reject) => {
    // mailsplit's typings narrow its events to 'data'; it is an ordinary Transform stream.
    const splitter = new Splitter() as unknown as Transform;
    let done = false;
    const finish = (headers: Headers | null) => {
      if (done) return;
      done = true;
      message.unpipe(splitter);
      message.destroy();
      splitter.destroy();
      resolve(headers);
    };
    splitter.on('data', (chunk: Chunk) => {
      if (chunk.type === 'node' && chunk.root) finish(chunk.headers ?? null);
    });
    splitter.on('end', () => finish(null));
    splitter.on('error', (err) => (done ? undefined : reject(err)));
    message.on('error', (err) => (done ? undefined : reject(err)));
    message.pipe(splitter);
  });
}

const quoted = (name: string) => `"${name.replace(/["\\\r\n]/g, '')}"`;

/** Sets From to `to` (keeping the display name) and keeps the original as Reply-To, unless there is one. */
function rewrite(headers: Headers, from: ParsedAddress, to: string): void {
  headers.update('From', from.name ? `${quoted(from.name)} <${to}>` : to);
  // Added after every other header (index past the end), not above the Received trace.
  if (!headers.hasHeader('Reply-To')) headers.add('Reply-To', from.name ? `${quoted(from.name)} <${from.address}>` : from.address, Number.MAX_SAFE_INTEGER);
}

export interface FromHeaderOptions {
  /** Told the From address (null when there is none) as soon as the root headers are read. */
  onFrom?: (from: ParsedAddress | null) => void;
  /** Told every From and Sender address (before any rewrite) as soon as the root headers are read. */
  onOriginators?: (found: Originators) => void;
  /** Rewrite the From to this address (when it differs). */
  rewriteTo?: string | ((from: ParsedAddress | null) => string | null);
}

/** A byte stream transform that reads (and optionally rewrites) the From of the message passing through. */
export function fromHeaderStream(options: FromHeaderOptions): { input: Transform; output: Transform } {
  const splitter = new Splitter() as unknown as Transform;
  const joiner = new Joiner() as unknown as Transform;
  const inspect = new Transform({
    objectMode: true,
    transform(chunk: Chunk, _encoding, callback) {
      if (chunk.type === 'node' && chunk.root) {
        const from = chunk.headers ? firstAddress(chunk.headers.getFirst('from')) : null;
        options.onFrom?.(from);
        if (options.onOriginators) options.onOriginators(chunk.headers ? originatorsOf(chunk.headers) : { from: [], fromHeaders: 0, sender: [], senderHeaders: 0 });
        const to = typeof options.rewriteTo === 'function' ? options.rewriteTo(from) : options.rewriteTo;
        if (to && chunk.headers && from && from.address.toLowerCase() !== to.toLowerCase()) rewrite(chunk.headers, from, to);
      }
      callback(null, chunk);
    },
  });
  splitter.on('error', (err) => joiner.destroy(err));
  inspect.on('error', (err) => joiner.destroy(err));
  splitter.pipe(inspect).pipe(joiner);
  return { input: splitter, output: joiner };
}

/** The message with its From rewritten to `to`. */
export function rewriteFrom(message: Readable, to: string): Readable {
  const { input, output } = fromHeaderStream({ rewriteTo: to });
  message.on('error', (err) => output.destroy(err));
  message.pipe(input);
  return output;
}
