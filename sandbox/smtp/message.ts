// Receiving a message after DATA: onto disk, with its header block kept aside for the checks.
//
// Messages go to a spool file under the data folder (up to 150 MB must not sit in memory); the
// header block (up to the first empty line) is kept in memory, because Exchange judges a message
// by its headers (size, From, Message-ID) before it stores anything. The header fields themselves
// are read by mailparser, never by hand.
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { simpleParser, type AddressObject } from 'mailparser';

export interface ReceivedMessage {
  /** The spool file holding the message (the bytes after dot-unstuffing). */
  readonly path: string;
  readonly size: number;
  /** Bytes of the header block, or null when no header end was found within `maxHeaderBytes`. */
  readonly headerBytes: number | null;
  readonly headerBlock: Buffer;
}

export interface MessageHeaders {
  /** The first address of the From header, lower case. */
  from?: string;
  /** Message-ID with its angle brackets. */
  messageId?: string;
}

/** Writes the DATA stream to a spool file, stopping (but still draining) past `maxBytes`. */
export async function receiveMessage(stream: Readable, spoolDir: string, limits: { maxBytes: number; maxHeaderBytes: number }): Promise<ReceivedMessage> {
  await mkdir(spoolDir, { recursive: true });
  const path = join(spoolDir, `${randomUUID()}.eml`);
  const file = createWriteStream(path);
  let size = 0;
  let head = Buffer.alloc(0);
  let headerBytes: number | null | undefined;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (headerBytes === undefined) {
        head = Buffer.concat([head, chunk.subarray(0, limits.maxHeaderBytes + 4 - head.length)]);
        headerBytes = headerEnd(head, limits.maxHeaderBytes);
      }
      const room = limits.maxBytes - size;
      size += chunk.length;
      if (room <= 0) return done();
      file.write(room >= chunk.length ? chunk : chunk.subarray(0, room), done);
    },
    final(done) {
      file.end(done);
    },
  });
  try {
    await pipeline(stream, sink);
  } catch (e) {
    file.destroy();
    await unlink(path).catch(() => undefined);
    throw e;
  }
  // No empty line at all: the whole (short) message is its header block.
  const bytes = headerBytes === undefined ? (head.length <= limits.maxHeaderBytes ? head.length : null) : headerBytes;
  return { path, size, headerBytes: bytes, headerBlock: head.subarray(0, bytes ?? 0) };
}

/** Where the header block ends (its length with the last line's CRLF), null if over `max`, undefined if not seen yet. */
function headerEnd(head: Buffer, max: number): number | null | undefined {
  const crlf = head.indexOf('\r\n\r\n');
  const lf = head.indexOf('\n\n');
  const ends = [crlf >= 0 ? crlf + 2 : -1, lf >= 0 ? lf + 1 : -1].filter((i) => i >= 0);
  if (ends.length > 0) {
    const end = Math.min(...ends);
    return end <= max ? end : null;
  }
  return head.length > max ? null : undefined;
}

/** From and Message-ID of a header block, decoded by mailparser. */
export async function readHeaders(headerBlock: Buffer): Promise<MessageHeaders> {
  const parsed = await simpleParser(Buffer.concat([headerBlock, Buffer.from('\r\n')]), { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  const from = firstAddress(parsed.from);
  return { ...(from ? { from } : {}), ...(parsed.messageId ? { messageId: parsed.messageId } : {}) };
}

/** The stored message: the spool file, with a Message-ID header in front when the client sent none. */
export function messageStream(message: ReceivedMessage, addedMessageId?: string): Readable {
  const body = createReadStream(message.path);
  if (!addedMessageId) return body;
  return Readable.from(
    (async function* () {
      yield Buffer.from(`Message-ID: ${addedMessageId}\r\n`);
      yield* body;
    })(),
  );
}

export async function discard(message: ReceivedMessage): Promise<void> {
  await unlink(message.path).catch(() => undefined);
}

function firstAddress(field: AddressObject | AddressObject[] | undefined): string | undefined {
  const first = (Array.isArray(field) ? field[0] : field)?.value[0];
  const address = first?.address ?? first?.group?.[0]?.address;
  return address ? address.toLowerCase() : undefined;
}
