/**
 * Sessions and API tokens answer to the config in force: a user removed from admin.users (by a
 * reload or a restart) loses its sessions (their rows deleted) and its tokens; a user made
 * read-only is read-only at once, its tokens too; the setup sign-in ends once real users exist.
 * API tokens have an owner, a role and an expiry, and an expired one is refused saying so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/admin/secrets.js';
import { loadConfig } from '../../src/config/load.js';
import { hashPassword } from '../../src/policy/passwords.js';
import { fastRetry, routeTo, startTestRelay, writeConfig, type TestRelay } from '../helpers/relay.js';
import { startSink, type Sink } from '../helpers/sink.js';
import { ADMIN, AdminClient } from './helpers.js';

const ALICE = { user: 'alice', password: 'alice has a long passphrase' };
let relay: TestRelay | null = null;
let sink: Sink | null = null;
afterEach(async () => {
  await relay?.stop();
  await sink?.stop();
  relay = sink = null;
});

const hashes = async () => ({ ops: await hashPassword(ADMIN.password), alice: await hashPassword(ALICE.password) });

async function start(users: Record<string, unknown>, dir?: string): Promise<{ base: string; config: (users: Record<string, unknown>) => Record<string, unknown> }> {
  sink ??= await startSink();
  const config = (u: Record<string, unknown>) => ({ routes: { main: routeTo(sink!.port) }, delivery: fastRetry, admin: { host: '127.0.0.1', port: 0, users: u } });
  relay = await startTestRelay(config(users), dir);
  return { base: relay.relay.admin!.url.replace(/\/$/, ''), config };
}

/** What `systemctl reload relay365` does: the changed file, read and handed to the running relay. */
function reload(r: TestRelay, config: Record<string, unknown>) {
  writeConfig(r.dir, config);
  return r.relay.reload(loadConfig({ path: `${r.dir}/relay365.yaml`, env: {} }).config);
}

const sessionId = (client: AdminClient) => sha256(client.cookie!.split('=')[1]!);

describe('sessions and tokens of a user who is removed or changed', () => {
  it('ends the sessions and API tokens of a user removed by a reload, deleting the session rows', async () => {
    const h = await hashes();
    const { base, config } = await start({ ops: { passwordHash: h.ops }, alice: { passwordHash: h.alice } });
    const alice = new AdminClient(base);
    expect((await alice.login(ALICE.user, ALICE.password)).status).toBe(200);
    const created = await alice.post<{ token: string; owner: string }>('/api/tokens', { name: 'alice-script' });
    expect(created.body.owner).toBe('alice');
    const script = new AdminClient(base, created.body.token);
    expect((await script.get('/api/messages')).status).toBe(200);
    const ops = new AdminClient(base);
    await ops.login();

    expect(reload(relay!, config({ ops: { passwordHash: h.ops } })).reloaded).toContain('admin.users');

    const refused = await alice.get('/api/messages');
    expect(refused.status).toBe(401);
    expect(refused.body.detail).toMatch(/Your session has ended: alice is no longer in admin\.users/);
    expect(await relay!.relay.store.adminSession(sessionId(alice), Date.now())).toBeNull();
    expect((await alice.get('/api/session')).body).toMatchObject({ user: null });
    const tokenRefused = await script.get('/api/messages');
    expect(tokenRefused.status).toBe(401);
    expect(tokenRefused.body.detail).toMatch(/belonged to alice, who is no longer in admin\.users/);
    expect((await alice.login(ALICE.user, ALICE.password)).status).toBe(401);
    expect((await ops.get('/api/messages')).status).toBe(200);
    expect((await ops.get<{ tokens: { name: string; state: string }[] }>('/api/tokens')).body.tokens).toMatchObject([{ name: 'alice-script', state: 'owner removed' }]);
  });

  it('ends the session of a user removed while the relay was stopped', async () => {
    const h = await hashes();
    const { base, config } = await start({ ops: { passwordHash: h.ops }, alice: { passwordHash: h.alice } });
    const alice = new AdminClient(base);
    await alice.login(ALICE.user, ALICE.password);
    const dir = relay!.dir;
    await relay!.stop();
    relay = null;
    const restarted = await startTestRelay(config({ ops: { passwordHash: h.ops } }), dir);
    relay = restarted;
    const again = new AdminClient(restarted.relay.admin!.url.replace(/\/$/, ''));
    again.cookie = alice.cookie;
    again.csrf = alice.csrf;
    expect((await again.get('/api/messages')).status).toBe(401);
    expect(await restarted.relay.store.adminSession(sessionId(alice), Date.now())).toBeNull();
  });

  it('makes a user read-only at once, with the tokens it owns', async () => {
    const h = await hashes();
    const { base, config } = await start({ ops: { passwordHash: h.ops } });
    const ops = new AdminClient(base);
    await ops.login();
    const created = await ops.post<{ token: string; role: string }>('/api/tokens', { name: 'deploy' });
    expect(created.body.role).toBe('admin');
    const deploy = new AdminClient(base, created.body.token);
    expect((await deploy.post('/api/routes/main/pause')).status).toBe(200);

    reload(relay!, config({ ops: { passwordHash: h.ops, role: 'read-only' } }));
    for (const caller of [ops, deploy]) {
      expect((await caller.post('/api/routes/main/resume')).status).toBe(403);
      expect((await caller.get('/api/routes')).status).toBe(200);
    }
    expect((await ops.get('/api/session')).body).toMatchObject({ user: 'ops', role: 'read-only' });
  });

  it('ends the setup sign-in once real users exist', async () => {
    const h = await hashes();
    const { base, config } = await start({});
    const file = relay!.logs.find((l) => typeof l.setupTokenFile === 'string')!.setupTokenFile as string;
    const { readFileSync } = await import('node:fs');
    const setup = new AdminClient(base);
    expect((await setup.login('setup', readFileSync(file, 'utf8').trim())).status).toBe(200);
    expect((await setup.get('/api/messages')).status).toBe(200);
    reload(relay!, config({ ops: { passwordHash: h.ops } }));
    const refused = await setup.get('/api/messages');
    expect(refused.status).toBe(401);
    expect(refused.body.detail).toMatch(/admin users are configured now, so the setup sign-in has ended/);
    expect((await new AdminClient(base).login()).status).toBe(200);
  });
});

describe('API tokens: owner, role, expiry', () => {
  it('gives a new token its creator as owner, the default lifetime, and refuses lifetimes beyond the maximum', async () => {
    const { base } = await start({ ops: { passwordHash: (await hashes()).ops } });
    const ops = new AdminClient(base);
    await ops.login();
    const before = Date.now();
    const created = await ops.post<{ owner: string; role: string; expiresAt: number }>('/api/tokens', { name: 'ci' });
    expect(created.body).toMatchObject({ owner: 'ops', role: 'admin' });
    expect(created.body.expiresAt).toBeGreaterThanOrEqual(before + 90 * 86_400_000);
    expect(created.body.expiresAt).toBeLessThanOrEqual(Date.now() + 90 * 86_400_000);
    const month = await ops.post<{ expiresAt: number; role: string }>('/api/tokens', { name: 'month', expiresIn: '30d', role: 'read-only' });
    expect(month.body.role).toBe('read-only');
    expect(month.body.expiresAt).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000);
    const tooLong = await ops.post('/api/tokens', { name: 'forever', expiresIn: '400d' });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.detail).toMatch(/admin\.tokenMaxLifetime \(365d\), not 400d/);
    expect((await ops.post('/api/tokens', { name: 'soon', expiresIn: 'soon' })).status).toBe(400);
    const listed = await ops.get<{ tokens: Record<string, unknown>[] }>('/api/tokens');
    expect(listed.body.tokens).toMatchObject([
      { name: 'ci', owner: 'ops', role: 'admin', expiresAt: created.body.expiresAt, state: 'active' },
      { name: 'month', owner: 'ops', role: 'read-only', state: 'active' },
    ]);
  });

  it('refuses an expired token with a problem document that says it expired', async () => {
    const { base } = await start({ ops: { passwordHash: (await hashes()).ops } });
    const token = 'r365adm_expired-for-the-test-aaaaaaaaaaaaaaaaaaaaaaaaaa';
    const now = Date.now();
    await relay!.relay.store.createApiToken({ id: 'old', name: 'old', hash: sha256(token), owner: 'ops', role: 'admin', createdAt: now - 100 * 86_400_000, expiresAt: now - 1000 });
    const refused = await new AdminClient(base, token).get('/api/messages');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body).toMatchObject({ type: 'https://relay365.dev/problems/token-expired', detail: expect.stringMatching(/The API token "old" expired at .*; make a new one/) });
    const ops = new AdminClient(base);
    await ops.login();
    expect((await ops.get<{ tokens: Record<string, unknown>[] }>('/api/tokens')).body.tokens).toMatchObject([{ name: 'old', state: 'expired', lastUsedAt: null }]);
  });
});
