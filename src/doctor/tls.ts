/**
 * TLS: STARTTLS is offered (SMTP) or TLS answers (HTTPS), the version negotiated is 1.2 or later,
 * and the certificate chains to a trusted CA, is for the host name and is not about to expire.
 * The probe accepts everything a server might offer (down to TLS 1.0, any certificate) so that it
 * can say what is wrong instead of only that the handshake failed; the relay itself accepts only
 * what this check passes.
 */
import { connect, checkServerIdentity, rootCertificates, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { readCaCertificates } from '../credentials/ca.js';
import { failed, passed, since, skipped, warned, type CheckResult } from './check.js';
import type { DoctorContext, RouteState } from './context.js';
import { SmtpSession } from './smtp-session.js';

const DAY = 86_400_000;
const EXPIRY_WARNING_DAYS = 14;
/** Lets the probe see servers that offer only TLS 1.0/1.1 (OpenSSL 3 allows them at security level 0 only). */
const PERMISSIVE: ConnectionOptions = { minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0', rejectUnauthorized: false };

export async function tlsCheck(ctx: DoctorContext, state: RouteState): Promise<CheckResult> {
  const endpoint = state.target.endpoint;
  if (!endpoint || endpoint.tls === 'none') return skipped('tls', 'TLS', endpoint ? `routes.${state.target.name}.tls is none` : 'this route connects to nothing');
  const title = `TLS ${endpoint.host}:${endpoint.port}`;
  if (!state.reachable) return skipped('tls', title, 'the port did not answer');
  const key = `routes.${state.target.name}`;
  const start = performance.now();
  let socket: TLSSocket | null = null;
  let session: SmtpSession | null = null;
  try {
    if (endpoint.protocol === 'https') {
      socket = await httpsHandshake(state.reachable, endpoint.host, endpoint.port, state.target.ca, ctx.settings.timeout);
    } else {
      session = await SmtpSession.open({ address: state.reachable, host: endpoint.host, port: endpoint.port, tls: endpoint.tls, tlsOptions: PERMISSIVE, ca: state.target.ca, timeoutMs: ctx.settings.timeout, ehloName: ctx.ehloName });
      socket = session.tlsSocket;
      if (!socket) {
        const detail = `${endpoint.host}:${endpoint.port} does not offer STARTTLS.`;
        return endpoint.tls === 'opportunistic'
          ? warned('tls', title, `${detail} Mail goes in plain text.`, 'Exchange Online always offers STARTTLS: check that nothing on the way (a firewall doing "SMTP inspection") strips it.', since(start))
          : failed('tls', title, `${detail} This route sends only over TLS.`, `Exchange Online always offers STARTTLS: check ${key}.host and ${key}.port, and turn off "SMTP inspection" / ESMTP filtering on firewalls on the way.`, since(start));
      }
    }
    return judge(socket, endpoint.host, title, key, ctx.now, since(start));
  } catch (err) {
    const e = err as Error & { code?: string };
    if (/STARTTLS/i.test(e.message) || e.code === 'ETLS') {
      return failed('tls', title, `STARTTLS with ${endpoint.host}:${endpoint.port} failed: ${e.message}`, `Exchange Online offers STARTTLS with TLS 1.2 or later: check ${key}.host and ${key}.port, and turn off "SMTP inspection" on firewalls on the way.`, since(start));
    }
    return failed('tls', title, `The TLS handshake with ${endpoint.host}:${endpoint.port} failed: ${e.message}`, `Microsoft's endpoints offer TLS 1.2 or later; something in between (a TLS-inspecting proxy, a wrong host in ${key}.host) answers instead.`, since(start));
  } finally {
    session?.close();
    if (!session) socket?.destroy();
  }

  function judge(tls: TLSSocket, host: string, name: string, configKey: string, now: number, ms: number): CheckResult {
    const version = tls.getProtocol() ?? 'unknown';
    const cert = tls.getPeerCertificate();
    const problems: { text: string; fix: string }[] = [];
    if (!['TLSv1.2', 'TLSv1.3'].includes(version)) {
      problems.push({ text: `the server negotiated ${version}, below TLS 1.2, which Exchange Online requires (and relay365 refuses)`, fix: `Use Microsoft's endpoint (${host === 'smtp.office365.com' ? host : 'smtp.office365.com or the MX host'}); an old proxy or a legacy endpoint (smtp-legacy.office365.com) in between must allow TLS 1.2.` });
    }
    const identity = cert && Object.keys(cert).length ? checkServerIdentity(host, cert) : new Error('no certificate');
    if (identity) problems.push({ text: `the certificate is not for ${host} (${identity.message})`, fix: `Use the host name the certificate is for in ${configKey}.host (never an IP address for Microsoft's endpoints); a certificate for another name means something else answers.` });
    const notAfter = cert?.valid_to ? Date.parse(cert.valid_to) : NaN;
    if (!Number.isNaN(notAfter) && notAfter <= now) {
      problems.push({ text: `the certificate expired on ${new Date(notAfter).toISOString().slice(0, 10)}`, fix: `The server at ${host} must renew its certificate; Microsoft's never expire unnoticed — check that ${configKey}.host is Microsoft's endpoint.` });
    } else if (!tls.authorized && !/expired/i.test(String(tls.authorizationError))) {
      problems.push({ text: `the certificate is not trusted (${String(tls.authorizationError)})`, fix: `If a TLS-inspecting proxy stands in between, add its CA certificate (PEM) to ${configKey}.ca.` });
    }
    const subject = `${version}, certificate for ${cert?.subject?.CN ?? '?'} until ${Number.isNaN(notAfter) ? '?' : new Date(notAfter).toISOString().slice(0, 10)}`;
    if (problems.length) return failed('tls', name, `${host}: ${problems.map((p) => p.text).join('; ')} (${subject}).`, problems.map((p) => p.fix).join(' '), ms);
    state.tlsOk = true;
    const daysLeft = Math.floor((notAfter - now) / DAY);
    if (daysLeft < EXPIRY_WARNING_DAYS) return warned('tls', name, `${subject}: the certificate expires in ${daysLeft} days.`, `The server at ${host} must renew its certificate before then.`, ms);
    return passed('tls', name, subject, ms);
  }
}

function httpsHandshake(address: string, host: string, port: number, ca: readonly string[], timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: address,
      port,
      servername: isIP(host) ? undefined : host,
      ca: ca.length ? [...rootCertificates, ...readCaCertificates([...ca])] : undefined,
      ...PERMISSIVE,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TLS handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
