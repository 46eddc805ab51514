// relay365 doctor on a delegated route: its token comes from the sign-in kept (sealed) in the
// store; before anyone signed in the token check says so with `relay365 auth login`.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { runDoctor } from '../../src/doctor/runner.js';
import { tempDir, writeConfig } from '../helpers/relay.js';
import { useSandbox } from '../helpers/sandbox.js';
import { recordForLeakScan } from '../secrets/leak-sink.js';
import { ALICE, BOB, delegatedTenant, deviceCodeSignIn, relayPlace, smtpRouteConfig } from '../auth/helpers.js';
import { doctorSettings, only } from './doctor-helpers.js';

const t = useSandbox({ tenant: delegatedTenant(), options: { entra: { deviceCodeIntervalSeconds: 0.05 } } });

async function doctorIn(dir: string) {
  const report = await runDoctor(loadConfig({ path: `${dir}/relay365.yaml`, env: {} }), { log: pino({ level: 'silent' }) });
  recordForLeakScan('doctor report', JSON.stringify(report));
  return report;
}

describe('relay365 doctor: delegated routes', () => {
  it('before anyone signed in: the token check fails with relay365 auth login', async () => {
    const dir = tempDir('relay365-doctor-');
    writeConfig(dir, { routes: { bob: smtpRouteConfig(t, BOB) }, doctor: doctorSettings(t) });
    const token = only(await doctorIn(dir), 'token');
    expect(token.status).toBe('fail');
    expect(token.detail).toContain('Nobody has signed in for the route "bob" yet');
    expect(token.fix).toContain('relay365 auth login bob');
  });

  it('after a sign-in: the token (scp SMTP.Send) and SMTP AUTH as the signed-in user pass', async () => {
    const dir = tempDir('relay365-doctor-');
    const config = { routes: { bob: smtpRouteConfig(t, BOB), alice: smtpRouteConfig(t, ALICE) }, routing: { default: 'bob' }, doctor: doctorSettings(t) };
    const place = relayPlace(dir, config);
    try {
      await deviceCodeSignIn(t, place, 'bob');
    } finally {
      await place.close();
    }
    const report = await doctorIn(dir);
    expect(only(report, 'token', 'bob')).toMatchObject({ status: 'pass', detail: expect.stringMatching(/^aud https:\/\/outlook\.office\.com, scp .*SMTP\.Send/) });
    expect(only(report, 'smtp-auth', 'bob')).toMatchObject({ status: 'pass', detail: expect.stringContaining(`signed in as ${BOB}`) });
    expect(only(report, 'token', 'alice').status).toBe('fail');
  });
});
