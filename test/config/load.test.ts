/**
 * Configuration mistakes, each with the message an admin reads: the file (or the variable),
 * the key path, and what is wrong.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, INSTALLED, loadConfig } from '../../src/config/load.js';
import { tempDir } from '../helpers/relay.js';

function problemsOf(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  const dir = tempDir();
  writeFileSync(join(dir, 'relay365.yaml'), yaml);
  try {
    loadConfig({ path: 'relay365.yaml', cwd: dir, env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('the config was accepted');
}

const smarthost = (extra: string) => `routes:\n  primary:\n    transport: smarthost\n    host: smtp.contoso.example\n${extra}`;

describe('config errors', () => {
  it('names the file, the key path, and the bad value', () => {
    expect(problemsOf(smarthost('    port: 587x\n'))).toEqual(['relay365.yaml: routes.primary.port: expected a number from 1 to 65535, got "587x"']);
  });

  it('suggests the key that was meant', () => {
    expect(problemsOf(smarthost('    prot: 587\n'))).toEqual(['relay365.yaml: routes.primary: unknown key "prot" (did you mean "port"?)']);
    expect(problemsOf('delivery:\n  concurency: 5\n')).toEqual(['relay365.yaml: delivery: unknown key "concurency" (did you mean "concurrency"?)']);
  });

  it('lists the transports when one is misspelt', () => {
    expect(problemsOf('routes:\n  primary:\n    transport: smarthst\n')).toEqual([
      'relay365.yaml: routes.primary.transport: expected one of "smarthost", "capture", "graph", "smtp-oauth", "smtp-basic", "direct-send", "connector", got "smarthst"',
    ]);
  });

  it('says what is missing', () => {
    expect(problemsOf('routes:\n  primary:\n    transport: smarthost\n')).toEqual(['relay365.yaml: routes.primary.host: is required (string)']);
  });

  it('explains durations, sizes and choices', () => {
    expect(problemsOf('delivery:\n  lifetime: 5 days\n')).toEqual([
      'relay365.yaml: delivery.lifetime: expected a duration such as "30s", "5m", "4h" or "5d" (or a number of seconds), got "5 days"',
    ]);
    expect(problemsOf('listeners:\n  default:\n    maxMessageSize: huge\n')).toEqual([
      'relay365.yaml: listeners.default.maxMessageSize: expected a size such as "35MB", "256KB" or a number of bytes, got "huge"',
    ]);
    expect(problemsOf('listeners:\n  default:\n    bareLineEndings: fix\n')).toEqual([
      'relay365.yaml: listeners.default.bareLineEndings: expected one of "reject", "normalize", got "fix"',
    ]);
  });

  it('reports YAML syntax errors with line and column', () => {
    const [problem] = problemsOf('listeners:\n  default:\n    port: 25\n  other: [\n');
    expect(problem).toMatch(/^relay365\.yaml: line \d+, column \d+: /);
  });

  it('checks rules that span keys', () => {
    expect(problemsOf('routes:\n  a: {transport: capture}\n  b: {transport: capture}\n')).toEqual([
      'relay365.yaml: routing.default: required when there are several routes; name one of "a", "b"',
    ]);
    expect(problemsOf('routes:\n  a: {transport: capture}\nrouting:\n  default: b\n')).toEqual([
      'relay365.yaml: routing.default: no route named "b" (routes: "a")',
    ]);
    expect(problemsOf('listeners:\n  default:\n    tls:\n      cert: server.crt\n')).toEqual([
      'relay365.yaml: listeners.default.tls: cert and key go together; give both or neither',
    ]);
    expect(problemsOf('http:\n  maxMessageSize: 35MB\n  maxBuffered: 10MB\n')).toEqual([
      'relay365.yaml: http.maxBuffered: 10485760 bytes is less than http.maxMessageSize (36700160 bytes); make it at least that',
    ]);
  });

  it('names the environment variable when the environment set the bad value', () => {
    expect(problemsOf('', { RELAY365_LISTENERS__DEFAULT__PORT: 'abc' })).toEqual([
      'environment RELAY365_LISTENERS__DEFAULT__PORT: listeners.default.port: expected a number from 0 to 65535, got "abc"',
    ]);
  });

  it('refuses a config file that was asked for and is not there', () => {
    const dir = tempDir();
    expect(() => loadConfig({ path: 'missing.yaml', cwd: dir, env: {} })).toThrow(/^missing\.yaml: the config file does not exist/);
  });
});

describe('config loading', () => {
  it('runs on defaults without a file', () => {
    const dir = tempDir();
    const { config, file } = loadConfig({ cwd: dir, env: {} });
    expect(file).toBeNull();
    expect(config.listeners.default).toMatchObject({ host: '127.0.0.1', port: 2525, greetingDelay: 0, bareLineEndings: 'reject', maxMessageSize: 35 * 1024 ** 2 });
    expect(config.delivery.lifetime).toBe(5 * 86_400_000);
    expect(config.store.path).toBe(join(dir, 'data/relay365.db'));
  });

  it('lets the environment override any key, matched without regard to case or underscores', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'relay365.yaml'), smarthost('    port: 587\n'));
    const { config } = loadConfig({
      path: 'relay365.yaml',
      cwd: dir,
      env: {
        RELAY365_ROUTES__PRIMARY__PORT: '2587',
        RELAY365_LISTENERS__DEFAULT__MAX_MESSAGE_SIZE: '10MB',
        RELAY365_DELIVERY__RETRY__INITIAL: '30s',
        RELAY365_ROUTES__PRIMARY__AUTH__USER: 'relay@contoso.example',
        RELAY365_ROUTES__PRIMARY__AUTH__PASS: '123456',
      },
    });
    expect(config.routes.primary).toMatchObject({ port: 2587, auth: { user: 'relay@contoso.example', pass: '123456' } });
    expect(config.listeners.default?.maxMessageSize).toBe(10 * 1024 ** 2);
    expect(config.delivery.retry.initial).toBe(30_000);
  });

  it('restricts a listener other machines can reach to the apps\' networks unless told otherwise', () => {
    const dir = tempDir();
    const listeners = 'listeners:\n  public: {host: 0.0.0.0}\n  v6: {host: "::"}\n  local: {host: 127.0.0.1}\n  open: {host: 0.0.0.0, restricted: false}\n  strict: {host: ::1, restricted: true}\n';
    writeFileSync(join(dir, 'relay365.yaml'), `${listeners}apps:\n  scanner: {networks: [10.1.50.0/24]}\n`);
    const { config } = loadConfig({ path: 'relay365.yaml', cwd: dir, env: {} });
    expect(Object.fromEntries(Object.entries(config.listeners).map(([name, l]) => [name, l.restricted]))).toEqual({ public: true, v6: true, local: false, open: false, strict: true });
  });

  it('refuses a restricted listener that would turn everyone away, saying what to set', () => {
    const hash = 'scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g=';
    expect(problemsOf(`listeners:\n  public: {host: 0.0.0.0}\napps:\n  erp: {auth: {passwordHash: "${hash}"}}\n`)).toEqual([
      "relay365.yaml: listeners.public.restricted: this listener on 0.0.0.0 takes connections only from the apps' networks (restricted, the default off loopback), but no app lists networks, so every connection would be refused; list the apps' networks (apps.<app>.networks), or set listeners.public.restricted: false for apps that AUTH from anywhere",
    ]);
    const dir = tempDir();
    writeFileSync(join(dir, 'relay365.yaml'), `listeners:\n  public: {host: 0.0.0.0, restricted: false}\napps:\n  erp: {auth: {passwordHash: "${hash}"}}\n`);
    expect(loadConfig({ path: 'relay365.yaml', cwd: dir, env: {} }).config.listeners.public?.restricted).toBe(false);
  });

  it('finds the installed config after ./relay365.yaml, read with the service\'s environment and env file, as packaging/relay365.service runs it', () => {
    const etc = tempDir();
    const elsewhere = tempDir();
    const installed = { config: join(etc, 'relay365.yaml'), envFile: join(etc, 'relay365.env'), env: { RELAY365_STORE__PATH: '/var/lib/relay365/relay365.db', RELAY365_SECRETS__KEYFILE: '/var/lib/relay365/master.key' } };
    writeFileSync(installed.config, 'store: {path: data/queue.db}\nroutes:\n  m365: {transport: smarthost, host: smtp.contoso.example, auth: {user: relay@contoso.example, pass: "env:SMTP_PASS"}}\n');
    writeFileSync(installed.envFile, '# secrets for env: references\nSMTP_PASS="x-from-the-env-file"\n');
    const loaded = loadConfig({ cwd: elsewhere, env: {}, installed });
    expect(loaded.file).toBe(installed.config);
    expect(loaded.installed).toBe(true);
    expect(loaded.config.store.path).toBe('/var/lib/relay365/relay365.db');
    expect(loaded.config.secrets.keyFile).toBe('/var/lib/relay365/master.key');
    expect((loaded.config.routes.m365 as { auth: { pass: string } }).auth.pass).toBe('x-from-the-env-file');
    // ./relay365.yaml comes first, and RELAY365_CONFIG before both.
    writeFileSync(join(elsewhere, 'relay365.yaml'), '');
    expect(loadConfig({ cwd: elsewhere, env: {}, installed })).toMatchObject({ file: join(elsewhere, 'relay365.yaml'), installed: false });
    expect(loadConfig({ cwd: etc, env: { RELAY365_CONFIG: installed.config }, installed }).config.store.path).toBe('/var/lib/relay365/relay365.db');
  });

  it('knows the layout packaging/relay365.service installs', () => {
    const unit = readFileSync(join(import.meta.dirname, '../../packaging/relay365.service'), 'utf8');
    expect(unit).toContain(`Environment=RELAY365_CONFIG=${INSTALLED.config}\n`);
    expect(unit).toContain(`EnvironmentFile=-${INSTALLED.envFile}\n`);
    for (const [name, value] of Object.entries(INSTALLED.env)) expect(unit).toContain(`Environment=${name}=${value}\n`);
  });

  it('takes the path from RELAY365_CONFIG', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'other.yaml'), 'log:\n  level: debug\n');
    expect(loadConfig({ cwd: dir, env: { RELAY365_CONFIG: 'other.yaml' } }).config.log.level).toBe('debug');
  });
});
