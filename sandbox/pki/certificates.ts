// Making certificates: the sandbox's CA, its server certificate, and certificates for tests.
//
// Everything is real X.509 so clients validate TLS for real: the relay trusts the sandbox CA by
// configuration, never by turning verification off. Server and CA keys are ECDSA P-256 (fast to
// make); app credentials are RSA because MSAL signs client assertions with RS256 or PS256.
import { X509Certificate as NodeX509Certificate, randomBytes, type webcrypto } from 'node:crypto';
import { subtle, x509 } from './x509.js';

export type KeyType = 'ec' | 'rsa';

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const EC_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const RSA_KEY = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface CertificateAuthority {
  readonly certPem: string;
  readonly keyPem: string;
  readonly cert: x509.X509Certificate;
  readonly key: CryptoKey;
}

export interface IssuedCertificate {
  readonly certPem: string;
  /** PKCS#8 PEM of the private key. */
  readonly keyPem: string;
  /** SHA-1 thumbprint, upper-case hex: what the Entra portal shows and MSAL's `thumbprint` takes. */
  readonly sha1Thumbprint: string;
  /** SHA-256 thumbprint, upper-case hex: MSAL's `thumbprintSha256`. */
  readonly sha256Thumbprint: string;
}

export interface CertificateRequest {
  commonName: string;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  /** Extended key usage: TLS server, TLS client (connectors, app credentials), or both. */
  usage: 'server' | 'client' | 'server+client';
  keyType?: KeyType;
  validDays?: number;
  /** Start of validity; defaults to an hour ago so small clock differences do not matter. */
  notBefore?: Date;
}

type CryptoKey = webcrypto.CryptoKey;

/** Creates a new self-signed CA. */
export async function createCertificateAuthority(commonName: string, validDays = 3650): Promise<CertificateAuthority> {
  const keys = await subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
  const notBefore = new Date(Date.now() - 60 * 60 * 1000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${commonName}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + validDays * DAY_MS),
    keys,
    signingAlgorithm: EC_SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey), cert, key: keys.privateKey };
}

/** Reads a CA written by `createCertificateAuthority`. */
export async function loadCertificateAuthority(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  const cert = new x509.X509Certificate(certPem);
  const der = x509.PemConverter.decodeFirst(keyPem);
  const key = await subtle.importKey('pkcs8', der, EC_KEY, true, ['sign']);
  return { certPem, keyPem, cert, key };
}

/** Issues a certificate signed by `ca`, or self-signed when `ca` is 'self-signed'. */
export async function issueCertificate(ca: CertificateAuthority | 'self-signed', req: CertificateRequest): Promise<IssuedCertificate> {
  const keyType = req.keyType ?? 'ec';
  const keys = await subtle.generateKey(keyType === 'rsa' ? RSA_KEY : EC_KEY, true, ['sign', 'verify']);
  const notBefore = req.notBefore ?? new Date(Date.now() - 60 * 60 * 1000);
  const notAfter = new Date(notBefore.getTime() + (req.validDays ?? 397) * DAY_MS);
  const eku = req.usage === 'server' ? [x509.ExtendedKeyUsage.serverAuth] : req.usage === 'client' ? [x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
  const names = [...(req.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })), ...(req.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value }))];
  const extensions = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension(eku, false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
  ];
  const common = { serialNumber: randomSerial(), notBefore, notAfter, extensions };
  const cert =
    ca === 'self-signed'
      ? await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: `CN=${req.commonName}`, keys, signingAlgorithm: keyType === 'rsa' ? RSA_KEY : EC_SIGN })
      : await x509.X509CertificateGenerator.create({
          ...common,
          subject: `CN=${req.commonName}`,
          issuer: ca.cert.subject,
          publicKey: keys.publicKey,
          signingKey: ca.key,
          signingAlgorithm: EC_SIGN,
          extensions: [...extensions, await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey)],
        });
  const certPem = cert.toString('pem');
  return { certPem, keyPem: await privateKeyPem(keys.privateKey), ...thumbprintsOf(certPem) };
}

/** SHA-1 and SHA-256 thumbprints of a PEM certificate, upper-case hex without separators. */
export function thumbprintsOf(certPem: string): { sha1Thumbprint: string; sha256Thumbprint: string } {
  const cert = new NodeX509Certificate(certPem);
  return { sha1Thumbprint: cert.fingerprint.replaceAll(':', ''), sha256Thumbprint: cert.fingerprint256.replaceAll(':', '') };
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // a positive INTEGER
  return bytes.toString('hex');
}
