/**
 * The secret-leak scan over the whole run: vitest runs this file after every other test file (the
 * "leak-scan" project in vitest.config.ts, groupOrder 1). It reads every relay log line and every
 * CLI output the test helpers collected (leak-sink.ts: startTestRelay, spawnRelay, the captured
 * credential and transport logs, the CLI runs) and fails on any secret the tests used — the demo
 * tenant's client secret and passwords, and every secret and master key the tests registered —
 * and on anything shaped like a token (JWTs, refresh tokens and codes, XOAUTH2 blobs, bearer
 * headers, OAuth form fields, private keys), whatever test produced it.
 */
import { describe, expect, it } from 'vitest';
import { DEMO } from '../helpers/sandbox.js';
import { recorded, scanForLeaks } from './leak-sink.js';

/** Secrets every run uses: the demo tenant's (sandbox/tenants/contoso.example.yaml). */
const DEMO_SECRETS = [DEMO.appOnly.secret, DEMO.alice.password, DEMO.bob.password, DEMO.relay.password];

describe('no secret or token in any relay log or CLI output of the run', () => {
  it('collected the run\'s relay logs (the helpers write to the sink)', () => {
    const { logs } = recorded();
    expect(logs.length, 'nothing was recorded: run the whole suite (npm test), or the helpers no longer write to test/secrets/leak-sink.ts').toBeGreaterThan(0);
  });

  it('finds none of the secrets the tests used, and nothing shaped like a token', () => {
    const { logs, secrets } = recorded();
    const leaks = scanForLeaks(logs, [...DEMO_SECRETS, ...secrets]);
    const report = leaks.slice(0, 20).map((l) => `${l.source}: ${l.what}: …${l.context}…`).join('\n');
    expect(leaks, `secrets or tokens in ${leaks.length} places of ${logs.length} recorded outputs:\n${report}`).toEqual([]);
  });
});
