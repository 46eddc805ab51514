// The master key as an admin meets it: `relay365 secret encrypt` (stdin in, enc:v1: out, the key
// file created on first use), `config check` warning about plain-text secrets only, and a wrong
// or missing master key stopping `config check` and `serve` with one clear line and exit 78 —
// never a stack trace — for enc: values and for sign-ins sealed in the store alike.
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MasterKey, openMasterKey } from '../../src/config/master-key.js';
import { encryptSecret } from '../../src/config/secret-refs.js';
import { sealSignIn } from '../../src/credentials/token-cache.js';
import { SqliteStore } from '../../src/queue/sqlite/store.js';
import { spawnRelay, tempDir, writeConfig, type ChildRelay } from '../helpers/relay.js';
import { cli } from '../auth/helpers.js';
import { registerSecrets } from './leak-sink.js';

const SECRET = 'Client~Secret.typed-into-secret-encrypt';
registerSecrets(SECRET);
const NO_STACK = /^\s+at .+\(.*:\d+:\d+\)$/m;

const smarthost = (pass: string) => ({ routes: { a: { transport: 'smarthost', host: '127.0.0.1', port: 2, tls: 'none', auth: { user: 'relay@contoso.example', pass } } } });
const delegated = { routes: { alice: { transport: 'smtp-oauth', mailbox: 'alice@contoso.example', credentials: { flow: 'delegated', tenant: 'contoso.example', clientId: 'app' } } } };

function newKey(): { hex: string; key: MasterKey } {
  const raw = randomBytes(32);
  registerSecrets(raw.toString('hex'), raw.toString('base64'));
  return { hex: raw.toString('hex'), key: new MasterKey(raw, 'RELAY365_MASTER_KEY') };
}

let relay: ChildRelay | undefined;
afterEach(() => {
  relay?.child.kill('SIGKILL');
  relay = undefined;
});

describe('relay365 secret encrypt', () => {
  it('reads the secret from stdin, prints only its enc:v1: value, and creates the key file 0600 on first use', async () => {
    const dir = tempDir();
    writeConfig(dir, {});
    const res = await cli(dir, ['secret', 'encrypt'], {}, `${SECRET}\n`);
    expect(res.code).toBe(0);
    const keyFile = join(dir, 'data', 'master.key');
    registerSecrets(readFileSync(keyFile, 'utf8').trim());
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(res.stdout).toMatch(/^enc:v1:[0-9a-f]{8}:[A-Za-z0-9_-]+\n$/);
    expect(res.stderr).toContain(`created the master key file ${keyFile} (mode 0600`);
    expect(`${res.stdout}${res.stderr}`).not.toContain(SECRET);

    // The value works in place of the secret; config check does not call it plain text.
    writeConfig(dir, smarthost(res.stdout.trim()));
    const check = await cli(dir, ['config', 'check']);
    expect(check.code).toBe(0);
    expect(check.stderr).toBe('');
    const show = await cli(dir, ['config', 'show']);
    expect(show.stdout).toMatch(/pass: Cli… # set/);
    expect(show.stdout).not.toContain(SECRET);
  });

  it('encrypts with RELAY365_MASTER_KEY when it is set, and refuses an empty secret', async () => {
    const dir = tempDir();
    writeConfig(dir, {});
    const { hex, key } = newKey();
    const res = await cli(dir, ['secret', 'encrypt'], { RELAY365_MASTER_KEY: hex }, SECRET);
    expect(res.stdout).toMatch(new RegExp(`^enc:v1:${key.keyId}:`));
    expect(res.stderr).toContain(`encrypted with the master key from RELAY365_MASTER_KEY (key id ${key.keyId})`);
    const empty = await cli(dir, ['secret', 'encrypt'], { RELAY365_MASTER_KEY: hex }, '');
    expect(empty.code).toBe(64);
    expect(empty.stderr).toContain('no secret on stdin; nothing was encrypted');
  });
});

describe('config check and plain-text secrets', () => {
  it('warns for a secret in plain text, not for env:, file: or enc:', async () => {
    const dir = tempDir();
    writeConfig(dir, { ...smarthost('Plain-Text-Passw0rd'), listeners: { default: { host: '127.0.0.1', port: 0 } } });
    registerSecrets('Plain-Text-Passw0rd');
    const plain = await cli(dir, ['config', 'check']);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toContain('routes.a.auth.pass: a secret in plain text; give it as env:NAME, file:/path or enc:v1:… (relay365 secret encrypt) instead');
    writeConfig(dir, smarthost('env:SMTP_PASS'));
    expect((await cli(dir, ['config', 'check'], { SMTP_PASS: 'x-from-the-environment' })).stderr).toBe('');
  });

  it('does not call a secret from a RELAY365_* variable plain text; one left in the file beside it gets a softer note', async () => {
    const dir = tempDir();
    const fromEnvironment = { RELAY365_ROUTES__A__AUTH__PASS: 'Env-Passw0rd-overrides' };
    registerSecrets('Env-Passw0rd-overrides', 'Plain-Left-In-File');
    // Only in the environment: nothing in the file to warn about.
    writeConfig(dir, { routes: { a: { transport: 'smarthost', host: '127.0.0.1', port: 2, tls: 'none', auth: { user: 'relay@contoso.example' } } } });
    const onlyEnv = await cli(dir, ['config', 'check'], fromEnvironment);
    expect(onlyEnv.code).toBe(0);
    expect(onlyEnv.stderr).toBe('');
    // Still in the file, and overridden: not used, but there to be read.
    writeConfig(dir, smarthost('Plain-Left-In-File'));
    const both = await cli(dir, ['config', 'check'], fromEnvironment);
    expect(both.code).toBe(0);
    expect(both.stderr).toBe(`warning: ${join(dir, 'relay365.yaml')}: routes.a.auth.pass: RELAY365_ROUTES__A__AUTH__PASS overrides it, but the file still holds a secret in plain text; remove it from the file\n`);
  });

  it('start-up logs the same warning for a secret in plain text in the file, and none for one from the environment', async () => {
    const dir = tempDir();
    registerSecrets('Plain-Text-At-Start', 'Env-Passw0rd-at-start');
    writeConfig(dir, smarthost('Plain-Text-At-Start'));
    relay = await spawnRelay(dir);
    const warning = `${join(dir, 'relay365.yaml')}: routes.a.auth.pass: a secret in plain text; give it as env:NAME, file:/path or enc:v1:… (relay365 secret encrypt) instead`;
    expect(relay.logs).toContainEqual(expect.objectContaining({ level: 40, msg: warning }));
    relay.child.kill('SIGKILL');
    writeConfig(dir, { routes: { a: { transport: 'smarthost', host: '127.0.0.1', port: 2, tls: 'none', auth: { user: 'relay@contoso.example' } } } });
    relay = await spawnRelay(dir, { RELAY365_ROUTES__A__AUTH__PASS: 'Env-Passw0rd-at-start' });
    expect(relay.logs.filter((l) => String(l.msg).includes('plain text'))).toEqual([]);
  });
});

describe('a wrong or missing master key is a clear start-up error, never a stack trace', () => {
  it('enc: values under another key: config check and serve exit 78 naming both key ids', async () => {
    const dir = tempDir();
    const sealedWith = newKey();
    const running = newKey();
    writeConfig(dir, smarthost(encryptSecret(sealedWith.key, SECRET)));
    for (const args of [['config', 'check'], ['serve']]) {
      const res = await cli(dir, args, { RELAY365_MASTER_KEY: running.hex });
      expect(res.code).toBe(78);
      expect(res.stderr).toContain(`routes.a.auth.pass: was encrypted with another master key (key id ${sealedWith.key.keyId}); the master key from RELAY365_MASTER_KEY has key id ${running.key.keyId}`);
      expect(res.stderr).toContain('relay365: the configuration has a problem; nothing was started');
      expect(res.stderr).not.toMatch(NO_STACK);
    }
  });

  it('enc: values without any master key: exit 78 saying where the key was looked for', async () => {
    const dir = tempDir();
    writeConfig(dir, smarthost(encryptSecret(newKey().key, SECRET)));
    const res = await cli(dir, ['serve']);
    expect(res.code).toBe(78);
    expect(res.stderr).toContain(`an enc:v1: value needs the master key it was encrypted with: set RELAY365_MASTER_KEY, or put the key file at ${join(dir, 'data', 'master.key')}`);
    expect(res.stderr).not.toMatch(NO_STACK);
  });

  it('sign-ins in the store sealed with another key: serve exits 78 before accepting mail', async () => {
    const dir = tempDir();
    writeConfig(dir, delegated);
    const sealedWith = newKey();
    const store = new SqliteStore({ path: join(dir, 'data', 'relay365.db'), spool: join(dir, 'data', 'spool'), inlineLimit: 1024 });
    await store.saveTokenCache('alice', sealSignIn(sealedWith.key, 'alice', { v: 1, msal: '{}', signedInAt: 1, flow: 'browser' }), null, 1);
    await store.close();
    const res = await cli(dir, ['serve'], { RELAY365_MASTER_KEY: newKey().hex });
    expect(res.code).toBe(78);
    expect(res.stderr).toContain(`routes.alice: the route's sign-in in the store was sealed with another master key (key id ${sealedWith.key.keyId})`);
    expect(res.stderr).toContain('Every node sharing the store needs the same master key (or sign in again: relay365 auth login alice)');
    expect(res.stderr).not.toMatch(NO_STACK);
  });

  it('a RELAY365_MASTER_KEY that is no key: serve exits 78 without showing it', async () => {
    const dir = tempDir();
    writeConfig(dir, delegated);
    const res = await cli(dir, ['serve'], { RELAY365_MASTER_KEY: 'my-secret-master-password' });
    expect(res.code).toBe(78);
    expect(res.stderr).toContain('RELAY365_MASTER_KEY: not a relay365 master key: expected 32 bytes as 64 hex digits or base64 (44 characters), got 25 characters');
    expect(res.stderr).not.toContain('my-secret-master-password');
    expect(res.stderr).not.toMatch(NO_STACK);
  });

  it('first start with a delegated route creates the key file (0600) and says so', async () => {
    const dir = tempDir();
    writeConfig(dir, delegated);
    relay = await spawnRelay(dir);
    const keyFile = join(dir, 'data', 'master.key');
    registerSecrets(readFileSync(keyFile, 'utf8').trim());
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(relay.logs.find((l) => String(l.msg).startsWith('created the master key file'))).toMatchObject({ keyFile, keyId: openMasterKey({ env: {}, keyFile }).keyId });
  });
});
