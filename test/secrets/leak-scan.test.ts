// The secret-leak scan itself (the scan over the whole run is leak-scan.final.ts): it must find a
// secret the tests named and anything shaped like a token, must not cry wolf at masked values,
// and the relays the helpers start must really write into the sink it reads.
import { describe, expect, it } from 'vitest';
import { startTestRelay } from '../helpers/relay.js';
import { recorded, scanForLeaks } from './leak-sink.js';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJ1cG4iOiJhbGljZUBjb250b3NvLmV4YW1wbGUifQ.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU';
const REFRESH = `1.${'A'.repeat(128)}`;
const XOAUTH2 = Buffer.from(`user=alice@contoso.example\x01auth=Bearer ${JWT}\x01\x01`).toString('base64');

describe('scanForLeaks', () => {
  it('finds a named secret and every token shape, and shows where without repeating the secret', () => {
    const logs = [
      { source: 'a', text: '{"msg":"connecting","pass":"Sm4rthost-Passw0rd"}' },
      { source: 'b', text: `{"msg":"token","token":"${JWT}"}` },
      { source: 'c', text: `{"msg":"cache","rt":"${REFRESH}"}` },
      { source: 'd', text: `C: AUTH XOAUTH2 ${XOAUTH2}` },
      { source: 'e', text: 'authorization: Bearer abcdefghijklmnopqrstuvwxyz0123' },
      { source: 'f', text: 'grant_type=refresh_token&refresh_token=0.AAAA-bbbb-cccc&client_id=x' },
      { source: 'g', text: '-----BEGIN PRIVATE KEY-----\nMIIE…' },
    ];
    const leaks = scanForLeaks(logs, ['Sm4rthost-Passw0rd']);
    expect(leaks.map((l) => l.source).sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    for (const leak of leaks) expect(leak.context).not.toContain('Sm4rthost-Passw0rd');
    expect(leaks.find((l) => l.source === 'a')!.what).toBe('the secret Sm4… (18 characters)');
  });

  it('leaves masked values, key ids, enc: values and ordinary text alone', () => {
    const logs = [
      { source: 'ok', text: '{"msg":"app-only credentials ready","shown":"dem…","token":"eyJ…","keyId":"a1b2c3d4"}' },
      { source: 'ok', text: 'pass: enc:v1:a1b2c3d4:q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJ # set' },
      { source: 'ok', text: 'relay365 1.2.3 listening on 127.0.0.1:2525; version 1.0' },
      { source: 'ok', text: '{"msg":"token request failed","body":{"refresh_token":"[secret]","client_secret":"[secret]"}}' },
    ];
    expect(scanForLeaks(logs, ['Sm4rthost-Passw0rd', 'short'])).toEqual([]);
  });
});

describe('the sink', () => {
  it('receives the logs of a relay the helpers start (this run writes them where the final scan reads)', async () => {
    expect(process.env.RELAY365_TEST_LEAK_DIR, 'vitest.config.ts names test/secrets/leak-dir.global.ts as a global setup').toBeTruthy();
    // Other test files append to the sink at the same time: count only this process's lines.
    const ours = () => recorded().logs.filter((l) => l.text.includes(`"pid":${process.pid}`));
    const before = ours().length;
    const relay = await startTestRelay({});
    await relay.stop();
    const logs = ours().slice(before);
    expect(logs.some((l) => l.source === 'startTestRelay' && l.text.includes('"msg":"stopped"'))).toBe(true);
    expect(scanForLeaks([...logs, { source: 'planted', text: `{"token":"${JWT}"}` }], []).map((l) => l.source)).toContain('planted');
  });
});
