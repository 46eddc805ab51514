/**
 * The Subject of a header block, for the queue's list (header-tap.ts reads the block at the
 * door): unfolded, and its encoded words (RFC 2047) decoded with libmime, the Nodemailer
 * project's MIME library.
 */
import libmime from 'libmime';

/** What is kept of a Subject: the list shows a line, and the message page the whole header. */
const MAX_SUBJECT = 998;

/** The first Subject field of a header block (as bytes in a binary string), unfolded and decoded. */
export function subjectOf(headers: string): string | null {
  const match = /(?:^|\r?\n)subject[ \t]*:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)/i.exec(headers);
  if (!match) return null;
  const raw = match[1]!.replace(/\r?\n(?=[ \t])/g, '');
  // 8-bit subjects (SMTPUTF8) arrive as UTF-8 bytes; encoded words carry their own charset.
  const text = libmime.decodeWords(Buffer.from(raw, 'binary').toString('utf8')).replace(/\s+/g, ' ').trim();
  return text ? text.slice(0, MAX_SUBJECT) : null;
}
