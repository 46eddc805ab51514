/**
 * The message size limit, kept while the message streams in: the first byte past the limit
 * stops the message before it reaches the store, so a client cannot fill the spool or the
 * database with a message that will be refused anyway. What the client still sends is read
 * and thrown away (receive.ts), and the answer is 552 5.3.4.
 */
import { Transform, type TransformCallback } from 'node:stream';

/** The error a SizeGate fails with: the pipeline stops, and nothing after the limit is written. */
export class MessageTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the message is larger than ${limit} bytes`);
  }
}

export class SizeGate extends Transform {
  /** Bytes seen so far, including the chunk that went over the limit. */
  seen = 0;

  constructor(readonly limit: number) {
    super();
  }

  get exceeded(): boolean {
    return this.seen > this.limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.exceeded) return callback(new MessageTooLarge(this.limit));
    callback(null, chunk);
  }
}
