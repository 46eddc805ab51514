/**
 * The Subject read at the door, for the queue's list: the message's first bytes are watched
 * as they stream past (nothing is buffered beyond the header block, nothing is changed), and
 * its encoded words (RFC 2047) are decoded with libmime, the Nodemailer project's MIME library.
 */
import type { Readable } from 'node:stream';
import libmime from 'libmime';

/** A header block longer than this is not read for a Subject (a list has no use for one beyond it). */
const MAX_HEADER_BYTES = 64 * 1024;
/** What is kept of a Subject: the list shows a line, and the message page the whole header. */
const MAX_SUBJECT = 998;

/** Watches `stream` (already flowing through a pipe) for its header block; subject() answers once it has passed. */
export function watchSubject(stream: Readable): { subject(): string | null } {
  const chunks: Buffer[] = [];
  let seen = 0;
  let found: string | null = null;
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    seen += chunk.length;
    const head = Buffer.concat(chunks);
    const end = head.indexOf('\r\n\r\n');
    if (end >= 0 || seen > MAX_HEADER_BYTES) {
      stream.off('data', onData);
      chunks.length = 0;
      found = subjectOf(head.subarray(0, end >= 0 ? end + 2 : MAX_HEADER_BYTES).toString('binary'));
    }
  };
  stream.on('data', onData);
  return {
    subject() {
      if (chunks.length) {
        // The message ended inside its header block (no body): what came is all the headers.
        stream.off('data', onData);
        found = subjectOf(Buffer.concat(chunks).toString('binary'));
        chunks.length = 0;
      }
      return found;
    },
  };
}

/** The first Subject field of a header block (as bytes in a binary string), unfolded and decoded. */
export function subjectOf(headers: string): string | null {
  const match = /(?:^|\r?\n)subject[ \t]*:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)/i.exec(headers);
  if (!match) return null;
  const raw = match[1]!.replace(/\r?\n(?=[ \t])/g, '');
  // 8-bit subjects (SMTPUTF8) arrive as UTF-8 bytes; encoded words carry their own charset.
  const text = libmime.decodeWords(Buffer.from(raw, 'binary').toString('utf8')).replace(/\s+/g, ' ').trim();
  return text ? text.slice(0, MAX_SUBJECT) : null;
}
