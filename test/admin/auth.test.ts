/**
 * Signing in to the admin API: sessions with the right cookie flags, CSRF refusal, password
 * guessing (an address locked out, a user slowed down, attempts counted before their check),
 * the one-time setup token, API tokens (API and CLI), and TLS.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { userInfo } from 'node:os';
import { maskSecret } from '../../src/config/secrets.js';
import { hashPassword, passwordChecks } from '../../src/policy/passwords.js';
import { CLI, runCli, spawnRelay, tempDir, writeConfig } from '../helpers/relay.js';
import { until } from '../helpers/sink.js';
import { upstreamTlsIdentity } from '../helpers/sink.js';
import { recordForLeakScan, registerSecrets } from '../secrets/leak-sink.js';
import { ADMIN, AdminClient, startAdminRelay, type AdminRelay } from './helpers.js';

const run = promisify(execFile);
let relay: AdminRelay | null = null;
afterEach(async () => {
  await relay?.stop();
  relay = null;
});

const isProblem = (body: unknown, status: number) =>
  expect(body).toMatchObject({ type: expect.stringMatching(/^https:\/\//), title: expect.any(String), status, detail: expect.any(String) });

describe('admin sign-in', () => {
  it('refuses the API without a session, with a problem document, and says nobody is signed in', async () => {
    relay = await startAdminRelay();
    const anonymous = new AdminClient(relay.base);
    const list = await anonymous.get('/api/messages');
    expect(list.status).toBe(401);
    expect(list.headers.get('content-type')).toContain('application/problem+json');
    isProblem(list.body, 401);
    expect((await anonymous.get('/api/session')).body).toMatchObject({ user: null, csrfToken: null, needsSetup: false });
    for (const [method, path] of [['GET', '/api/routes'], ['GET', '/api/apps'], ['GET', '/api/nodes'], ['GET', '/api/overview'], ['GET', '/api/tokens'], ['POST', '/api/test-send']] as const) {
      expect((await anonymous.request(method, path, method === 'POST' ? { to: 'a@b.example' } : undefined)).status, `${method} ${path}`).toBe(401);
    }
  });

  it('signs in with a session cookie that is HttpOnly, SameSite=Strict and not Secure over plain HTTP, and signs out', async () => {
    relay = await startAdminRelay();
    const client = new AdminClient(relay.base);
    const login = await client.login();
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/relay365_session=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).not.toMatch(/Secure/i);
    expect((await client.get('/api/session')).body).toMatchObject({ user: 'ops', via: 'session', csrfToken: client.csrf });
    expect((await client.get('/api/messages')).status).toBe(200);
    expect((await client.post('/api/logout')).status).toBe(200);
    expect((await client.get('/api/messages')).status).toBe(401);
  });

  it('refuses a state-changing request without the CSRF token, or with a wrong one', async () => {
    relay = await startAdminRelay();
    const client = new AdminClient(relay.base);
    await client.login();
    const without = await client.post('/api/routes/main/pause', undefined, { csrf: false });
    expect(without.status).toBe(403);
    isProblem(without.body, 403);
    expect((await client.delete('/api/tokens/x', { csrf: false })).status).toBe(403);
    const wrong = new AdminClient(relay.base);
    wrong.cookie = client.cookie;
    wrong.csrf = 'not-the-token';
    expect((await wrong.post('/api/routes/main/pause')).status).toBe(403);
    expect((await client.get('/api/routes')).body.routes).toMatchObject([{ name: 'main', state: 'active' }]);
    expect((await client.post('/api/routes/main/pause')).status).toBe(200);
  });

  it('takes sign-in only as JSON: a cross-site form cannot post it', async () => {
    relay = await startAdminRelay();
    const res = await fetch(`${relay.base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `user=ops&password=${encodeURIComponent(ADMIN.password)}` });
    expect(res.status).toBe(415);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('locks an address out after repeated failures, even for the right password, and says for how long', async () => {
    relay = await startAdminRelay({ lockout: { attempts: 3, duration: '10m' } });
    const client = new AdminClient(relay.base);
    for (let i = 0; i < 3; i++) {
      const wrong = await client.login(ADMIN.user, `guess-${i}`);
      expect(wrong.status).toBe(401);
      isProblem(wrong.body, 401);
    }
    const locked = await client.login();
    expect(locked.status).toBe(429);
    isProblem(locked.body, 429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(500);
    expect(client.cookie).toBeNull();
    expect(JSON.stringify(relay.relay.logs)).not.toContain('guess-');
  });

  it('counts sign-ins before their check: of six wrong at once from one address, at most three are checked', async () => {
    relay = await startAdminRelay({ lockout: { attempts: 3, duration: '10m', perUser: 100 } });
    const client = new AdminClient(relay.base, null, '127.0.0.2');
    const before = passwordChecks.ofKnownUsers;
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => client.login(ADMIN.user, `guess-${i}`)));
    expect(passwordChecks.ofKnownUsers - before).toBe(3);
    expect(answers.filter((a) => a.status === 401)).toHaveLength(3);
    for (const refused of answers.filter((a) => a.status !== 401)) {
      expect(refused.status).toBe(429);
      isProblem(refused.body, 429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    expect((await client.login()).status).toBe(429);
    expect((await new AdminClient(relay.base, null, '127.0.0.3').login()).status).toBe(200);
  });

  it("does not reset an address's failures when another user signs in from it", async () => {
    relay = await startAdminRelay({ lockout: { attempts: 3, duration: '10m', perUser: 100 }, users: { [ADMIN.user]: { passwordHash: await hashPassword(ADMIN.password) }, alice: { passwordHash: await hashPassword('alice-secret') } } });
    const client = new AdminClient(relay.base, null, '127.0.0.4');
    expect((await client.login('alice', 'guess-1')).status).toBe(401);
    expect((await client.login('alice', 'guess-2')).status).toBe(401);
    expect((await client.login()).status).toBe(200);
    expect((await client.login('alice', 'guess-3')).status).toBe(401);
    const locked = await client.login();
    expect(locked.status).toBe(429);
    expect(locked.body).toMatchObject({ type: expect.stringMatching(/locked-out$/) });
  });

  it('slows a guessed-at user down instead of locking it out, and lets it in at once from an address it signed in from', async () => {
    relay = await startAdminRelay({ lockout: { attempts: 100, duration: '10m', perUser: 3, slowDown: '1m' } });
    const from = (address: string) => new AdminClient(relay!.base, null, address);
    expect((await from('127.0.0.5').login()).status).toBe(200);
    for (const address of ['127.0.0.6', '127.0.0.7', '127.0.0.8']) expect((await from(address).login(ADMIN.user, 'guess')).status).toBe(401);
    const slowed = await from('127.0.0.9').login();
    expect(slowed.status).toBe(429);
    isProblem(slowed.body, 429);
    expect(slowed.body).toMatchObject({ type: expect.stringMatching(/slowed-down$/) });
    expect(Number(slowed.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(slowed.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect((await from('127.0.0.5').login()).status).toBe(200);
    expect((await from('127.0.0.9').login()).status).toBe(200);
  });

  it('logs a user name that is not an admin user masked: it may be a password typed in the wrong field', async () => {
    relay = await startAdminRelay();
    const typed = 'Tr0ub4dor&3-typed-as-admin-user';
    registerSecrets(typed);
    expect((await new AdminClient(relay.base).login(typed, 'guess')).status).toBe(401);
    expect((await new AdminClient(relay.base).login(ADMIN.user, 'guess')).status).toBe(401);
    const failed = relay.relay.logs.filter((l) => l.msg === 'admin sign-in failed');
    expect(failed.map((l) => l.user)).toEqual([maskSecret(typed), ADMIN.user]);
    expect(JSON.stringify(relay.relay.logs)).not.toContain(typed);
  });

  it('lets a user in whose hash was made with the old cost (N = 2^14), and says at start to make a new one', async () => {
    relay = await startAdminRelay({ users: { legacy: { passwordHash: 'scrypt$16384$8$1$cmVsYXkzNjUtb2xkLXNhbA==$LJQD5Dsz1HL906xJhSfOqSbT6FBpoRClJn5cqN1gI18=' } } });
    expect((await new AdminClient(relay.base).login('legacy', 'old-secret')).status).toBe(200);
    const warnings = relay.relay.logs.filter((l) => /passwordHash was made with less scrypt work/.test(String(l.msg)));
    expect(warnings.map((l) => l.user)).toEqual(['legacy']);
    expect(String(warnings[0]!.msg)).toContain('relay365 admin passwd legacy');
  });

  it('checks an unknown user against a dummy hash of the current cost, as much work as a known user', async () => {
    relay = await startAdminRelay();
    const client = new AdminClient(relay.base);
    const before = { ...passwordChecks };
    expect((await client.login('nobody-here', 'guess')).status).toBe(401);
    expect(passwordChecks.ofUnknownUsers - before.ofUnknownUsers).toBe(1);
    expect(passwordChecks.ofKnownUsers - before.ofKnownUsers).toBe(0);
    expect((await client.login(ADMIN.user, 'guess')).status).toBe(401);
    expect(passwordChecks.ofKnownUsers - before.ofKnownUsers).toBe(1);
  });

  it('with no users, writes a one-time setup token to a 0600 file the log names, which signs in once', async () => {
    relay = await startAdminRelay({ users: {} });
    const entry = relay.relay.logs.find((l) => typeof l.setupTokenFile === 'string');
    expect(entry?.msg).toMatch(/relay365 admin passwd/);
    const file = entry!.setupTokenFile as string;
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^setup-/);
    expect(JSON.stringify(relay.relay.logs)).not.toContain(token);
    const first = new AdminClient(relay.base);
    expect((await first.login('setup', 'wrong-token')).status).toBe(401);
    expect((await first.login('setup', token)).status).toBe(200);
    expect((await first.get('/api/session')).body).toMatchObject({ user: 'setup', needsSetup: true });
    expect((await new AdminClient(relay.base).login('setup', token)).status).toBe(401);
    expect(existsSync(file)).toBe(false);
    expect((await first.get('/api/messages')).status).toBe(200);
  });

  it('accepts API tokens as Bearer without CSRF, lists them without their value, and refuses them once revoked', async () => {
    relay = await startAdminRelay();
    const client = new AdminClient(relay.base);
    await client.login();
    const created = await client.post<{ id: string; name: string; token: string }>('/api/tokens', { name: 'monitoring' });
    expect(created.status).toBe(200);
    expect(created.body.token).toMatch(/^r365adm_[A-Za-z0-9_-]{43}$/);
    expect((await client.post('/api/tokens', { name: 'monitoring' })).status).toBe(409);
    const listed = await client.get('/api/tokens');
    expect(JSON.stringify(listed.body)).not.toContain(created.body.token);
    expect(listed.body.tokens).toMatchObject([{ id: created.body.id, name: 'monitoring', revokedAt: null }]);

    const robot = new AdminClient(relay.base, created.body.token);
    expect((await robot.get('/api/messages')).status).toBe(200);
    expect((await robot.post('/api/routes/main/pause')).status).toBe(200);
    expect((await robot.get('/api/session')).body).toMatchObject({ user: 'token:monitoring', via: 'token' });
    expect((await client.delete(`/api/tokens/${created.body.id}`)).status).toBe(200);
    const refused = await robot.get('/api/messages');
    expect(refused.status).toBe(401);
    isProblem(refused.body, 401);
    expect((await new AdminClient(relay.base, 'r365adm_made-up-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa').get('/api/messages')).status).toBe(401);
    expect(JSON.stringify(relay.relay.logs)).not.toContain(created.body.token);
  });

  it('serves the console over HTTPS with Secure cookies when admin.tls is set', async () => {
    const { identity } = await upstreamTlsIdentity();
    const dir = tempDir();
    writeFileSync(join(dir, 'admin.crt'), identity.cert);
    writeFileSync(join(dir, 'admin.key'), identity.key);
    relay = await startAdminRelay({ tls: { cert: join(dir, 'admin.crt'), key: join(dir, 'admin.key') } });
    expect(relay.base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const { request } = await import('node:https');
    const answer = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
      const req = request(`${relay!.base}/api/login`, { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, cookie: String(res.headers['set-cookie'] ?? '') });
      });
      req.on('error', reject);
      req.end(JSON.stringify({ user: ADMIN.user, password: ADMIN.password }));
    });
    expect(answer.status).toBe(200);
    expect(answer.cookie).toMatch(/; Secure/i);
  });
});

describe('relay365 admin (CLI)', () => {
  const cli = async (dir: string, args: string[], input?: string) => {
    const child = run(process.execPath, [CLI, '--config', join(dir, 'relay365.yaml'), ...args], { cwd: dir, env: { PATH: process.env.PATH } });
    if (input !== undefined) child.child.stdin?.end(input);
    const { stdout, stderr } = await child;
    recordForLeakScan(`relay365 ${args.join(' ')}`, stdout + stderr);
    return { stdout, stderr };
  };

  it('passwd prints a hash for admin.users that the config accepts and that signs in', async () => {
    const dir = tempDir();
    writeConfig(dir, {});
    const { stdout } = await cli(dir, ['admin', 'passwd', 'alice'], `${ADMIN.password}\n`);
    expect(stdout).toMatch(/^admin:\n {2}users:\n {4}alice:\n {6}passwordHash: scrypt\$/);
    expect(stdout).not.toContain(ADMIN.password);
    const hash = /passwordHash: (\S+)/.exec(stdout)![1]!;
    relay = await startAdminRelay({ users: { alice: { passwordHash: hash } } });
    expect((await new AdminClient(relay.base).login('alice', ADMIN.password)).status).toBe(200);
  });

  it('token create prints a token once; list shows it without the value; revoke ends it', async () => {
    const dir = tempDir();
    writeConfig(dir, {});
    const created = await cli(dir, ['admin', 'token', 'create', 'deploy']);
    const token = created.stdout.trim();
    expect(token).toMatch(/^r365adm_/);
    const listed = await cli(dir, ['admin', 'token', 'list']);
    expect(listed.stdout).toMatch(/deploy .* active/);
    expect(listed.stdout).not.toContain(token);
    expect((await cli(dir, ['admin', 'token', 'revoke', 'deploy'])).stdout).toBe('deploy: revoked\n');
    expect(JSON.parse((await cli(dir, ['admin', 'token', 'list', '--json'])).stdout)).toMatchObject([{ name: 'deploy', revokedAt: expect.any(Number) }]);
  });

  it('token create gives the token an owner, a role and an expiry, within what the owner and admin.tokenMaxLifetime allow', async () => {
    const dir = tempDir();
    writeConfig(dir, { admin: { port: 0, users: { viewer: { passwordHash: await hashPassword(ADMIN.password), role: 'read-only' } } } });
    const me = userInfo().username;
    const made = await runCli(dir, ['admin', 'token', 'create', 'grafana', '--role', 'read-only', '--expires', '30d']);
    expect(made.code).toBe(0);
    expect(made.stderr).toMatch(new RegExp(`API token "grafana" \\(id \\S+, read-only, owner cli:${me}\\) created; it expires 20`));
    const listed = await runCli(dir, ['admin', 'token', 'list']);
    expect(listed.stdout).toMatch(/NAME +ID +OWNER +ROLE +CREATED +EXPIRES +LAST USED +STATE/);
    expect(listed.stdout).toMatch(new RegExp(`grafana +\\S+ +cli:${me} +read-only +\\d+s ago +in (29|30)d +never +active`));
    expect(JSON.parse((await runCli(dir, ['admin', 'token', 'list', '--json'])).stdout)).toMatchObject([{ name: 'grafana', owner: `cli:${me}`, role: 'read-only', expiresAt: expect.any(Number), state: 'active' }]);

    const tooLong = await runCli(dir, ['admin', 'token', 'create', 'forever', '--expires', '400d']);
    expect(tooLong.code).toBe(64);
    expect(tooLong.stderr).toMatch(/a token lasts from 1 second to admin\.tokenMaxLifetime \(365d\), not 400d/);
    const noOwner = await runCli(dir, ['admin', 'token', 'create', 'orphan', '--owner', 'nobody']);
    expect(noOwner.code).toBe(64);
    expect(noOwner.stderr).toMatch(/"nobody" is not a user in admin\.users/);
    const above = await runCli(dir, ['admin', 'token', 'create', 'sneaky', '--owner', 'viewer', '--role', 'admin']);
    expect(above.code).toBe(64);
    expect(above.stderr).toMatch(/viewer is read-only: a token may not have a higher role than its owner/);
    const owned = await runCli(dir, ['admin', 'token', 'create', 'viewer-script', '--owner', 'viewer']);
    expect(owned.code).toBe(0);
    expect(owned.stderr).toMatch(/read-only, owner viewer/);
    expect((await runCli(dir, ['admin', 'token', 'create', 'x', '--expires', 'soon'])).stderr).toMatch(/--expires: expected a duration/);
  });

  it('passwd --role read-only prints the role with the hash', async () => {
    const dir = tempDir();
    writeConfig(dir, {});
    const { stdout } = await cli(dir, ['admin', 'passwd', 'viewer', '--role', 'read-only'], `${ADMIN.password}\n`);
    expect(stdout).toMatch(/^admin:\n {2}users:\n {4}viewer:\n {6}passwordHash: scrypt\$\S+\n {6}role: read-only\n$/);
  });
});

describe('relay365 serve with the console', () => {
  it('starts the console without a word on stderr (its API schemas compile cleanly)', async () => {
    const dir = tempDir();
    writeConfig(dir, { admin: { host: '127.0.0.1', port: 0, users: { ops: { passwordHash: await hashPassword(ADMIN.password) } } } });
    const child = await spawnRelay(dir);
    try {
      await until(() => child.logs.some((l) => l.msg === 'admin console and API listening'), 10_000, () => `the console did not start: ${child.stderr}`);
      expect(child.stderr).toBe('');
    } finally {
      child.child.kill('SIGTERM');
      await child.exited;
    }
  });
});
