/**
 * A listener's TLS identity: the configured certificate and key, or — so STARTTLS works
 * out of the box — a self-signed certificate generated once and kept beside the store,
 * with a warning, since clients cannot verify it.
 */
import { webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

export interface TlsIdentity {
  key: string;
  cert: string;
  selfSigned: boolean;
}

export async function loadTlsIdentity(
  files: { cert?: string; key?: string },
  hostname: string,
  dataDir: string,
  log: Logger,
): Promise<TlsIdentity> {
  if (files.cert && files.key) {
    const [cert, key] = await Promise.all([readFile(files.cert, 'utf8'), readFile(files.key, 'utf8')]);
    return { cert, key, selfSigned: false };
  }
  const dir = join(dataDir, 'tls');
  const certFile = join(dir, 'self-signed.crt');
  const keyFile = join(dir, 'self-signed.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const generated = await generateSelfSigned(hostname);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(keyFile, generated.key, { mode: 0o600 });
    await writeFile(certFile, generated.cert);
  }
  log.warn(
    { cert: certFile },
    'no TLS certificate configured: STARTTLS uses a self-signed certificate that clients cannot verify; set listeners.<name>.tls.cert and .key',
  );
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { cert, key, selfSigned: true };
}

async function generateSelfSigned(hostname: string): Promise<{ cert: string; key: string }> {
  // Loaded only when a certificate must be made; @peculiar/x509 needs the reflect polyfill first.
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const crypto = webcrypto as unknown as NonNullable<Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1]> & typeof webcrypto;
  const keys = await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex'),
      name: `CN=${hostname}`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 825 * 86_400_000),
      signingAlgorithm: algorithm,
      keys,
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: hostname },
          { type: 'dns', value: 'localhost' },
          { type: 'ip', value: '127.0.0.1' },
          { type: 'ip', value: '::1' },
        ]),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      ],
    },
    crypto,
  );
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n').trim()}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem'), key };
}
