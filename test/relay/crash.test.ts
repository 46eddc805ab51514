/**
 * Crash safety with a real relay process: a 250 is a promise that survives SIGKILL,
 * and a message whose node died mid-delivery is delivered by the next one after its lease.
 */
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { startSink, until, type Sink } from '../helpers/sink.js';
import { fastRetry, routeTo, spawnRelay, tempDir, writeConfig, type ChildRelay } from '../helpers/relay.js';

let children: ChildRelay[] = [];
let sink: Sink | undefined;
afterEach(async () => {
  for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  children = [];
  await sink?.stop().catch(() => undefined);
});

async function start(dir: string) {
  const relay = await spawnRelay(dir);
  children.push(relay);
  return relay;
}

async function submit(port: number, to: string) {
  const client = nodemailer.createTransport({ host: '127.0.0.1', port, tls: { rejectUnauthorized: false }, logger: false });
  try {
    return await client.sendMail({ envelope: { from: 'sap@contoso.example', to: [to] }, raw: `Subject: crash test for ${to}\r\n\r\nbody\r\n` });
  } finally {
    client.close();
  }
}

describe('crash safety', () => {
  it('delivers after a restart what was answered 250 before SIGKILL', async () => {
    sink = await startSink();
    await sink.down();
    const dir = tempDir();
    writeConfig(dir, { routes: { upstream: routeTo(sink.port) }, delivery: fastRetry });
    const first = await start(dir);
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push((await submit(first.port, `user${i}@contoso.example`)).response);
    for (const r of replies) expect(r).toMatch(/^250 2\.0\.0 Ok: queued as/);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    await sink.up();
    await start(dir);
    const messages = await sink.waitForMessages(3);
    expect(messages.map((m) => m.to[0]).sort()).toEqual(['user0@contoso.example', 'user1@contoso.example', 'user2@contoso.example']);
  });

  it('delivers a message that was being sent when another node died, once its lease expires', async () => {
    sink = await startSink({ rcptDelayMs: 60_000 });
    const dir = tempDir();
    const config = { routes: { upstream: routeTo(sink.port, { timeout: '2m' }) }, delivery: { ...fastRetry, lease: '2s' } };
    writeConfig(dir, { ...config, node: { name: 'relay-a' } });
    const first = await start(dir);
    await submit(first.port, 'anna@contoso.example');
    await sink.waitForConnections(1); // the first node is delivering: leased, and stalled at RCPT
    first.child.kill('SIGKILL');
    await first.exited;

    sink.behaviour.rcptDelayMs = 0;
    writeConfig(dir, { ...config, node: { name: 'relay-b' } });
    const second = await start(dir);
    const [message] = await sink.waitForMessages(1, 15_000);
    expect(message?.to).toEqual(['anna@contoso.example']);
    await until(() => second.logs.some((l) => /lease expired/.test(String(l.msg))), 5000, () => 'no takeover logged');
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.messages).toHaveLength(1);
  });

  it('shuts down gracefully on SIGTERM and exits 0', async () => {
    sink = await startSink();
    const dir = tempDir();
    writeConfig(dir, { routes: { upstream: routeTo(sink.port) }, delivery: fastRetry });
    const relay = await start(dir);
    await submit(relay.port, 'anna@contoso.example');
    await sink.waitForMessages(1);
    relay.child.kill('SIGTERM');
    expect(await relay.exited).toEqual({ code: 0, signal: null });
    await until(() => relay.logs.some((l) => l.msg === 'stopped'), 2000, () => 'no "stopped" log line');
  });
});
