// Through a real relay: an SMTP client submits to relay365, which delivers through a graph route
// to the sandbox's Graph (credentials.authorityHost and endpoint at the sandbox, ca its CA file).
// A route Entra ID refuses a token for holds the message (not failed), with the fix; once the
// tenant is fixed, the held route's probe delivers it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/sink.js';
import { fastRetry, startTestRelay, type TestRelay } from '../helpers/relay.js';
import { DEMO } from '../helpers/sandbox.js';
import { keyIdOf } from '../../src/config/secret-box.js';
import { registerSecrets } from '../secrets/leak-sink.js';
import { ALICE, BOB, only, rawOf, RELAY, useGraphSandbox } from './graph-fixture.js';

const t = useGraphSandbox(); // the demo tenant put back for each test
let relay: TestRelay | undefined;
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
});

const RAW = ['From: SAP Basis <relay@contoso.example>', `To: Alice Smith <${ALICE}>`, 'Subject: Job ZFI_PAYMENTS finished', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', 'The job finished at 03:12.', ''].join('\r\n');

function graphRelay() {
  return startTestRelay({
    delivery: { ...fastRetry, probe: '500ms' },
    routes: {
      m365: {
        transport: 'graph',
        mailbox: RELAY,
        credentials: { tenant: DEMO.domain, clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret, authorityHost: `https://localhost:${t.sandbox.ports.https}` },
        endpoint: t.sandbox.urls.graph,
        ca: [t.sandbox.caPath],
      },
    },
  });
}

async function submit(to: string[]): Promise<string> {
  const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay!.port, secure: false, tls: { rejectUnauthorized: false }, logger: false });
  try {
    const info = await client.sendMail({ envelope: { from: 'sap@contoso.example', to }, raw: RAW });
    return /queued as (\S+)/.exec(String(info.response))![1]!;
  } finally {
    client.close();
  }
}

async function settled(id: string, state: string, timeoutMs = 15_000) {
  await until(async () => (await relay!.relay.store.get(id))?.state === state, timeoutMs, () => `message ${id} never became ${state}`);
  return (await relay!.relay.store.get(id))!;
}

describe('a graph route in a running relay', () => {
  it('delivers a submitted message to the mailbox; the envelope-only recipient gets it as Bcc', async () => {
    relay = await graphRelay();
    const id = await submit([ALICE, BOB]);
    const message = await settled(id, 'delivered');
    expect(message.recipientDetails.map((r) => [r.address, r.state, r.route, r.reply?.code])).toEqual([
      [ALICE, 'delivered', 'm365', 202],
      [BOB, 'delivered', 'm365', 202],
    ]);
    const alice = only(t, ALICE);
    expect(alice).toMatchObject({ subject: 'Job ZFI_PAYMENTS finished', to: [ALICE] });
    expect(await rawOf(t, alice.id)).toMatch(/^Received: from .*\r\n\tby relay\.test \(relay365\)/m); // Graph adds Message-ID and Date above it
    expect(await rawOf(t, only(t, BOB).id)).not.toMatch(/^Bcc:/im);
  });

  it("keeps the route's access token in the store sealed with the master key it creates (the token is in no row)", async () => {
    relay = await graphRelay();
    await settled(await submit([ALICE]), 'delivered');
    const keyText = readFileSync(join(relay.dir, 'data', 'master.key'), 'utf8').trim();
    registerSecrets(keyText);
    expect(relay.logs.some((l) => String(l.msg).startsWith('created the master key file'))).toBe(true);
    const db = new Database(join(relay.dir, 'data', 'relay365.db'), { readonly: true });
    const rows = db.prepare('SELECT value FROM access_tokens').all() as { value: string }[];
    db.close();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.value).toMatch(new RegExp(`^${keyIdOf(Buffer.from(keyText, 'base64'))}:[A-Za-z0-9_-]+$`));
    expect(rows[0]!.value).not.toMatch(/eyJ/); // no JWT, in clear or in part
  });

  it('holds the message while the app has no admin consent, with the consent URL; delivers it once consent is granted', async () => {
    t.sandbox.tenant.update((d) => (d.apps[0]!.adminConsent = false));
    relay = await graphRelay();
    const id = await submit([ALICE]);
    const held = await settled(id, 'held');
    const detail = held.recipientDetails[0]!;
    expect(detail).toMatchObject({ state: 'held', verdict: 'route-broken', reply: { code: 400, enhanced: 'AADSTS65001' } });
    expect(detail.diagnosis).toContain('has no admin consent in tenant contoso.example (AADSTS65001)');
    expect(held.attempts.at(-1)!.fix).toContain(`https://localhost:${t.sandbox.ports.https}/contoso.example/adminconsent?client_id=${DEMO.appOnly.clientId}`);

    t.sandbox.tenant.update((d) => (d.apps[0]!.adminConsent = true));
    await settled(id, 'delivered');
    expect(only(t, ALICE).subject).toBe('Job ZFI_PAYMENTS finished');
  });
});
