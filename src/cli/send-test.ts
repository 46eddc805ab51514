/**
 * `relay365 send-test --to ADDRESS`: submits a test message through the relay's own SMTP
 * listener — the same path an application's mail takes — and prints the queue id, so the
 * admin can follow it with `relay365 queue show`. What SBWP is to SAP.
 */
import { hostname } from 'node:os';
import { own } from '../config/own.js';
import { submitTestMessage } from '../admin/test-message.js';
import { EXIT, fail, loadOrExit, type GlobalOptions } from './context.js';

export interface SendTestOptions {
  to: string;
  from?: string;
  listener?: string;
  subject?: string;
}

export async function sendTest(global: GlobalOptions, opts: SendTestOptions): Promise<void> {
  const { config } = loadOrExit(global);
  const name = opts.listener ?? Object.keys(config.listeners)[0];
  const listener = name === undefined ? undefined : own(config.listeners, name);
  if (!listener) fail(`no listener "${name}"; listeners: ${Object.keys(config.listeners).join(', ')}`, EXIT.usage);
  if (listener.port === 0) fail(`listener "${name}" has port 0 (chosen at start); send-test needs a fixed port`, EXIT.usage);
  const node = config.node.name ?? hostname();
  try {
    const { response, id } = await submitTestMessage({ host: listener.host, port: listener.port, listener: name as string, tls: listener.tls.mode, node, to: opts.to, from: opts.from, subject: opts.subject, via: 'relay365 send-test' });
    process.stdout.write(`${response}\n`);
    if (id) process.stdout.write(`Follow it with: relay365 queue show ${id}\n`);
  } catch (err) {
    const e = err as Error & { response?: string; code?: string };
    fail(`the relay did not take the test message: ${e.response ?? e.message}`, e.code === 'ECONNECTION' || e.code === 'ESOCKET' ? EXIT.tempFail : EXIT.failure);
  }
}
