/**
 * The relay365 command as an admin runs it: the built CLI in a child process, on the same
 * store a running relay uses.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { configJsonSchema } from '../../src/config/load.js';
import { startSink, until, type Sink } from '../helpers/sink.js';
import { ROOT, routeTo, runCli, spawnRelay, tempDir, writeConfig, type ChildRelay } from '../helpers/relay.js';


const cli = (dir: string, args: string[], env: NodeJS.ProcessEnv = {}) => runCli(dir, args, { env });

let relay: ChildRelay | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  relay?.child.kill('SIGKILL');
  await sink?.stop().catch(() => undefined);
  relay = sink = undefined;
});

describe('relay365 config', () => {
  it('show prints the effective config with secrets masked and what was set marked', async () => {
    const dir = tempDir();
    writeConfig(dir, { routes: { primary: { transport: 'smarthost', host: 'smtp.contoso.example', port: 587, auth: { user: 'relay@contoso.example', pass: 'S3cret-Value!' } } } });
    const { code, stdout } = await cli(dir, ['config', 'show'], { RELAY365_LOG__LEVEL: 'debug' });
    expect(code).toBe(0);
    expect(stdout).not.toContain('S3cret-Value!');
    expect(stdout).toMatch(/pass: … # set/); // 13 characters: none of them shown
    expect(stdout).toMatch(/port: 587 # set/);
    expect(stdout).toMatch(/level: debug # set by RELAY365_LOG__LEVEL/);
    expect(stdout).toMatch(/lifetime: 5d\n/); // a default: not marked, in the form an admin writes it
  });

  it('show prints durations and sizes as written, defaults in the same form; --json gives milliseconds and bytes', async () => {
    const dir = tempDir();
    writeConfig(dir, {
      listeners: { default: { host: '127.0.0.1', port: 0, maxMessageSize: '10MB', idleTimeout: 90 } },
      apps: { erp: { networks: ['127.0.0.1'], limits: { maxMessageSize: '1.5MB' } } },
      routes: { primary: { transport: 'graph', mailbox: 'relay@contoso.example', credentials: { tenant: 'contoso.example', clientId: 'app', clientSecret: 'env:M365_SECRET' } } },
    });
    const env = { M365_SECRET: 'x-from-the-environment', RELAY365_DELIVERY__POLL: '2s' };
    const { code, stdout } = await cli(dir, ['config', 'show'], env);
    expect(code).toBe(0);
    // What the admin wrote, as written: a size, a number of seconds, an environment override.
    expect(stdout).toMatch(/maxMessageSize: 10MB # set\n/);
    expect(stdout).toMatch(/idleTimeout: 90 # set\n/);
    expect(stdout).toMatch(/maxMessageSize: 1\.5MB # set\n/);
    expect(stdout).toMatch(/poll: 2s # set by RELAY365_DELIVERY__POLL\n/);
    // Defaults in the same form: 5 days, 256 KB, 30 seconds (in a route: its transport's keys), 0 ms.
    expect(stdout).toMatch(/lifetime: 5d\n/);
    expect(stdout).toMatch(/inlineLimit: 256KB\n/);
    expect(stdout).toMatch(/graceTime: 30s\n/);
    expect(stdout).toMatch(/greetingDelay: 0ms\n/);
    expect(stdout).not.toMatch(/: (432000000|262144|36700160)\b/);
    const json = JSON.parse((await cli(dir, ['config', 'show', '--json'], env)).stdout) as { delivery: { lifetime: number; poll: number }; listeners: { default: { maxMessageSize: number } } };
    expect(json.delivery).toMatchObject({ lifetime: 432_000_000, poll: 2000 });
    expect(json.listeners.default.maxMessageSize).toBe(10 * 1024 * 1024);
  });

  it('check exits 0 for a good config and 78 with the problems for a bad one', async () => {
    const dir = tempDir();
    writeConfig(dir, { routes: { primary: { transport: 'smarthost', host: 'smtp.contoso.example', port: '587x' } } });
    const bad = await cli(dir, ['config', 'check']);
    expect(bad.code).toBe(78);
    expect(bad.stderr).toContain('relay365.yaml: routes.primary.port: expected a number from 1 to 65535, got "587x"');
    writeConfig(dir, { routes: { primary: { transport: 'capture' } } });
    expect((await cli(dir, ['config', 'check'])).code).toBe(0);
  });

  it('schema prints the JSON Schema that relay365.schema.json holds', async () => {
    const { stdout } = await cli(tempDir(), ['config', 'schema']);
    expect(JSON.parse(stdout)).toEqual(configJsonSchema());
    expect(JSON.parse(readFileSync(join(ROOT, 'relay365.schema.json'), 'utf8'))).toEqual(configJsonSchema());
  });

  it('relay365.example.yaml is a valid config that mentions every key', async () => {
    const dir = tempDir();
    const example = readFileSync(join(ROOT, 'relay365.example.yaml'), 'utf8');
    const parsed = parse(example) as Record<string, unknown>;
    writeConfig(dir, parsed);
    expect((await cli(dir, ['config', 'check'])).code).toBe(0);
    const keys = new Set<string>();
    const walk = (node: { properties?: Record<string, unknown>; additionalProperties?: unknown; oneOf?: unknown[]; anyOf?: unknown[] }) => {
      for (const [key, sub] of Object.entries(node.properties ?? {})) {
        keys.add(key);
        walk(sub as never);
      }
      if (typeof node.additionalProperties === 'object') walk(node.additionalProperties as never);
      for (const option of [...(node.oneOf ?? []), ...(node.anyOf ?? [])]) walk(option as never);
    };
    walk(configJsonSchema() as never);
    const missing = [...keys].filter((key) => !new RegExp(`^\\s*#?\\s*${key}:`, 'm').test(example));
    expect(missing).toEqual([]);
  });
});

describe('relay365 route', () => {
  it('lists routes with their state and warnings, and pauses, resumes and releases them', async () => {
    const dir = tempDir();
    writeConfig(dir, {
      routes: {
        upstream: { transport: 'smarthost', host: 'smtp.contoso.example' },
        legacy: { transport: 'smtp-basic', mailbox: 'scanner@contoso.example', password: 'x' },
      },
      routing: { default: 'upstream' },
    });
    const unstarted = await cli(dir, ['route', 'list']); // no store yet: the config's routes, and looking creates none
    expect(unstarted.stdout).toMatch(/^upstream +smarthost +not started$/m);
    expect(existsSync(join(dir, 'data'))).toBe(false);
    expect((await cli(dir, ['route', 'pause', 'upstream'])).code).toBe(0); // pausing before the first start does
    expect((await cli(dir, ['route', 'resume', 'upstream'])).code).toBe(0);
    const list = await cli(dir, ['route', 'list']);
    expect(list.stdout).toMatch(/^ROUTE +TRANSPORT +STATE/m);
    expect(list.stdout).toMatch(/^legacy +smtp-basic +active .* 0\/30 per min, 0\/10000 rcpts\/day +0\/3$/m);
    expect(list.stdout).toContain('warning: routes.legacy signs in as scanner@contoso.example with a password (Basic SMTP AUTH). Microsoft disables Basic SMTP AUTH by default at the end of December 2026');
    expect((await cli(dir, ['route', 'pause', 'upstream'])).stdout).toBe('upstream: paused\n');
    const paused = JSON.parse((await cli(dir, ['route', 'list', '--json'])).stdout) as { name: string; state: string; fix: string }[];
    expect(paused.find((r) => r.name === 'upstream')).toMatchObject({ state: 'paused', fix: 'relay365 route resume upstream' });
    expect((await cli(dir, ['route', 'list'])).stdout).toMatch(/upstream is paused since .*: paused by an admin\n {2}fix: relay365 route resume upstream/);
    expect((await cli(dir, ['route', 'resume', 'upstream'])).stdout).toBe('upstream: active; 0 held messages queued again\n');
    const unknown = await cli(dir, ['route', 'release', 'nowhere']);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toBe('relay365: no route "nowhere"; routes: upstream, legacy\n');
  });

  it('knows no route, app or listener by a name every JavaScript object answers to (__proto__, constructor, toString)', async () => {
    const dir = tempDir();
    writeConfig(dir, { routes: { upstream: { transport: 'smarthost', host: 'smtp.contoso.example' } }, apps: { erp: { networks: ['127.0.0.1'] } } });
    for (const [args, said] of [
      [['route', 'pause', '__proto__'], 'no route "__proto__"; routes: upstream'],
      [['route', 'release', 'constructor'], 'no route "constructor"; routes: upstream'],
      [['setup', 'toString'], 'no route "toString"; routes: upstream'],
      [['app', 'token', 'constructor'], 'no app "constructor" in the config; add apps.constructor first'],
      [['send-test', '--to', 'ops@contoso.example', '--listener', 'hasOwnProperty'], 'no listener "hasOwnProperty"; listeners: default'],
    ] as const) {
      const res = await cli(dir, [...args]);
      expect(res.code, args.join(' ')).toBe(64);
      expect(res.stderr).toBe(`relay365: ${said}\n`);
      expect(res.stdout).toBe('');
    }
  });
});

describe('relay365 queue and send-test', () => {
  it('follows a message from send-test through list, show, and the actions', async () => {
    sink = await startSink({ rcpt: (a) => (a.startsWith('gone') ? { code: 550, text: '5.1.1 User unknown' } : null) });
    const dir = tempDir();
    writeConfig(dir, { listeners: { default: { host: '127.0.0.1', port: 0 } }, routes: { upstream: routeTo(sink.port) } });
    relay = await spawnRelay(dir);
    // send-test needs the fixed port the relay chose
    writeConfig(dir, { listeners: { default: { host: '127.0.0.1', port: relay.port } }, routes: { upstream: routeTo(sink.port) } });

    const sent = await cli(dir, ['send-test', '--to', 'gone@contoso.example']);
    expect(sent.code).toBe(0);
    const id = /queued as ([0-9a-z]{18})/.exec(sent.stdout)?.[1] as string;
    expect(sent.stdout).toContain(`relay365 queue show ${id}`);

    await until(async () => JSON.parse((await cli(dir, ['queue', 'show', id, '--json'])).stdout).state === 'failed', 10_000, () => 'not failed');
    const list = JSON.parse((await cli(dir, ['queue', 'list', '--json', '--state', 'failed'])).stdout) as { id: string }[];
    expect(list.map((m) => m.id)).toEqual([id]);
    const table = (await cli(dir, ['queue', 'list'])).stdout;
    expect(table).toMatch(new RegExp(`^${id}\\s+failed\\s+`, 'm'));
    const show = (await cli(dir, ['queue', 'show', id])).stdout;
    expect(show).toContain(`Message ${id}: failed`);
    expect(show).toMatch(/#1 .* upstream \(smarthost\) on relay\.test {2}<gone@contoso\.example> {2}permanent/);
    expect(show).toContain('upstream: 550 5.1.1 User unknown');

    sink.behaviour.rcpt = undefined;
    expect((await cli(dir, ['queue', 'retry', id])).stdout).toBe(`${id}: queued\n`);
    await sink.waitForMessages(1);
    await until(async () => JSON.parse((await cli(dir, ['queue', 'show', id, '--json'])).stdout).state === 'delivered', 10_000, () => 'not delivered');

    const cancel = await cli(dir, ['queue', 'cancel', id]);
    expect(cancel.code).toBe(1);
    const header = `relay365: config ${join(dir, 'relay365.yaml')}; store SQLite ${join(dir, 'data', 'relay365.db')}\n`;
    expect(cancel.stderr).toBe(`${header}${id}: cannot cancel a message that is delivered\n`);
    expect((await cli(dir, ['queue', 'delete', id])).stdout).toBe(`${id}: deleted\n`);
    expect((await cli(dir, ['queue', 'show', id])).stderr).toBe(`${header}relay365: no message ${id} in the queue\n`);
  });

  it('queue list refuses an unknown state with the list of states', async () => {
    const result = await cli(tempDir(), ['queue', 'list', '--state', 'stuck']);
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/unknown state "stuck"; states are queued, sending, deferred, delivered, failed, bounced, held, cancelled/);
  });
});
