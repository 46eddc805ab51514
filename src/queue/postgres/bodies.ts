/**
 * Message bodies in PostgreSQL, so that any node can deliver any message. A body streams in
 * as chunks of at most CHUNK_BYTES: up to the inline limit it stays in memory and goes into
 * the store with the message's own commit (one round trip, one fsync); beyond it, full
 * chunks are written as they fill, before the message is committed, and only the last,
 * partial chunk rides with the message. Reading streams it back a chunk at a time. A
 * 50 MB message never sits whole in memory on either side.
 */
import { createHash, type Hash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import type pg from 'pg';
import type { BodyWriter, StoredBody } from '../store.js';
import { SQL } from './sql.js';

/** Bigger chunks mean fewer round trips; smaller ones less memory per message in transit. */
export const CHUNK_BYTES = 1024 * 1024;

export interface ChunkedBody extends StoredBody {
  /** The bytes not yet written (the whole body when it fit the inline limit): committed with the message. */
  tail: Buffer;
  /** The chunk number the tail gets. */
  tailSeq: number;
}

export class PostgresBodyWriter extends Writable implements BodyWriter {
  readonly stored: Promise<ChunkedBody>;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private size = 0;
  private seq = 0;
  private readonly hash: Hash = createHash('sha256');
  /** The write in progress, so abort() removes what it wrote only after it landed. */
  private writing: Promise<void> = Promise.resolve();
  private resolveStored!: (body: ChunkedBody) => void;
  private rejectStored!: (err: Error) => void;

  constructor(
    private readonly pool: pg.Pool,
    private readonly messageId: string,
    private readonly inlineLimit: number,
  ) {
    super({ highWaterMark: 256 * 1024 });
    this.stored = new Promise<ChunkedBody>((resolve, reject) => {
      this.resolveStored = resolve;
      this.rejectStored = reject;
    });
    // Callers await `stored`; an abandoned writer must not raise an unhandled rejection.
    this.stored.catch(() => undefined);
    this.on('error', (err) => this.rejectStored(err));
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.size += chunk.length;
    this.hash.update(chunk);
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.size <= this.inlineLimit || this.buffered < CHUNK_BYTES) return callback();
    this.writing = this.spill();
    this.writing.then(() => callback(), callback);
  }

  /** Writes every full chunk buffered so far; keeps the remainder. */
  private async spill(): Promise<void> {
    let pending = Buffer.concat(this.chunks, this.buffered);
    if (this.seq === 0) await this.pool.query(SQL.startUpload, [this.messageId, Date.now()]);
    while (pending.length >= CHUNK_BYTES) {
      await this.pool.query({ name: 'insert-chunk', text: SQL.insertChunk, values: [this.messageId, this.seq, pending.subarray(0, CHUNK_BYTES)] });
      this.seq++;
      pending = pending.subarray(CHUNK_BYTES);
    }
    this.chunks = pending.length ? [Buffer.from(pending)] : [];
    this.buffered = pending.length;
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.resolveStored({ size: this.size, sha256: this.hash.digest('hex'), tail: Buffer.concat(this.chunks, this.buffered), tailSeq: this.seq });
    this.chunks = [];
    callback();
  }

  async abort(): Promise<void> {
    this.chunks = [];
    if (!this.writableFinished) this.destroy();
    await this.writing.catch(() => undefined);
    if (this.seq > 0) await forgetUpload(this.pool, this.messageId);
  }
}

/** Removes the chunks written for a body whose message was not committed. */
export async function forgetUpload(pool: pg.Pool, messageId: string): Promise<void> {
  await pool.query(SQL.abandonUpload, [messageId]);
}

/** Streams a stored body a chunk at a time; throws at once if the message is not in the store. */
export async function openChunkedBody(pool: pg.Pool, messageId: string): Promise<Readable> {
  const { rows } = await pool.query<{ chunks: number; first: Buffer | null }>({ name: 'body-start', text: SQL.bodyStart, values: [messageId] });
  const start = rows[0];
  if (!start) throw new Error(`message ${messageId} is not in the store`);
  const { chunks, first } = start;
  let seq = 0;
  return new Readable({
    highWaterMark: 1,
    objectMode: false,
    read() {
      if (seq >= chunks) return void this.push(null);
      const at = seq++;
      if (at === 0 && first) return void this.push(first);
      pool.query<{ data: Buffer }>({ name: 'body-chunk', text: SQL.bodyChunk, values: [messageId, at] }).then(
        ({ rows: [row] }) => {
          if (row) this.push(row.data);
          else this.destroy(new Error(`message ${messageId} lost chunk ${at} of its body`));
        },
        (err: Error) => this.destroy(err),
      );
    },
  });
}
