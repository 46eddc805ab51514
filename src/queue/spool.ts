/**
 * Message bodies as they stream in. Small bodies (up to the inline limit) stay in memory
 * and are committed inside the store's transaction, so one fsync covers message and body.
 * Larger ones are written to a spool file as they arrive and fsync'd (file and folder)
 * before the store commits the message that points at them — a 50 MB message never sits
 * whole in memory, and a crash between the two leaves only an orphan file, never a
 * message without its body.
 */
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import type { BodyWriter, StoredBody } from './store.js';

export interface SpooledBody extends StoredBody {
  /** The whole body when it fit under the inline limit. */
  inline: Buffer | null;
  /** The spool file holding it otherwise. */
  file: string | null;
}

/** Spool files live in 32 sub-folders by the id's last character, keeping folders small. */
export function spoolPath(spoolDir: string, messageId: string): string {
  return join(spoolDir, messageId.slice(-1), messageId);
}

export class SpoolWriter extends Writable implements BodyWriter {
  readonly stored: Promise<SpooledBody>;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private size = 0;
  private readonly hash: Hash = createHash('sha256');
  private file: FileHandle | null = null;
  /** The spool write in progress, so abort() removes the file only after it was made and written. */
  private writing: Promise<void> = Promise.resolve();
  private resolveStored!: (body: SpooledBody) => void;
  private rejectStored!: (err: Error) => void;

  constructor(
    private readonly path: string,
    private readonly inlineLimit: number,
  ) {
    super({ highWaterMark: 256 * 1024 });
    this.stored = new Promise<SpooledBody>((resolve, reject) => {
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
    if (!this.file && this.buffered + chunk.length <= this.inlineLimit) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      callback();
      return;
    }
    this.writing = this.spill(chunk);
    this.writing.then(() => callback(), callback);
  }

  private async spill(chunk: Buffer): Promise<void> {
    if (!this.file) {
      await mkdir(dirname(this.path), { recursive: true });
      this.file = await open(this.path, 'wx', 0o600);
      const pending = Buffer.concat(this.chunks);
      this.chunks = [];
      this.buffered = 0;
      if (pending.length) await this.file.write(pending);
    }
    await this.file.write(chunk);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.seal().then(
      (body) => {
        this.resolveStored(body);
        callback();
      },
      (err: Error) => {
        this.rejectStored(err);
        callback(err);
      },
    );
  }

  private async seal(): Promise<SpooledBody> {
    const sha256 = this.hash.digest('hex');
    if (!this.file) return { size: this.size, sha256, inline: Buffer.concat(this.chunks, this.buffered), file: null };
    await this.file.sync();
    await this.file.close();
    this.file = null;
    await syncFolder(dirname(this.path));
    return { size: this.size, sha256, inline: null, file: this.path };
  }

  async abort(): Promise<void> {
    this.chunks = [];
    // Destroyed first, so no buffered chunk starts another write; then the one under way lands.
    if (!this.writableFinished) this.destroy();
    await this.writing.catch(() => undefined);
    if (this.file) {
      await this.file.close().catch(() => undefined);
      this.file = null;
    }
    await rm(this.path, { force: true });
  }
}

/** A new file's name is durable only once its folder is fsync'd too. */
export async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
