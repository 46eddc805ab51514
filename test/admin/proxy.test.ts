/**
 * The console behind a reverse proxy, and never in plain HTTP on a network by mistake:
 * X-Forwarded-For is believed only from the proxies in admin.trustProxy (so lock-outs count the
 * real client, and the log names it), the session cookie can be Secure behind a TLS proxy, and a
 * console on a network address without TLS or a named proxy is refused at start-up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { startTestRelay, tempDir, writeConfig } from '../helpers/relay.js';
import { until } from '../helpers/sink.js';
import { ADMIN, AdminClient, startAdminRelay, type AdminRelay } from './helpers.js';

let relay: AdminRelay | null = null;
afterEach(async () => {
  await relay?.stop();
  relay = null;
});

async function signIn(base: string, user: string, password: string, forwardedFor?: string): Promise<{ status: number; cookie: string }> {
  const res = await fetch(`${base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
    body: JSON.stringify({ user, password }),
  });
  await res.text();
  return { status: res.status, cookie: res.headers.get('set-cookie') ?? '' };
}

const failures = (r: AdminRelay) => r.relay.logs.filter((l) => l.msg === 'admin sign-in failed').map((l) => l.client);

describe('admin.trustProxy', () => {
  it('believes X-Forwarded-For from a listed proxy: the log names the real client, and lock-outs count it', async () => {
    relay = await startAdminRelay({ trustProxy: ['127.0.0.1'], lockout: { attempts: 2, duration: '10m' } });
    // Two failures from one client, for two different users (so no user is locked out).
    expect((await signIn(relay.base, 'x1', 'wrong', '203.0.113.7')).status).toBe(401);
    expect((await signIn(relay.base, 'x2', 'wrong', '203.0.113.7')).status).toBe(401);
    await until(() => failures(relay!).length === 2, 5000, () => 'no failure logged');
    expect(failures(relay)).toEqual(['203.0.113.7', '203.0.113.7']);
    expect((await signIn(relay.base, ADMIN.user, ADMIN.password, '203.0.113.7')).status).toBe(429);
    // Another client behind the same proxy is not locked out with it.
    expect((await signIn(relay.base, ADMIN.user, ADMIN.password, '203.0.113.8')).status).toBe(200);
  });

  it('ignores X-Forwarded-For from anyone not listed: the client is the address that connected', async () => {
    relay = await startAdminRelay({ lockout: { attempts: 2, duration: '10m' } });
    expect((await signIn(relay.base, 'x1', 'wrong', '203.0.113.7')).status).toBe(401);
    expect((await signIn(relay.base, 'x2', 'wrong', '203.0.113.8')).status).toBe(401);
    await until(() => failures(relay!).length === 2, 5000, () => 'no failure logged');
    expect(failures(relay)).toEqual(['127.0.0.1', '127.0.0.1']);
    // A made-up header does not get round the lock-out of the address that connected.
    expect((await signIn(relay.base, ADMIN.user, ADMIN.password, '198.51.100.1')).status).toBe(429);
  });
});

describe('admin.secureCookies', () => {
  it('marks the session cookie Secure over plain HTTP with always (a TLS proxy in front), and not with auto', async () => {
    relay = await startAdminRelay({ secureCookies: 'always' });
    const always = await signIn(relay.base, ADMIN.user, ADMIN.password);
    expect(always.status).toBe(200);
    expect(always.cookie).toMatch(/relay365_session=.*; Secure/i);
    await relay.stop();
    relay = await startAdminRelay({ secureCookies: 'auto' });
    const auto = await signIn(relay.base, ADMIN.user, ADMIN.password);
    expect(auto.status).toBe(200);
    expect(auto.cookie).not.toMatch(/Secure/i);
  });
});

describe('plain HTTP on a network address', () => {
  const load = (config: Record<string, unknown>) => {
    const dir = tempDir();
    writeConfig(dir, config);
    return () => loadConfig({ path: `${dir}/relay365.yaml`, env: {} });
  };

  it('refuses a console on a network address without TLS or a named proxy, naming the file and the key', () => {
    const check = load({ admin: { host: '0.0.0.0', port: 0 } });
    expect(check).toThrow(ConfigError);
    expect(check).toThrow(/^.*relay365\.yaml: admin\.host: the console would serve plain HTTP on 0\.0\.0\.0, .*set admin\.tls \(cert and key\), keep admin\.host on 127\.0\.0\.1 or ::1, or name the TLS proxy in front in admin\.trustProxy/);
    expect(load({ admin: { host: '192.0.2.10', port: 0 } })).toThrow(/admin\.host: the console would serve plain HTTP on 192\.0\.2\.10/);
  });

  it('takes a console on loopback, over TLS, behind a named proxy, or turned off', () => {
    for (const admin of [{ host: '::1' }, { host: '127.0.0.2' }, { host: 'localhost' }, { host: '0.0.0.0', tls: { cert: 'a.crt', key: 'a.key' } }, { host: '0.0.0.0', trustProxy: ['10.0.0.5'] }, { host: '0.0.0.0', enabled: false }]) {
      expect(load({ admin: { port: 0, ...admin } }), JSON.stringify(admin)).not.toThrow();
    }
    expect(load({ admin: { host: '0.0.0.0', trustProxy: ['proxy.example'] } })).toThrow(/admin\.trustProxy\.0: expected an IP address or network/);
  });

  it('warns once at start-up when it serves plain HTTP on a network address behind the named proxy', async () => {
    const started = await startTestRelay({ admin: { host: '0.0.0.0', port: 0, trustProxy: ['127.0.0.1'] } });
    try {
      const warnings = started.logs.filter((l) => String(l.msg).startsWith('the console serves plain HTTP on a network address'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 40, trustProxy: ['127.0.0.1'] });
    } finally {
      await started.stop();
    }
  });
});
