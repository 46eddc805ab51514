/**
 * What the door reads in a message's header block, read once as it streams past: the Subject
 * (for the queue's list) and the Message-ID the message is delivered with, known at the door: the app's own, or one relay365
 * adds when the app sent none (RFC 5322 wants one; Exchange would invent its own, and then its
 * non-delivery reports could not be led back to the message). Only the root header block is
 * held back while it is read (with mailsplit's header parser); the rest streams through. A new
 * Message-ID goes on top of the message: header order carries no meaning for it.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { Headers } from '@zone-eu/mailsplit';
import { subjectOf } from './subject.js';

/** Headers longer than Exchange accepts (256 KB) are not searched further: the message gets its own id. */
const MAX_HEADER_BYTES = 256 * 1024;

/** `<left@right>` out of a Message-ID header's value, or null when it holds none. */
export function messageIdOf(value: string): string | null {
  return /<[^<>\s]+>/.exec(value)?.[0] ?? null;
}

export class HeaderTap extends Transform {
  /** The Message-ID the message now carries; set once the header block has passed (null: a message without headers). */
  messageId: string | null = null;
  /** Its Subject, decoded; null when it has none (or no headers). */
  subject: string | null = null;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private decided = false;

  /** `fresh`: the Message-ID to add when the message has none (`<queue id@host name>`). */
  constructor(private readonly fresh: string) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.decided) return callback(null, chunk);
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    const block = Buffer.concat(this.held);
    this.held = [block];
    const end = headerEnd(block);
    if (end === -1 && this.heldBytes < MAX_HEADER_BYTES) return callback();
    this.decide(end === -1 ? null : block.subarray(0, end));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (!this.decided) {
      const block = Buffer.concat(this.held);
      this.decide(block);
    }
    callback();
  }

  private decide(headerBlock: Buffer | null): void {
    this.decided = true;
    // A message whose first line is no header field has no header section to add to: it goes as
    // received (the relay never rewrites what it cannot read), and its bounces cannot be matched.
    const first = Buffer.concat(this.held).subarray(0, 1000).toString('latin1');
    if (first.length > 0 && !/^(?:\r?\n|[\x21-\x39\x3b-\x7e]+[ \t]*:)/.test(first)) {
      for (const b of this.held) this.push(b);
      this.held = [];
      return;
    }
    const found = headerBlock && headerBlock.length > 0 ? messageIdOf(new Headers(headerBlock).getFirst('message-id')) : null;
    this.subject = subjectOf((headerBlock ?? Buffer.concat(this.held).subarray(0, MAX_HEADER_BYTES)).toString('binary'));
    this.messageId = found ?? this.fresh;
    if (!found) this.push(Buffer.from(`Message-ID: ${this.fresh}\r\n`));
    for (const b of this.held) this.push(b);
    this.held = [];
  }
}

/** Where the root header block ends (its blank line included), or -1 while it goes on. */
function headerEnd(block: Buffer): number {
  if (block[0] === 0x0a) return 1;
  if (block[0] === 0x0d && block[1] === 0x0a) return 2;
  const crlf = block.indexOf('\r\n\r\n');
  const lf = block.indexOf('\n\n');
  const ends = [crlf === -1 ? -1 : crlf + 4, lf === -1 ? -1 : lf + 2].filter((e) => e !== -1);
  return ends.length ? Math.min(...ends) : -1;
}
