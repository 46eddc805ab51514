/**
 * Certificate credentials: the private key and the certificate uploaded to the app
 * registration. msal-node signs the client assertion with the key and names the certificate
 * by its SHA-256 thumbprint (x5t#S256, PS256) with the certificate itself in x5c; Entra ID finds
 * the uploaded certificate by that thumbprint. The thumbprints are computed here, so the admin
 * configures two files and never copies a thumbprint by hand.
 *
 * Problems are found once, when the route starts, and come back as a value with the file and
 * the reason, so the route can report them (held, with the fix) instead of crashing the relay.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface CertificateCredential {
  /** PKCS#8 PEM of the private key (what msal-node's signer expects). Never logged. */
  readonly privateKey: string;
  /** The certificate, then any chain the file holds, PEM: sent as x5c. */
  readonly chainPem: string;
  /** Upper-case hex, no separators: what the Entra admin center shows under Certificates & secrets. */
  readonly sha1Thumbprint: string;
  readonly sha256Thumbprint: string;
  readonly subject: string;
  readonly notAfter: Date;
}

export type CertificateLoad = { ok: true; credential: CertificateCredential } | { ok: false; problem: string };

/** Reads and checks the key and certificate files of `routes.<route>.credentials.certificate`. */
export function loadCertificateCredential(files: { key: string; cert: string }, configKey: string): CertificateLoad {
  const read = (path: string, what: string): string | { problem: string } => {
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      return { problem: `${configKey}.${what}: cannot read ${path}: ${(e as Error).message}` };
    }
  };
  const certText = read(files.cert, 'cert');
  if (typeof certText !== 'string') return { ok: false, ...certText };
  const keyText = read(files.key, 'key');
  if (typeof keyText !== 'string') return { ok: false, ...keyText };

  const certs = certText.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const firstCert = certs[0];
  if (!firstCert) return { ok: false, problem: `${configKey}.cert: ${files.cert} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(firstCert);
  } catch (e) {
    return { ok: false, problem: `${configKey}.cert: ${files.cert} is not a readable X.509 certificate: ${(e as Error).message}` };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyText);
  } catch (e) {
    const encrypted = /ENCRYPTED/.test(keyText) ? ' (it is encrypted: store it without a passphrase, readable only by the relay365 service user)' : '';
    return { ok: false, problem: `${configKey}.key: ${files.key} is not a readable PEM private key${encrypted}: ${(e as Error).message}` };
  }
  // Entra ID takes RSA client assertions only (RS256 / PS256).
  if (key.asymmetricKeyType !== 'rsa') {
    return { ok: false, problem: `${configKey}.key: ${files.key} is a ${key.asymmetricKeyType ?? 'non-RSA'} key; Entra ID needs an RSA key (2048 bits or more) for certificate credentials` };
  }
  if (!cert.checkPrivateKey(key)) {
    return { ok: false, problem: `${configKey}: the private key ${files.key} does not belong to the certificate ${files.cert}` };
  }
  return {
    ok: true,
    credential: {
      privateKey: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      chainPem: certs.join('\n'),
      sha1Thumbprint: cert.fingerprint.replaceAll(':', ''),
      sha256Thumbprint: cert.fingerprint256.replaceAll(':', ''),
      subject: cert.subject.replace(/\n/g, ', '),
      notAfter: new Date(cert.validTo),
    },
  };
}
