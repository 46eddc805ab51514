/**
 * Extra CA certificates for Entra ID and the Microsoft 365 endpoints: a TLS-inspecting proxy's
 * CA in production, the sandbox's in tests and demos. Routes configure them as PEM files; code
 * may also hand over PEM text. Either way they are added to Node's roots, never replace them.
 */
import { readFileSync } from 'node:fs';

export class CaFileError extends Error {
  readonly code = 'ca_unreadable';
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`cannot read the CA certificate file ${path}: ${reason}`);
    this.name = 'CaFileError';
  }
}

/** PEM texts from PEM texts or paths of PEM files (anything holding "-----BEGIN" is PEM text). */
export function readCaCertificates(entries: readonly string[]): string[] {
  return entries.map((entry) => {
    if (entry.includes('-----BEGIN')) return entry;
    let text: string;
    try {
      text = readFileSync(entry, 'utf8');
    } catch (e) {
      throw new CaFileError(entry, (e as Error).message);
    }
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new CaFileError(entry, 'it holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
    return text;
  });
}
