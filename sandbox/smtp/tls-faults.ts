// TLS the way Exchange Online never offers it, so relay365 doctor's TLS check can be seen failing:
// a highest version below TLS 1.2 (OpenSSL 3 allows TLS 1.0/1.1 only at security level 0, so the
// ciphers say so), or a server certificate from the sandbox CA for another name or already expired.
import type { SandboxContext } from '../context.js';
import type { TlsFaults } from './settings.js';

/** smtp-server TLS options replacing the endpoint's defaults; empty without faults. */
export async function tlsFaultOptions(ctx: SandboxContext, faults: TlsFaults): Promise<Record<string, unknown>> {
  const options: Record<string, unknown> = {};
  if (faults.maxVersion) {
    options.maxVersion = faults.maxVersion;
    if (faults.maxVersion === 'TLSv1' || faults.maxVersion === 'TLSv1.1') Object.assign(options, { minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' });
  }
  if (faults.certificate) {
    const DAY = 86_400_000;
    const issued = await ctx.pki.issue(
      faults.certificate === 'wrong-name'
        ? { commonName: 'mail.wrong-name.example', dnsNames: ['mail.wrong-name.example'], usage: 'server' }
        : { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'], usage: 'server', notBefore: new Date(Date.now() - 30 * DAY), validDays: 10 },
    );
    Object.assign(options, { key: issued.keyPem, cert: issued.certPem });
  }
  return options;
}
