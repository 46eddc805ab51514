// Reading request bodies without trusting their size.
//
// Graph refuses a request over about 4 MB. The body is counted as it arrives: small bodies are
// collected (never more than the limit), upload chunks go straight to a file. A body over the
// limit is read to its end and discarded, so the client, still writing, gets the 413 rather than
// a reset connection; nothing of it is kept.
import { createWriteStream } from 'node:fs';
import { truncate } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export type BodyRead = { ok: true; body: Buffer } | { ok: false; reason: 'too_large'; received: number } | { ok: false; reason: 'aborted' };

/** The declared Content-Length, or undefined (chunked or absent). */
export function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined || !/^\d+$/.test(header)) return undefined;
  return Number(header);
}

/** Collects a body of at most `limit` bytes; beyond that, drains and discards the rest. */
export function readBounded(req: IncomingMessage, limit: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let tooLarge = (declaredLength(req) ?? 0) > limit;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.once('end', () => resolve(tooLarge ? { ok: false, reason: 'too_large', received } : { ok: true, body: Buffer.concat(chunks) }));
    // 'close' after 'end' changes nothing (a promise resolves once); without 'end' the client left.
    req.once('close', () => resolve({ ok: false, reason: 'aborted' }));
    req.once('error', () => resolve({ ok: false, reason: 'aborted' }));
  });
}

/** Reads the rest of a body and throws it away (a refused request the client is still sending). */
export function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    req.once('end', resolve);
    req.once('close', resolve);
    req.once('error', () => resolve());
    req.resume();
  });
}

export type ChunkWrite = { ok: true; bytes: number } | { ok: false; reason: 'length_mismatch'; bytes: number } | { ok: false; reason: 'aborted' };

/**
 * Appends exactly `expected` bytes from the request to `path` (which holds `offset` bytes so far),
 * streaming. Bytes beyond `expected` are read and dropped (the request is never cut off mid-body);
 * on any failure the file is cut back to `offset`, so a failed chunk leaves no trace.
 */
export async function appendChunk(req: IncomingMessage, path: string, offset: number, expected: number): Promise<ChunkWrite> {
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const room = Math.max(0, expected - bytes);
      bytes += chunk.length;
      if (room === 0) return callback();
      callback(null, room >= chunk.length ? chunk : chunk.subarray(0, room));
    },
  });
  try {
    await pipeline(req, counter, createWriteStream(path, { flags: 'a' }));
  } catch {
    await truncate(path, offset).catch(() => undefined);
    return { ok: false, reason: 'aborted' };
  }
  if (bytes !== expected) {
    await truncate(path, offset);
    return { ok: false, reason: 'length_mismatch', bytes };
  }
  return { ok: true, bytes };
}
