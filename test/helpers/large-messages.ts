// Test helpers for large messages through the sandbox's Graph: random attachment files written in
// pieces, the attachments of a stored message hashed as they stream by, and the memory the process
// really holds, to show a large message never sits in memory whole.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MailParser, type AttachmentStream, type MessageText } from 'mailparser';
import type { TestSandbox } from './sandbox.js';

const MB = 1024 * 1024;

/** `size` random bytes in a new file in `dir`, written 1 MB at a time; its path and SHA-256. */
export async function randomFile(dir: string, size: number): Promise<{ path: string; sha256: string }> {
  const path = join(dir, `${randomBytes(4).toString('hex')}.bin`);
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let written = 0; written < size; written += MB) {
    const chunk = randomBytes(Math.min(MB, size - written));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { path, sha256: hash.digest('hex') };
}

/** Name, size and SHA-256 of each attachment of a message in the sandbox's mailboxes, streamed through mailparser. */
export async function attachmentHashes(t: TestSandbox, entryId: string): Promise<Array<{ name: string; size: number; sha256: string }>> {
  const parser = new MailParser();
  const found: Array<Promise<{ name: string; size: number; sha256: string }>> = [];
  parser.on('data', (part: AttachmentStream | MessageText) => {
    if (part.type !== 'attachment') return;
    const hash = createHash('sha256');
    let size = 0;
    part.content.on('data', (c: Buffer) => {
      size += c.length;
      hash.update(c);
    });
    found.push(once(part.content, 'end').then(() => (part.release?.(), { name: part.filename ?? '', size, sha256: hash.digest('hex') })));
  });
  t.sandbox.mailboxes.rawStream(entryId)!.pipe(parser);
  await once(parser, 'end');
  return Promise.all(found);
}

let gc: (() => void) | undefined;

/** Heap + ArrayBuffers after full collections: what the process really holds (RSS keeps freed pages). */
export function heldMemory(): number {
  if (!gc) {
    setFlagsFromString('--expose_gc');
    gc = runInNewContext('gc') as () => void;
  }
  // Twice: V8 frees Buffer memory after a collection, and the second one waits for it.
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
