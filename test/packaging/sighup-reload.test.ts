/**
 * `systemctl reload relay365` is SIGHUP: `relay365 serve` takes the apps, routing, route
 * settings and log level of the changed config without a restart, says what it took and what
 * needs a restart, keeps the config in force when the new one has a mistake — and a message
 * in the middle of DATA while it reloads is still taken in and committed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { routeTo, spawnRelay, startTestRelay, tempDir, writeConfig, type ChildRelay } from '../helpers/relay.js';
import { startSink } from '../helpers/sink.js';
import { until } from '../helpers/sink.js';
import { newApiToken } from '../../src/policy/api-tokens.js';
import { registerSecrets } from '../secrets/leak-sink.js';
import { SmtpTalk } from '../helpers/smtp-talk.js';

const dir = tempDir('relay365-reload-');
const first = newApiToken();
const second = newApiToken();
registerSecrets(first.token, second.token);
const base = (recipients: Record<string, unknown>, level = 'info', apiTokens = [first.hash]) => ({
  listeners: { default: { host: '127.0.0.1', port: 0, tls: { mode: 'none' } } },
  http: { host: '127.0.0.1', port: 0 },
  apps: { jobs: { networks: ['127.0.0.1', '::1'], recipients, apiTokens } },
  routes: { keep: { transport: 'capture' } },
  log: { level },
});
let relay: ChildRelay | undefined;
afterAll(() => relay?.child.kill('SIGKILL'));

async function send(port: number, to: string): Promise<string> {
  const talk = await SmtpTalk.open(port);
  await talk.reply();
  await talk.command('EHLO cron.contoso.example');
  await talk.command('MAIL FROM:<root@jobs.contoso.example>');
  const rcpt = await talk.command(`RCPT TO:<${to}>`);
  if (!rcpt.startsWith('250')) {
    talk.close();
    return rcpt;
  }
  await talk.command('DATA');
  const reply = await talk.command('Subject: reload\r\n\r\nhello\r\n.');
  talk.close();
  return reply;
}

async function hangUp(r: ChildRelay, count: number): Promise<Record<string, unknown>> {
  const before = r.logs.filter((l) => String(l.msg).startsWith('SIGHUP')).length;
  r.child.kill('SIGHUP');
  await until(() => r.logs.filter((l) => String(l.msg).startsWith('SIGHUP')).length >= before + count, 10_000, () => `no SIGHUP log line: ${r.stderr}`);
  return r.logs.filter((l) => String(l.msg).startsWith('SIGHUP'))[before] as Record<string, unknown>;
}

describe('relay365 serve on SIGHUP', () => {
  it('reloads the apps, names what needs a restart, and keeps a message in DATA', async () => {
    writeConfig(dir, base({ denyDomains: ['fabrikam.example'] }));
    relay = await spawnRelay(dir);
    const port = relay.port;
    expect(await send(port, 'partner@fabrikam.example')).toMatch(/^550 5\.7\.1 Recipient domain fabrikam\.example is not allowed for app jobs/);

    // A session in the middle of DATA while the config is reloaded.
    const talk = await SmtpTalk.open(port);
    await talk.reply();
    await talk.command('EHLO cron.contoso.example');
    await talk.command('MAIL FROM:<root@jobs.contoso.example>');
    expect(await talk.command('RCPT TO:<ops@contoso.example>')).toMatch(/^250/);
    expect(await talk.command('DATA')).toMatch(/^354/);
    talk.write('Subject: during the reload\r\n\r\nfirst half\r\n');

    writeConfig(dir, { ...base({}), delivery: { lifetime: '2d' } });
    const reloaded = await hangUp(relay, 2);
    expect(reloaded.reloaded).toEqual(['apps']);
    expect(reloaded.needsRestart).toEqual(['delivery']);
    expect(relay.logs.some((l) => l.msg === 'SIGHUP: changed but only taken at start (restart relay365 for them): delivery')).toBe(true);

    expect(await talk.command('second half\r\n.')).toMatch(/^250 2\.0\.0 Ok: queued as /);
    talk.close();
    // The new apps are in force: the domain refused before is taken now.
    expect(await send(port, 'partner@fabrikam.example')).toMatch(/^250 2\.0\.0 /);
  });

  it('changes the log level of every logger, those made before the reload included', async () => {
    const r = relay as ChildRelay;
    writeConfig(dir, { ...base({}, 'warn'), delivery: { lifetime: '2d' } });
    await hangUp(r, 1); // at warn, only the "needs a restart" line is written
    const from = r.logs.length;
    expect(await send(r.port, 'ops@contoso.example')).toMatch(/^250 2\.0\.0 /);
    writeConfig(dir, { ...base({}, 'info'), delivery: { lifetime: '2d' } });
    const back = await hangUp(r, 2);
    expect(back.reloaded).toEqual(['log.level']);
    const between = r.logs.slice(from, r.logs.indexOf(back));
    expect(between.filter((l) => (l.level as number) < 40)).toEqual([]);
    expect(await send(r.port, 'ops@contoso.example')).toMatch(/^250 2\.0\.0 /);
    await until(() => r.logs.some((l) => l.msg === 'queued' && r.logs.indexOf(l) > r.logs.indexOf(back)), 5000, () => 'no info line after going back to info');
  });

  it('takes new and revoked API tokens of the HTTP API', async () => {
    const r = relay as ChildRelay;
    const port = r.logs.find((l) => l.msg === 'HTTP submission API listening')?.port as number;
    const post = (token: string) =>
      fetch(`http://127.0.0.1:${port}/api/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ from: 'root@jobs.contoso.example', to: 'ops@contoso.example', subject: 'token', text: 'x' }),
      }).then((res) => res.status);
    expect(await post(first.token)).toBe(202);
    expect(await post(second.token)).toBe(401);
    writeConfig(dir, { ...base({}, 'info', [second.hash]), delivery: { lifetime: '2d' } });
    expect((await hangUp(r, 2)).reloaded).toEqual(['apps']);
    expect(await post(second.token)).toBe(202);
    expect(await post(first.token)).toBe(401);
  });

  it('keeps the configuration in force when the changed one has a mistake', async () => {
    const r = relay as ChildRelay;
    writeFileSync(join(dir, 'relay365.yaml'), stringify({ ...base({}), listeners: { default: { host: '127.0.0.1', port: '25x' } } }));
    const refused = await hangUp(r, 1);
    expect(refused.msg).toBe('SIGHUP: the changed configuration has a problem; nothing was reloaded, the configuration in force is kept');
    expect(String((refused.problems as string[])[0])).toMatch(/relay365\.yaml: listeners\.default\.port: expected a number from 0 to 65535, got "25x"/);
    expect(await send(r.port, 'partner@fabrikam.example')).toMatch(/^250 2\.0\.0 /);
    expect(r.child.exitCode).toBeNull();
  });
});

describe('reloading the log settings', () => {
  it('takes log.level, and names log.format as needing a restart (the running log keeps its format)', async () => {
    const config = (log: Record<string, unknown>) => ({ routes: { keep: { transport: 'capture' } }, log });
    const test = await startTestRelay(config({ level: 'info' }));
    try {
      const reload = (log: Record<string, unknown>) => test.relay.reload(loadConfig({ path: writeConfig(test.dir, config(log)), env: {} }).config);
      expect(reload({ level: 'debug', format: 'pretty' })).toEqual({ reloaded: ['log.level'], needsRestart: ['log.format'] });
      // Still the format in force: asked again, it still needs the restart.
      expect(reload({ level: 'debug', format: 'pretty' })).toEqual({ reloaded: [], needsRestart: ['log.format'] });
    } finally {
      await test.stop();
    }
  });
});

describe('reloading routes', () => {
  it('rebuilds a route whose settings changed but not its connection, and names one whose host changed', async () => {
    const sink = await startSink();
    const config = (extra: Record<string, unknown>) => ({ routes: { out: routeTo(sink.port, extra), other: { transport: 'capture' } }, routing: { default: 'out' } });
    const test = await startTestRelay(config({}));
    try {
      const reload = (extra: Record<string, unknown>) => test.relay.reload(loadConfig({ path: writeConfig(test.dir, config(extra)), env: {} }).config);
      expect(reload({ connectTimeout: '5s' })).toEqual({ reloaded: ['routes.out'], needsRestart: [] });
      expect(reload({ connectTimeout: '5s', host: '127.0.0.2' })).toEqual({ reloaded: [], needsRestart: ['routes.out (its connection or credentials)'] });
      const added = test.relay.reload(loadConfig({ path: writeConfig(test.dir, { routes: { ...config({ connectTimeout: '5s' }).routes, extra: { transport: 'capture' } }, routing: { default: 'extra' } }), env: {} }).config);
      expect(added.needsRestart).toEqual(['routes.extra (added)', 'apps and routing (they name routes that are not running yet: extra)']);
      const talk = await SmtpTalk.open(test.port);
      await talk.reply();
      await talk.command('EHLO app.contoso.example');
      await talk.command('MAIL FROM:<app@contoso.example>');
      await talk.command('RCPT TO:<ops@contoso.example>');
      await talk.command('DATA');
      expect(await talk.command('Subject: after\r\n\r\nrebuilt route\r\n.')).toMatch(/^250 /);
      talk.close();
      // Delivered through the rebuilt transport, still to 127.0.0.1 (the host change waits for a restart).
      await sink.waitForMessages(1);
    } finally {
      await test.stop();
      await sink.stop();
    }
  });
});
