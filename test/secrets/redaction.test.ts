// How secrets are shown and censored: masks that show nothing of a short secret, names that hold
// secrets however they are spelt (config keys, log fields, HTTP headers), and log lines written
// through the relay's own logger (createLogger) with those names at any depth, in arrays, in an
// error's fields and in a child logger's fields.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isSecretKey, maskSecret, maskSecrets } from '../../src/config/secrets.js';
import { createLogger } from '../../src/log.js';
import { recordForLeakScan, registerSecrets } from './leak-sink.js';

const SECRET = 'Hunter2-log-secret-value';
registerSecrets(SECRET);

function logInto() {
  const lines: Record<string, unknown>[] = [];
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      recordForLeakScan('redaction.test', chunk.toString());
      text += chunk.toString();
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger('debug', sink), lines, text: () => text };
}

/** `{ level1: { level2: … { [name]: value } } }` with the name at `depth` (1: a top-level field). */
function nested(depth: number, name: string, value: unknown): Record<string, unknown> {
  let object: Record<string, unknown> = { [name]: value };
  for (let level = depth - 1; level >= 1; level--) object = { [`level${level}`]: object };
  return object;
}

function at(line: Record<string, unknown>, depth: number, name: string): unknown {
  let node: unknown = line;
  for (let level = 1; level < depth; level++) node = (node as Record<string, unknown>)[`level${level}`];
  return (node as Record<string, unknown>)[name];
}

const SECRET_NAMES = [
  'pass', 'password', 'clientSecret', 'client_secret', 'CLIENT-SECRET', 'secret', 'access_token', 'accessToken', 'refresh_token',
  'refreshToken', 'id_token', 'token', 'Authorization', 'authorization', 'Proxy-Authorization', 'Cookie', 'cookie', 'set-cookie',
  'Set-Cookie', 'x-api-key', 'X-API-Key', 'api_key', 'masterKey', 'smtpPassword',
];

describe('maskSecret', () => {
  it('shows nothing of a secret shorter than 16 characters, and the first three of a longer one', () => {
    expect(maskSecret('S3cret-Value!')).toBe('…');
    expect(maskSecret('fifteen-chars!!')).toBe('…');
    expect(maskSecret('sixteen-chars!!!')).toBe('six…');
    expect(maskSecret('demo~Secret.Value-for-the-relay365-sandbox')).toBe('dem…');
    expect(maskSecrets({ auth: { user: 'relay', pass: 'short-pass' }, clientSecret: SECRET })).toEqual({ auth: { user: 'relay', pass: '…' }, clientSecret: 'Hun…' });
  });
});

describe('isSecretKey', () => {
  it('knows a secret name whatever its case and separators', () => {
    for (const name of SECRET_NAMES) expect(isSecretKey(name), name).toBe(true);
  });

  it('leaves names that only look alike: hashes, endpoints, files, lists of token hashes', () => {
    for (const name of ['passwordHash', 'tokenEndpoint', 'setupTokenFile', 'apiTokens', 'keyFile', 'key', 'secretExpires', 'credential', 'bypass', 'user', 'msgId'])
      expect(isSecretKey(name), name).toBe(false);
  });
});

describe('log lines written by createLogger', () => {
  it('censor every secret name at depth 1 to 6 and keep what is beside it', () => {
    const { log, lines, text } = logInto();
    for (const name of SECRET_NAMES) for (let depth = 1; depth <= 6; depth++) log.info({ ...nested(depth, name, SECRET), msgId: `${name}@${depth}` }, 'logging a secret');
    expect(text()).not.toContain(SECRET);
    expect(lines).toHaveLength(SECRET_NAMES.length * 6);
    for (const line of lines) {
      const [name, depth] = (line.msgId as string).split('@') as [string, string];
      expect(at(line, Number(depth), name), line.msgId as string).toBe('[secret]');
    }
  });

  it('censor whatever the value is: a number, a list, an object of headers', () => {
    const { log, lines, text } = logInto();
    log.info({ request: { headers: { authorization: [`Bearer ${SECRET}`], cookie: { session: SECRET } }, body: { client_secret: 1234567890 } } }, 'request');
    expect(text()).not.toContain(SECRET);
    expect(text()).not.toContain('1234567890');
    expect(lines[0]).toMatchObject({ request: { headers: { authorization: '[secret]', cookie: '[secret]' }, body: { client_secret: '[secret]' } } });
  });

  it('censor secrets in lists and in an error’s own fields, keeping the error’s type and message', () => {
    const { log, lines, text } = logInto();
    const err = Object.assign(new TypeError('the token endpoint refused the request'), { code: 'E_REFUSED', request: { headers: { 'X-Api-Key': SECRET } }, cause: new Error('HTTP 401') });
    log.error({ err, attempts: [{ route: 'm365', credentials: { refresh_token: SECRET } }] }, 'token request failed');
    log.warn(err, 'as the first argument');
    expect(text()).not.toContain(SECRET);
    expect(lines[0]).toMatchObject({
      err: { type: 'TypeError', message: 'the token endpoint refused the request: HTTP 401', code: 'E_REFUSED', request: { headers: { 'X-Api-Key': '[secret]' } } },
      attempts: [{ route: 'm365', credentials: { refresh_token: '[secret]' } }],
    });
    expect(lines[1]).toMatchObject({ err: { type: 'TypeError', request: { headers: { 'X-Api-Key': '[secret]' } } }, msg: 'as the first argument' });
  });

  it("censor a child logger's fields, and keep names that only look alike", () => {
    const { log, lines, text } = logInto();
    const child = log.child({ route: 'm365', client_secret: SECRET, credentials: { CLIENT_SECRET: SECRET } });
    child.info({ tokenEndpoint: 'https://login.microsoftonline.com/t/oauth2/v2.0/token', setupTokenFile: '/var/lib/relay365/setup-token' }, 'ready');
    child.child({ tenant: 'contoso', headers: { Cookie: SECRET } }).info('grandchild');
    expect(text()).not.toContain(SECRET);
    expect(lines[0]).toMatchObject({ route: 'm365', client_secret: '[secret]', credentials: { CLIENT_SECRET: '[secret]' }, tokenEndpoint: 'https://login.microsoftonline.com/t/oauth2/v2.0/token', setupTokenFile: '/var/lib/relay365/setup-token' });
    expect(lines[1]).toMatchObject({ route: 'm365', tenant: 'contoso', headers: { Cookie: '[secret]' }, msg: 'grandchild' });
  });

  it('write a circular object once and go on', () => {
    const { log, lines } = logInto();
    const loop: Record<string, unknown> = { name: 'loop', password: SECRET };
    loop.self = loop;
    log.info({ loop }, 'circular');
    expect(lines[0]).toMatchObject({ loop: { name: 'loop', password: '[secret]', self: '[circular]' } });
  });

  it('censor the same names in human lines (log.format: pretty), in fields, errors and a child logger\'s fields', () => {
    let text = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        recordForLeakScan('redaction.test pretty', chunk.toString());
        text += chunk.toString();
        done();
      },
    });
    const log = createLogger({ level: 'debug', format: 'pretty' }, sink);
    log.info({ route: 'm365', clientSecret: SECRET, request: { headers: { Authorization: `Bearer ${SECRET}` } } }, 'token asked');
    log.error({ err: Object.assign(new Error('refused'), { refresh_token: SECRET }) }, 'sign-in failed');
    log.child({ password: SECRET }).warn('child');
    expect(text).not.toContain(SECRET);
    expect(text).toMatch(/^\[[\d-]+ [\d:.]+\] INFO: token asked \{"route":"m365","clientSecret":"\[secret\]","request":\{"headers":\{"Authorization":"\[secret\]"\}\}\}$/m);
    expect(text).toMatch(/"refresh_token": "\[secret\]"/);
    expect(text).toMatch(/WARN: child \{"password":"\[secret\]"\}/);
  });
});
