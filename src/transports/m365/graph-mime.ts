/**
 * The small-message path's body: the message read into memory (it is at most
 * largeMessages.threshold, about 3 MB, by construction) and sent as base64 text, encoded slice by
 * slice as the request is written, so the 4 MB base64 form is never held beside it.
 */
import { Readable } from 'node:stream';
import type { HttpBody } from './graph-http.js';

export type ReadResult = { ok: true; message: Buffer } | { ok: false; tooLarge: true };

/** Reads the message, or stops (and says so) once it is over `limit` bytes. */
export async function readBounded(stream: Readable, limit: number): Promise<ReadResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const c = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += c.length;
    if (size > limit) {
      stream.destroy();
      return { ok: false, tooLarge: true };
    }
    chunks.push(c);
  }
  return { ok: true, message: Buffer.concat(chunks) };
}

/** 48 KiB of message per base64 slice (a multiple of 3, so slices join without padding). */
const SLICE = 3 * 16 * 1024;

export function base64Body(message: Buffer): HttpBody {
  return {
    length: 4 * Math.ceil(message.length / 3),
    open: () =>
      Readable.from(
        (function* slices() {
          for (let at = 0; at < message.length; at += SLICE) yield Buffer.from(message.subarray(at, at + SLICE).toString('base64'), 'latin1');
        })(),
      ),
  };
}
