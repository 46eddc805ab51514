/**
 * The HTTP submission API behind a reverse proxy, and never in plain HTTP on a network by
 * mistake: X-Forwarded-For is believed only from the proxies in http.trustProxy (it names the
 * client in the message's Received header and in the log), and a plain-HTTP listener on a
 * network address without a named proxy is refused at start-up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { newApiToken } from '../../src/policy/api-tokens.js';
import { startTestRelay, tempDir, writeConfig, type TestRelay } from '../helpers/relay.js';
import { registerSecrets } from '../secrets/leak-sink.js';

const erp = newApiToken();
registerSecrets(erp.token);
let relay: TestRelay | null = null;
afterEach(async () => {
  await relay?.stop();
  relay = null;
});

const apps = { erp: { apiTokens: [erp.hash] } };
const routes = { keep: { transport: 'capture' } };

async function submit(port: number, forwardedFor: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${erp.token}`, 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
    body: JSON.stringify({ from: 'erp@contoso.example', to: ['ann@contoso.example'], subject: 'via the proxy', text: 'hello' }),
  });
  const body = (await res.json()) as { id: string };
  expect(res.status).toBe(202);
  return body.id;
}

describe('http.trustProxy', () => {
  it('names the client that X-Forwarded-For gives when the request comes from a listed proxy', async () => {
    relay = await startTestRelay({ http: { host: '127.0.0.1', port: 0, trustProxy: ['127.0.0.1'] }, apps, routes });
    const id = await submit(relay.relay.http!.port, '203.0.113.9');
    const stored = await relay.relay.store.get(id);
    expect(stored?.clientAddress).toBe('203.0.113.9');
    expect(stored?.receivedHeader).toContain('203.0.113.9');
  });

  it('ignores X-Forwarded-For from anyone not listed', async () => {
    relay = await startTestRelay({ http: { host: '127.0.0.1', port: 0 }, apps, routes });
    const id = await submit(relay.relay.http!.port, '203.0.113.9');
    const stored = await relay.relay.store.get(id);
    expect(stored?.clientAddress).toBe('127.0.0.1');
    expect(stored?.receivedHeader).not.toContain('203.0.113.9');
  });
});

describe('plain HTTP submission on a network address', () => {
  const load = (http: Record<string, unknown>) => {
    const dir = tempDir();
    writeConfig(dir, { http: { port: 0, ...http } });
    return () => loadConfig({ path: `${dir}/relay365.yaml`, env: {} });
  };

  it('is refused without https or a named proxy, naming the file and the key', () => {
    expect(load({ host: '0.0.0.0' })).toThrow(ConfigError);
    expect(load({ host: '::' })).toThrow(/relay365\.yaml: http\.tls\.mode: the HTTP submission API would take API tokens over plain HTTP on ::; set http\.tls\.mode: https, keep http\.host on 127\.0\.0\.1 or ::1, or name the TLS proxy in front in http\.trustProxy/);
  });

  it('is taken on loopback, with https, or behind a named proxy', () => {
    for (const http of [{ host: '127.0.0.1' }, { host: '::1' }, { host: '0.0.0.0', tls: { mode: 'https' } }, { host: '0.0.0.0', trustProxy: ['10.0.0.0/24'] }]) {
      expect(load(http), JSON.stringify(http)).not.toThrow();
    }
  });

  it('warns once at start-up when it takes tokens over plain HTTP on a network address behind the named proxy', async () => {
    relay = await startTestRelay({ http: { host: '0.0.0.0', port: 0, trustProxy: ['127.0.0.1'] }, apps, routes });
    const warnings = relay.logs.filter((l) => String(l.msg).startsWith('the HTTP submission API takes API tokens over plain HTTP'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, trustProxy: ['127.0.0.1'] });
  });
});
