/**
 * The newcomer's first minutes, as the README tells them: `relay365 serve` with no config file
 * in a fresh folder starts the Microsoft 365 sandbox and delivers into it through the demo route
 * `sandbox`; every other command sees that same route.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../admin/helpers.js';
import { until } from '../helpers/sink.js';
import { runCli, spawnRelay, tempDir, type ChildRelay } from '../helpers/relay.js';

// No config file: only the ports are moved (port 0) so the test never meets another relay.
const env = { RELAY365_LISTENERS__DEFAULT__PORT: '0', RELAY365_ADMIN__PORT: '0', RELAY365_LOG__FORMAT: 'json' };

function sandboxCall(origin: string, ca: string, path: string, post?: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${path}`, { ca, method: post ? 'POST' : 'GET', headers: post ? { 'content-type': 'application/json' } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject).end(post ? JSON.stringify(post) : undefined);
  });
}

describe('npm start with no config: the demo route, which every command sees', () => {
  let dir: string;
  let relay: ChildRelay;
  beforeAll(async () => {
    dir = tempDir();
    relay = await spawnRelay(dir, env, { config: false });
  }, 30_000);
  afterAll(() => void relay?.child.kill('SIGTERM'));

  it('delivers app@contoso.example to alice@contoso.example into her sandbox mailbox, as the relay mailbox with Reply-To the app', async () => {
    // The README's line, as a newcomer types it (only the port differs).
    const { stdout: said } = await promisify(execFile)('swaks', ['-s', `127.0.0.1:${relay.port}`, '-f', 'app@contoso.example', '-t', 'alice@contoso.example', '--header', 'Subject: first ten minutes']);
    const id = /queued as (\S+)/.exec(said)?.[1] as string;
    const show = async () => JSON.parse((await runCli(dir, ['queue', 'show', id, '--json'])).stdout) as { state: string };
    await until(async () => ['delivered', 'failed'].includes((await show()).state), 15_000, () => 'not delivered');
    expect((await show()).state).toBe('delivered');
    expect((await runCli(dir, ['queue', 'show', id])).stdout).toContain(`Message ${id}: delivered`);

    const { origin, caPath } = JSON.parse(readFileSync(join(dir, 'data', 'sandbox', 'demo-route.json'), 'utf8')) as { origin: string; caPath: string };
    const ca = readFileSync(caPath, 'utf8');
    const inbox = JSON.parse(await sandboxCall(origin, ca, '/sandbox/api/messages?mailbox=alice@contoso.example&folder=Inbox')) as { messages: { id: string }[] };
    expect(inbox.messages).toHaveLength(1);
    const raw = await sandboxCall(origin, ca, `/sandbox/api/messages/${inbox.messages[0]!.id}/raw`);
    expect(raw).toMatch(/^From: relay@contoso\.example$/im);
    expect(raw).toMatch(/^Reply-To: app@contoso\.example$/im);
    expect(raw).toContain('Subject: first ten minutes');
  }, 30_000);

  it('hears of the bounce of an address the demo tenant does not have, and queue show says so', async () => {
    const mailer = nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, ignoreTLS: true, logger: false });
    const sent = await mailer.sendMail({ from: 'app@contoso.example', to: 'ghost@contoso.example', subject: 'to nobody', text: 'x' });
    const id = /queued as (\S+)/.exec(sent.response)?.[1] as string;
    const show = async () => JSON.parse((await runCli(dir, ['queue', 'show', id, '--json'])).stdout) as { state: string; bounceNote: string | null };
    // Graph accepts it (202); the demo route reads the mailbox's reports every 20 s.
    await until(async () => (await show()).state === 'bounced', 60_000, () => 'not bounced');
    expect((await show()).bounceNote).toBeNull();
    expect((await runCli(dir, ['queue', 'show', id])).stdout).toMatch(/<ghost@contoso\.example>  bounced via sandbox  550 5\.1\.10/);
  }, 75_000);

  it("names no key of a relay365.yaml that does not exist when Microsoft refuses the demo route's message", async () => {
    const { origin, caPath } = JSON.parse(readFileSync(join(dir, 'data', 'sandbox', 'demo-route.json'), 'utf8')) as { origin: string; caPath: string };
    const error = { error: { code: 'ErrorSendAsDenied', message: 'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account.' } };
    await sandboxCall(origin, readFileSync(caPath, 'utf8'), '/sandbox/api/faults', { kind: 'reply', endpoint: 'graph', count: 1, http: { status: 403, body: error } });
    const mailer = nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, ignoreTLS: true, logger: false });
    const sent = await mailer.sendMail({ from: 'app@contoso.example', to: 'bob@contoso.example', subject: 'refused', text: 'x' });
    const id = /queued as (\S+)/.exec(sent.response)?.[1] as string;
    const show = async () => JSON.parse((await runCli(dir, ['queue', 'show', id, '--json'])).stdout) as { state: string; attempts: { diagnosis: string | null; fix: string | null }[] };
    await until(async () => (await show()).state === 'failed', 15_000, () => 'not failed');
    const [attempt] = (await show()).attempts;
    expect(attempt!.fix).toContain("the demo route's sender.rewriteFrom");
    expect(attempt!.fix).toContain('The demo route (no relay365.yaml) has no settings to change: relay365 init writes a relay365.yaml');
    expect((await runCli(dir, ['queue', 'show', id])).stdout).not.toContain('routes.sandbox');
  }, 30_000);

  it('keeps pointing the commands at the running sandbox when a second copy fails to start', async () => {
    const record = () => readFileSync(join(dir, 'data', 'sandbox', 'demo-route.json'), 'utf8');
    const before = record();
    const second = await runCli(dir, ['serve'], { env: { ...env, RELAY365_LISTENERS__DEFAULT__PORT: String(relay.port) } });
    expect(second.code).not.toBe(0);
    expect(record()).toBe(before);
  }, 30_000);

  it('route list, setup, auth status, app list and doctor name the route sandbox, and the doctor checks it against the running sandbox', async () => {
    const list = await runCli(dir, ['route', 'list']);
    expect(list.stdout).toMatch(/^sandbox +graph +active /m);
    expect(list.stdout).not.toContain('capture');
    const setup = await runCli(dir, ['setup', 'sandbox']);
    expect(setup.code).toBe(0);
    expect(setup.stdout).toContain('route sandbox (graph)');
    expect(setup.stdout).toContain('warning: sandbox is the demo route (no relay365.yaml)');
    expect(setup.stdout).not.toContain('routes.sandbox.');
    expect((await runCli(dir, ['auth', 'status'])).stdout).toMatch(/^sandbox +graph +app-only /m);
    expect((await runCli(dir, ['app', 'list'])).stdout).toMatch(/^local .* sandbox$/m);
    // The console's route views: the same route, its setup guide in the demo's words.
    const console = new AdminClient(String(relay.logs.find((l) => l.msg === 'admin console and API listening')?.console).replace(/\/$/, ''));
    expect((await console.login('setup', readFileSync(join(dir, 'data', 'admin-setup-token'), 'utf8').trim())).status).toBe(200);
    const views = await console.get<{ routes: { name: string; transport: string }[] }>('/api/routes');
    expect(views.body.routes.map((r) => [r.name, r.transport])).toEqual([['sandbox', 'graph']]);
    expect(JSON.stringify(views.body)).not.toContain('routes.sandbox');
    const doctor = await runCli(dir, ['doctor']);
    expect(doctor.stdout).toContain('route sandbox (graph)');
    expect(doctor.stdout).toMatch(/✔ token +aud https:\/\/graph\.microsoft\.com, roles Mail\.Send/);
    expect(doctor.stdout).not.toContain('routes.sandbox.');
    expect(doctor.code).toBe(0);
  }, 30_000);
});

describe('the demo route while relay365 is not running', () => {
  it('is listed, and the doctor says to start relay365 first instead of passing with 0 routes', async () => {
    const dir = tempDir();
    expect((await runCli(dir, ['route', 'list'])).stdout).toMatch(/^sandbox +graph +not started$/m);
    const doctor = await runCli(dir, ['doctor', '--json']);
    expect(doctor.code).toBe(1);
    const report = JSON.parse(doctor.stdout) as { routes: { route: string; checks: { status: string; fix: string | null }[] }[] };
    expect(report.routes.map((r) => r.route)).toEqual(['sandbox']);
    expect(report.routes[0]!.checks.find((c) => c.status === 'fail')?.fix).toBe('start relay365 first: npm start');
  });
});
