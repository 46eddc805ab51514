/**
 * `relay365 sendmail` as cron and scripts use it: a message piped in, recipients from its
 * headers (-t), submitted to the relay's SMTP listener, delivered; exit 0 only once the relay
 * has committed it, and sendmail's exit codes when it cannot (75 try again, 65/67 bad input).
 */
import { spawn } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/policy/passwords.js';
import { recordForLeakScan, registerSecrets } from '../secrets/leak-sink.js';
import { CLI, fastRetry, routeTo, startTestRelay, tempDir, writeConfig, type TestRelay } from '../helpers/relay.js';
import { startSink, until, type Sink } from '../helpers/sink.js';

const PASSWORD = 'cron-jobs-long-password-1';
registerSecrets(PASSWORD);

let sink: Sink;
let relay: TestRelay;

beforeAll(async () => {
  sink = await startSink();
  relay = await startTestRelay({
    listeners: { default: { host: '127.0.0.1', port: 0 } },
    apps: {
      // This host's jobs, by address; and one that logs in (after STARTTLS).
      local: { networks: ['127.0.0.1', '::1'], defaultDomain: 'jobs.contoso.example', recipients: { denyDomains: ['fabrikam.example'] } },
      cron: { auth: { passwordHash: await hashPassword(PASSWORD) }, senders: ['*@jobs.contoso.example'] },
    },
    routes: { out: routeTo(sink.port) },
    delivery: fastRetry,
  });
});
afterAll(async () => {
  await relay?.stop();
  await sink?.stop();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI (or a symlink to it) with a config that points sendmail at the test relay. */
function run(args: string[], stdin: string, sendmail: Record<string, unknown> = {}, env: Record<string, string> = {}, command = CLI, config: Record<string, unknown> = {}): Promise<Run> {
  const dir = tempDir('relay365-sendmail-');
  writeConfig(dir, { sendmail: { host: '127.0.0.1', port: relay.port, timeout: '5s', ...sendmail }, ...config });
  return new Promise((resolve) => {
    const argv = command === CLI ? [command, 'sendmail', ...args] : [command, ...args];
    const child = spawn(process.execPath, argv, { cwd: dir, env: { PATH: process.env.PATH, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => {
      recordForLeakScan('relay365 sendmail', stdout + stderr);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

const queuedId = (out: Run) => /queued as (\S+)/.exec(out.stdout)?.[1] as string;

describe('relay365 sendmail', () => {
  it('-t takes the recipients from To, Cc and Bcc, removes Bcc, and exits 0 once the message is committed', async () => {
    const before = sink.messages.length;
    const message = ['From: backup@jobs.contoso.example', 'To: ops@contoso.example', 'Cc: "Storage Team" <storage@contoso.example>', 'Bcc: audit@contoso.example', 'Subject: nightly backup', '', 'Backup finished: 42 GB.', ''].join('\n');
    const out = await run(['-t', '-oi', '-oem', '-v'], message);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const id = queuedId(out);
    // Exit 0 came after the 250: the message is in the store, whole, with every recipient.
    const stored = await relay.relay.store.get(id);
    expect(stored?.recipients.sort()).toEqual(['audit@contoso.example', 'ops@contoso.example', 'storage@contoso.example']);
    expect(stored?.app).toBe('local');
    const [delivered] = (await sink.waitForMessages(before + 1)).slice(before);
    expect(delivered?.to.sort()).toEqual(['audit@contoso.example', 'ops@contoso.example', 'storage@contoso.example']);
    const raw = delivered?.raw.toString() ?? '';
    expect(raw).toContain('Subject: nightly backup');
    expect(raw).toContain('Backup finished: 42 GB.\r\n');
    expect(raw).not.toMatch(/^Bcc:/im);
    expect(raw).toMatch(/^Date: /m);
    expect(raw).toMatch(/^Message-ID: </im);
  });

  it('takes recipients as arguments, -f as the sender and -F for the From it adds; a lone "." ends the message unless -i', async () => {
    const before = sink.messages.length;
    const out = await run(['-f', 'report@jobs.contoso.example', '-F', 'Report Job', '-v', 'ops@contoso.example'], 'Subject: report\n\nfirst line\n.\nnot part of it\n');
    expect(out.code).toBe(0);
    const [delivered] = (await sink.waitForMessages(before + 1)).slice(before);
    expect(delivered?.from).toBe('report@jobs.contoso.example');
    const raw = delivered?.raw.toString() ?? '';
    expect(raw).toContain('From: "Report Job" <report@jobs.contoso.example>');
    expect(raw).toContain('first line');
    expect(raw).not.toContain('not part of it');
  });

  it('logs in as the app sendmail.app names, with the password from the environment', async () => {
    const out = await run(['-t', '-f', 'cron@jobs.contoso.example', '-v'], 'To: ops@contoso.example\nSubject: as app\n\nhello\n', { app: 'cron', password: 'env:CRON_PASSWORD' }, { CRON_PASSWORD: PASSWORD });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect((await relay.relay.store.get(queuedId(out)))?.app).toBe('cron');
    const wrong = await run(['-t', '-f', 'cron@jobs.contoso.example'], 'To: ops@contoso.example\nSubject: as app\n\nhello\n', { app: 'cron', password: 'env:CRON_PASSWORD' }, { CRON_PASSWORD: 'not-the-password-at-all' });
    expect(wrong.code).toBe(78);
    expect(wrong.stderr).toMatch(/refused the login as app cron/);
  });

  it('works as a `sendmail` symlink', async () => {
    const link = join(tempDir('relay365-link-'), 'sendmail');
    symlinkSync(CLI, link);
    const out = await run(['-oi', '-v', 'ops@contoso.example'], 'Subject: through the symlink\n\nhi\n', {}, {}, link);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^250 2\.0\.0 Ok: queued as /);
  });

  it('exits 75 (EX_TEMPFAIL) when the relay is unreachable, saying so', async () => {
    const closed = await freePort();
    const out = await run(['-t'], 'To: ops@contoso.example\nSubject: x\n\nx\n', { port: closed });
    expect(out.code).toBe(75);
    expect(out.stderr).toMatch(new RegExp(`^sendmail: the relay at 127\\.0\\.0\\.1:${closed} did not take the message, try again later`));
  });

  it('exits 67 (EX_NOUSER) for a malformed recipient, in the arguments or in the headers', async () => {
    const before = (await relay.relay.store.list({ limit: 1000 })).length;
    const argument = await run(['ops@@contoso.example'], 'Subject: x\n\nx\n');
    expect(argument.code).toBe(67);
    expect(argument.stderr).toBe('sendmail: ops@@contoso.example: not a valid recipient address\n');
    const header = await run(['-t'], 'To: ops@contoso.example, <not an address>\nSubject: x\n\nx\n');
    expect(header.code).toBe(67);
    expect(header.stderr).toMatch(/not a valid recipient address \(in the message's To, Cc or Bcc\)/);
    expect((await relay.relay.store.list({ limit: 1000 })).length).toBe(before);
  });

  it('exits 67 when the relay refuses the recipient, and 65 (EX_DATAERR) without any recipient', async () => {
    const refused = await run(['partner@fabrikam.example'], 'Subject: x\n\nx\n');
    expect(refused.code).toBe(67);
    expect(refused.stderr).toMatch(/550 5\.7\.1 Recipient domain fabrikam\.example is not allowed for app local/);
    const none = await run(['-t'], 'Subject: no one\n\nx\n');
    expect(none.code).toBe(65);
    expect(none.stderr).toBe('sendmail: no recipients: the message has no To, Cc or Bcc, and none were given\n');
  });

  it('never sends the password to a relay that does not do STARTTLS (tls: starttls): exits 78, and nothing reaches it', async () => {
    const seen: string[] = [];
    const plain = new SMTPServer({
      disabledCommands: ['STARTTLS'], // offers no STARTTLS and refuses the command
      allowInsecureAuth: true, // would take a password in clear: sendmail must not give it one
      onAuth: (auth, _session, done) => (seen.push(`AUTH ${auth.username}`), done(null, { user: auth.username })),
      onMailFrom: (address, _session, done) => (seen.push(`MAIL FROM ${address.address}`), done()),
      onData: (stream, _session, done) => (seen.push('DATA'), stream.resume().on('end', () => done())),
      logger: false,
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const port = (plain.server.address() as AddressInfo).port;
      const out = await run(['-t', '-f', 'cron@jobs.contoso.example'], 'To: ops@contoso.example\nSubject: x\n\nx\n', { port, tls: 'starttls', app: 'cron', password: 'env:CRON_PASSWORD' }, { CRON_PASSWORD: PASSWORD });
      expect(out.code).toBe(78);
      expect(out.stderr).toMatch(new RegExp(`^sendmail: the relay at 127\\.0\\.0\\.1:${port} does not do STARTTLS \\(it said: 5\\d\\d .*\\): the password of app cron was not sent, nor the message`));
      expect(out.stderr).not.toContain(PASSWORD);
      expect(seen).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });

  it('refuses tls: none with a password for a relay on another host, before connecting', async () => {
    const out = await run(['ops@contoso.example'], 'Subject: x\n\nx\n', { host: '192.0.2.25', port: 587, tls: 'none', app: 'cron', password: 'env:CRON_PASSWORD' }, { CRON_PASSWORD: PASSWORD });
    expect(out.code).toBe(78);
    expect(out.stderr).toBe('sendmail: sendmail.tls: none would send the password of app cron unencrypted to 192.0.2.25; use starttls or implicit (nothing was sent)\n');
  });

  it("resolves only sendmail.password: routes' secrets it cannot read (a missing file, an unset variable, enc: without the master key) do not stop it", async () => {
    const unreadable = {
      routes: {
        m365: { transport: 'graph', mailbox: 'relay@contoso.example', credentials: { tenant: 'contoso.example', clientId: 'app', clientSecret: 'file:/nonexistent/relay365/client-secret' } },
        basic: { transport: 'smtp-basic', mailbox: 'scanner@contoso.example', password: 'env:SCANNER_PASSWORD' },
        smarthost: { transport: 'smarthost', host: 'smtp.contoso.example', auth: { user: 'relay', pass: 'enc:v1:0badc0de:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } },
      },
      routing: { default: 'm365' },
      notify: { admin: { webhook: 'env:NOTIFY_WEBHOOK' } },
    };
    const before = sink.messages.length;
    const out = await run(['-t', '-f', 'cron@jobs.contoso.example', '-v'], 'To: ops@contoso.example\nSubject: as cron\n\nhello\n', { app: 'cron', password: 'env:CRON_PASSWORD' }, { CRON_PASSWORD: PASSWORD }, CLI, unreadable);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect((await relay.relay.store.get(queuedId(out)))?.app).toBe('cron');
    await sink.waitForMessages(before + 1);
    // The one secret it needs must be there, and is named when it is not.
    const missing = await run(['ops@contoso.example'], 'Subject: x\n\nx\n', { app: 'cron', password: 'env:CRON_PASSWORD' }, {}, CLI, unreadable);
    expect(missing.code).toBe(78);
    expect(missing.stderr).toMatch(/sendmail\.password: the environment variable CRON_PASSWORD \(env:CRON_PASSWORD\) is not set\n/);
    expect(missing.stderr).not.toMatch(/routes\.|notify\./);
  });

  it('refuses other modes (-bp) with 64 and accepts -bm', async () => {
    expect((await run(['-bp'], '')).code).toBe(64);
    const out = await run(['-bm', 'ops@contoso.example'], 'Subject: bm\n\nx\n');
    expect(out.code).toBe(0);
    await until(() => sink.messages.some((m) => m.raw.toString().includes('Subject: bm')), 10_000, () => 'the -bm message was not delivered');
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
