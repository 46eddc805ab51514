// The shared state: mailboxes on disk, the event log, the fault registry.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventLog } from '../../sandbox/state/events.js';
import { FaultRegistry } from '../../sandbox/state/faults.js';
import { INTERNET_OUTBOX, MailFolder, MailStore } from '../../sandbox/state/mailboxes.js';
import { DEMO, demoTenant } from '../helpers/sandbox.js';
import { until } from '../helpers/sink.js';

const message = (subject: string, body = 'Hello.') =>
  `From: Relay <relay@contoso.example>\r\nTo: alice@contoso.example, someone@gmail.example\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@contoso.example>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\n${body}\r\n`;

describe('mailboxes', () => {
  let dir: string;
  let store: MailStore;
  const tenant = demoTenant();
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay365-mail-'));
    store = await MailStore.open(dir, () => tenant);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('puts internal recipients in their Inbox (aliases resolve), external ones in the internet outbox, and a copy in Sent Items', async () => {
    const report = await store.deliver({
      raw: message('Quarterly report'),
      envelope: { mailFrom: 'relay@contoso.example', rcptTo: ['a.smith@contoso.example', 'bob@contoso.example', 'someone@gmail.example', 'nobody@contoso.example'] },
      via: 'submission',
      sentItemsOf: 'relay@contoso.example',
    });
    expect(report.internal).toEqual([DEMO.alice.address, DEMO.bob.address]);
    expect(report.external).toEqual(['someone@gmail.example']);
    expect(report.unresolved).toEqual(['nobody@contoso.example']);
    expect(report.entries.map((e) => `${e.mailbox}/${e.folder}`)).toEqual([`${DEMO.alice.address}/Inbox`, `${DEMO.bob.address}/Inbox`, `${INTERNET_OUTBOX}/Outbox`, 'relay@contoso.example/SentItems']);
    expect(new Set(report.entries.map((e) => e.blob)).size).toBe(1);
    const inbox = store.list({ mailbox: DEMO.alice.address, folder: MailFolder.inbox });
    expect(inbox).toHaveLength(1);
    expect(inbox[0]).toMatchObject({ subject: 'Quarterly report', from: 'relay@contoso.example', to: [DEMO.alice.address, 'someone@gmail.example'], messageId: '<Quarterlyreport@contoso.example>', via: 'submission' });
    expect(store.list({ mailbox: INTERNET_OUTBOX })[0]?.envelope.rcptTo).toEqual(['someone@gmail.example']);
    expect((await store.readRaw(inbox[0]!.id))?.toString()).toContain('Hello.');
  });

  it('decodes encoded subjects and streams large messages to disk', async () => {
    const big = Buffer.alloc(6 * 1024 * 1024, 'x');
    const raw = Readable.from([Buffer.from('Subject: =?UTF-8?B?UsOpc3Vtw6k=?=\r\nFrom: relay@contoso.example\r\n\r\n'), big]);
    const entry = await store.put({ raw, mailbox: DEMO.bob.address, folder: MailFolder.drafts, envelope: { mailFrom: '', rcptTo: [] }, via: 'graph' });
    expect(entry.subject).toBe('Résumé');
    expect(entry.size).toBeGreaterThan(big.length);
  });

  it('replaces the content of a draft in place, keeping its mailbox and folder', async () => {
    const draft = await store.put({ raw: 'Subject: Draft 1\r\n\r\nx\r\n', mailbox: DEMO.alice.address, folder: MailFolder.drafts, envelope: { mailFrom: '', rcptTo: [] }, via: 'graph' });
    const updated = await store.replaceRaw(draft.id, 'Subject: Draft 2\r\nTo: bob@contoso.example\r\n\r\nwith attachment\r\n');
    expect(updated).toMatchObject({ id: draft.id, mailbox: DEMO.alice.address, folder: 'Drafts', subject: 'Draft 2', to: [DEMO.bob.address] });
    expect((await store.readRaw(draft.id))?.toString()).toContain('with attachment');
    expect(await readdir(join(dir, 'mail', 'blobs'))).toHaveLength(1);
  });

  it('keeps its index across a reopen, and deletes the file with the last copy', async () => {
    const report = await store.deliver({ raw: message('Twice'), envelope: { mailFrom: 'x@gmail.example', rcptTo: [DEMO.alice.address, DEMO.bob.address] }, via: 'mx' });
    const reopened = await MailStore.open(dir, () => tenant);
    expect(reopened.list()).toHaveLength(2);
    const blobs = join(dir, 'mail', 'blobs');
    await reopened.remove(report.entries[0]!.id);
    expect(await readdir(blobs)).toHaveLength(1);
    await reopened.remove(report.entries[1]!.id);
    expect(await readdir(blobs)).toHaveLength(0);
    expect(existsSync(join(dir, 'mail', 'index.json'))).toBe(true);
  });

  it('lets a test wait for a message that arrives later', async () => {
    const arrival = store.waitFor((e) => e.subject === 'Later' && e.mailbox === DEMO.bob.address, { timeoutMs: 2000 });
    setTimeout(() => void store.deliver({ raw: message('Later'), envelope: { mailFrom: 'x@gmail.example', rcptTo: [DEMO.bob.address] }, via: 'mx' }), 50);
    await expect(arrival).resolves.toMatchObject({ folder: 'Inbox' });
    await expect(store.waitFor((e) => e.subject === 'Never', { timeoutMs: 50 })).rejects.toThrow('within 50 ms');
  });
});

describe('event log', () => {
  it('keeps the most recent events up to its capacity, and filters by endpoint and sequence', () => {
    const log = new EventLog(3);
    for (let i = 1; i <= 5; i++) log.record({ endpoint: i % 2 ? 'token' : 'submission', action: `step ${i}`, outcome: 'ok' });
    expect(log.list().map((e) => e.action)).toEqual(['step 3', 'step 4', 'step 5']);
    expect(log.list({ endpoint: 'token' }).map((e) => e.seq)).toEqual([3, 5]);
    expect(log.list({ since: 4 }).map((e) => e.seq)).toEqual([5]);
    expect(log.list({ limit: 1 })[0]?.seq).toBe(5);
  });

  it('resolves waitFor on a later event', async () => {
    const log = new EventLog();
    const waiting = log.waitFor((e) => e.code === '5.7.3');
    log.record({ endpoint: 'submission', action: 'AUTH XOAUTH2', outcome: 'refused', status: 535, code: '5.7.3' });
    await expect(waiting).resolves.toMatchObject({ status: 535 });
  });
});

describe('fault registry', () => {
  it('answers the next N consults of an endpoint, then gets out of the way', async () => {
    const faults = new FaultRegistry();
    faults.add({ kind: 'reply', endpoint: 'graph', count: 2, http: { status: 429, headers: { 'retry-after': '1' } } });
    expect(await faults.consult('token')).toBeNull();
    expect(await faults.consult('graph')).toMatchObject({ type: 'reply', http: { status: 429 } });
    expect(await faults.consult('graph')).toMatchObject({ type: 'reply' });
    expect(await faults.consult('graph')).toBeNull();
  });

  it('matches SMTP stages: a reply at MAIL, a drop in the middle of DATA by default', async () => {
    const faults = new FaultRegistry();
    faults.add({ kind: 'reply', endpoint: 'submission', stage: 'mail', smtp: { code: 451, text: '4.7.0 Temporary server error. Please try again later. PRX4' } });
    faults.add({ kind: 'drop', endpoint: 'submission' });
    expect(await faults.consult('submission', 'EHLO')).toBeNull();
    expect(await faults.consult('submission', 'MAIL')).toMatchObject({ type: 'reply', smtp: { code: 451 } });
    expect(await faults.consult('submission', 'RCPT')).toBeNull();
    expect(await faults.consult('submission', 'DATA')).toMatchObject({ type: 'drop' });
  });

  it('adds latency, and takes an endpoint down until cleared or for a while', async () => {
    const faults = new FaultRegistry();
    const changes: string[] = [];
    faults.onChange((e) => changes.push(e));
    faults.add({ kind: 'latency', endpoint: 'mx', ms: 60, count: 1 });
    const started = Date.now();
    expect(await faults.consult('mx', 'CONNECT')).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    faults.add({ kind: 'down', endpoint: 'mx', mode: 'refuse', durationMs: 50 });
    expect(faults.downMode('mx')).toBe('refuse');
    expect(await faults.consult('mx', 'CONNECT')).toMatchObject({ type: 'down', mode: 'refuse' });
    await until(() => faults.downMode('mx') === null, 5000, () => 'the 50 ms down fault did not end');
    expect(changes.filter((e) => e === 'mx').length).toBeGreaterThanOrEqual(3);
  });

  it('refuses an invalid fault with the reason', () => {
    const result = new FaultRegistry().add({ kind: 'reply', endpoint: 'graph' });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.message).toContain('needs http or smtp');
  });
});
