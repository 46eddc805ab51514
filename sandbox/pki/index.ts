// The sandbox's PKI: a CA kept in the data folder, and a fresh server certificate on each start.
//
// The CA is made on first start and reused afterwards, so a relay configured to trust
// `<data>/pki/ca.crt` keeps trusting the sandbox across restarts. The server certificate covers
// localhost, 127.0.0.1 and ::1 plus any configured names; it is cheap to make, so it is never stale.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { createCertificateAuthority, issueCertificate, loadCertificateAuthority, type CertificateAuthority, type CertificateRequest, type IssuedCertificate } from './certificates.js';

export { issueCertificate, thumbprintsOf, type CertificateAuthority, type CertificateRequest, type IssuedCertificate } from './certificates.js';

export interface SandboxPki {
  /** PEM of the sandbox CA: what clients add to their trusted CAs. */
  readonly caPem: string;
  /** Absolute path of the CA certificate file. */
  readonly caPath: string;
  /** TLS private key (PEM) for the sandbox's HTTPS and SMTP servers. */
  readonly key: string;
  /** TLS certificate (PEM) for the same servers, signed by the CA. */
  readonly cert: string;
  readonly ca: CertificateAuthority;
  /** Issues a certificate signed by the sandbox CA, e.g. a client certificate for a connector test. */
  issue(req: CertificateRequest): Promise<IssuedCertificate>;
}

export const DEFAULT_SERVER_NAMES = ['localhost', '127.0.0.1', '::1'] as const;

/** Loads the CA from `<dataDir>/pki` (creating it the first time) and issues the server certificate. */
export async function preparePki(dataDir: string, extraNames: readonly string[] = []): Promise<SandboxPki> {
  const dir = resolve(dataDir, 'pki');
  await mkdir(dir, { recursive: true });
  const caPath = join(dir, 'ca.crt');
  const keyPath = join(dir, 'ca.key');
  const ca = await loadOrCreateCa(caPath, keyPath);
  const names = [...new Set([...DEFAULT_SERVER_NAMES, ...extraNames])];
  const server = await issueCertificate(ca, {
    commonName: 'localhost',
    dnsNames: names.filter((n) => isIP(n) === 0),
    ipAddresses: names.filter((n) => isIP(n) !== 0),
    usage: 'server',
  });
  return { caPem: ca.certPem, caPath, key: server.keyPem, cert: server.certPem, ca, issue: (req) => issueCertificate(ca, req) };
}

async function loadOrCreateCa(caPath: string, keyPath: string): Promise<CertificateAuthority> {
  const [certPem, keyPem] = await Promise.all([readIfExists(caPath), readIfExists(keyPath)]);
  if (certPem !== undefined && keyPem !== undefined) return loadCertificateAuthority(certPem, keyPem);
  if (certPem !== undefined || keyPem !== undefined) {
    throw new Error(`sandbox CA is incomplete: ${certPem === undefined ? caPath : keyPath} is missing; delete the other file to make a new CA (clients must then trust the new ${caPath})`);
  }
  const ca = await createCertificateAuthority('relay365 Sandbox CA');
  await writeAtomically(keyPath, ca.keyPem, 0o600);
  await writeAtomically(caPath, ca.certPem, 0o644);
  return ca;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, path);
}
