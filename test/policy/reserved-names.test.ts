/**
 * Names that every JavaScript object answers to — constructor, toString, __proto__ — name
 * nothing unless the config names them: SMTP AUTH as one of them is refused like any unknown
 * user, a config that names a route "__proto__" is refused with the key (a parser would drop it
 * without a word), and a route the config does name "constructor" works like any other.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { hashPassword } from '../../src/policy/passwords.js';
import { routeTo, startTestRelay, tempDir, type TestRelay } from '../helpers/relay.js';
import { startSink, until, type Sink } from '../helpers/sink.js';

let sink: Sink;
let relay: TestRelay;

beforeAll(async () => {
  sink = await startSink();
  relay = await startTestRelay({
    apps: { erp: { auth: { passwordHash: await hashPassword('erp-long-secret') }, senders: ['*@contoso.example'] } },
    // Enough tries for this file's wrong logins before a cool-down.
    protection: { authFailures: { max: 20, window: '1m', coolDown: '1m' } },
    routes: { constructor: routeTo(sink.port) },
  });
});
afterAll(async () => {
  await relay?.stop();
  await sink?.stop();
});

const client = (user: string, pass: string) => nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user, pass }, logger: false });

describe('SMTP AUTH', () => {
  it('as constructor, __proto__, toString or hasOwnProperty: 535 5.7.8, like any unknown user', async () => {
    for (const user of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const c = client(user, 'erp-long-secret');
      await expect(c.sendMail({ envelope: { from: 'erp@contoso.example', to: ['ann@contoso.example'] }, raw: 'Subject: x\r\n\r\ny\r\n' }), user).rejects.toMatchObject({
        responseCode: 535,
        response: '535 5.7.8 Authentication credentials invalid',
      });
      c.close();
    }
  });
});

describe('route names in the config', () => {
  it('"__proto__" is refused, naming the key', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'relay365.yaml'), 'routes:\n  __proto__:\n    transport: smarthost\n    host: smtp.contoso.example\napps:\n  erp:\n    networks: [127.0.0.1]\n    __proto__: { route: x }\n');
    let problems: string[] = [];
    try {
      loadConfig({ path: 'relay365.yaml', cwd: dir, env: {} });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems = e.problems;
    }
    expect(problems).toEqual([
      'relay365.yaml: routes.__proto__: "__proto__" cannot be a name in relay365\'s config (JavaScript reserves it); choose another',
      'relay365.yaml: apps.erp.__proto__: "__proto__" cannot be a name in relay365\'s config (JavaScript reserves it); choose another',
    ]);
  });

  it('"constructor" is a route like any other: the only route, it delivers', async () => {
    const c = client('erp', 'erp-long-secret');
    const before = sink.messages.length;
    const info = await c.sendMail({ envelope: { from: 'erp@contoso.example', to: ['ann@contoso.example'] }, raw: 'From: erp@contoso.example\r\nSubject: through constructor\r\n\r\nhello\r\n' });
    c.close();
    const id = /queued as (\S+)/.exec(String(info.response))![1]!;
    await sink.waitForMessages(before + 1);
    expect(sink.messages.at(-1)?.raw.toString()).toContain('Subject: through constructor');
    await until(async () => (await relay.relay.store.get(id))?.state === 'delivered', 10_000, () => `message ${id} not recorded as delivered`);
    expect((await relay.relay.store.get(id))?.recipientDetails.map((r) => [r.state, r.route])).toEqual([['delivered', 'constructor']]);
  });
});
