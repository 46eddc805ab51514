// Base64 as Exchange reads it (.NET's Convert.FromBase64String): whitespace and line breaks are
// ignored, the alphabet and the padding are strict. Node's own decoder skips any junk silently,
// which would turn a client's mistake into a garbled message instead of Graph's 400.

// A plain character class: a grouped pattern per 4 characters overflows the regex stack on MBs.
const ALPHABET = /^[A-Za-z0-9+/]*={0,2}$/;

/** The decoded bytes, or null when the text is not valid base64. */
export function decodeBase64(text: string): Buffer | null {
  const compact = text.replace(/\s+/g, '');
  return compact.length % 4 === 0 && ALPHABET.test(compact) ? Buffer.from(compact, 'base64') : null;
}
