/**
 * SMTP lines end in CRLF. A bare LF or bare CR inside DATA is how SMTP smuggling hides a
 * second message inside the first (different servers disagree on where DATA ends), so by
 * default a message containing one is refused after DATA, as Postfix does since the 2023
 * disclosures. Listeners for legacy applications that send bare LF can normalise instead:
 * every bare LF or CR becomes CRLF, and since delivery dot-stuffs every line that starts
 * with a dot, a smuggled "\n.\n" can never end the message downstream either.
 */
import { Transform, type TransformCallback } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');
const CR_ONLY = Buffer.from('\r');

export type BareLineEndings = 'reject' | 'normalize';

export class LineEndingGuard extends Transform {
  /** Set in reject mode once a bare CR or LF was seen; the rest of the data is discarded. */
  violation: 'bare LF' | 'bare CR' | null = null;
  /** The last chunk ended in CR: whether it was bare depends on the next chunk's first byte. */
  private pendingCR = false;

  constructor(private readonly mode: BareLineEndings) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.violation) return callback();
    if (this.mode === 'reject') {
      this.violation = findBare(chunk, this.pendingCR);
      this.pendingCR = chunk[chunk.length - 1] === CR;
      return callback(null, this.violation ? undefined : chunk);
    }
    callback(null, this.normalize(chunk));
  }

  override _flush(callback: TransformCallback): void {
    if (this.pendingCR) {
      if (this.mode === 'reject') this.violation ??= 'bare CR';
      else this.push(CRLF);
    }
    callback();
  }

  private normalize(chunk: Buffer): Buffer {
    let input = chunk;
    if (this.pendingCR) input = Buffer.concat([CR_ONLY, chunk]);
    // A CR at the very end is held back until the next chunk shows whether an LF follows.
    this.pendingCR = input[input.length - 1] === CR;
    const end = this.pendingCR ? input.length - 1 : input.length;
    const parts: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < end; i++) {
      const byte = input[i];
      const bareLF = byte === LF && (i === 0 || input[i - 1] !== CR);
      const bareCR = byte === CR && input[i + 1] !== LF;
      if (bareLF || bareCR) {
        parts.push(input.subarray(start, i), CRLF);
        start = i + 1;
      }
    }
    parts.push(input.subarray(start, end));
    return Buffer.concat(parts);
  }
}

function findBare(chunk: Buffer, previousEndedInCR: boolean): 'bare LF' | 'bare CR' | null {
  if (previousEndedInCR && chunk[0] !== LF) return 'bare CR';
  for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) {
    if (i === 0 ? !previousEndedInCR : chunk[i - 1] !== CR) return 'bare LF';
  }
  for (let i = chunk.indexOf(CR); i !== -1; i = chunk.indexOf(CR, i + 1)) {
    if (i < chunk.length - 1 && chunk[i + 1] !== LF) return 'bare CR';
  }
  return null;
}
