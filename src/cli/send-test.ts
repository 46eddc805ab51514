/**
 * `relay365 send-test --to ADDRESS`: submits a test message through the relay's own SMTP
 * listener — the same path an application's mail takes — and prints the queue id, so the
 * admin can follow it with `relay365 queue show`. What SBWP is to SAP.
 */
import { hostname } from 'node:os';
import nodemailer from 'nodemailer';
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
  const listener = name === undefined ? undefined : config.listeners[name];
  if (!listener) fail(`no listener "${name}"; listeners: ${Object.keys(config.listeners).join(', ')}`, EXIT.usage);
  if (listener.port === 0) fail(`listener "${name}" has port 0 (chosen at start); send-test needs a fixed port`, EXIT.usage);
  const host = ['0.0.0.0', '::', ''].includes(listener.host) ? '127.0.0.1' : listener.host;
  const node = config.node.name ?? hostname();
  const from = opts.from ?? `relay365@${node}`;
  const transport = nodemailer.createTransport({
    host,
    port: listener.port,
    secure: listener.tls.mode === 'implicit',
    ignoreTLS: listener.tls.mode === 'none',
    // The relay talks to itself here; its certificate may be the generated self-signed one.
    tls: { rejectUnauthorized: false },
    name: node,
    logger: false,
  });
  try {
    const info = await transport.sendMail({
      from,
      to: opts.to,
      subject: opts.subject ?? `relay365 test message from ${node}`,
      text: [
        'This is a test message sent with relay365 send-test.',
        '',
        `Relay:    ${node}`,
        `Listener: ${name} (${host}:${listener.port})`,
        `Sent at:  ${new Date().toISOString()}`,
      ].join('\n'),
    });
    const id = /queued as (\S+)/.exec(String(info.response))?.[1];
    process.stdout.write(`${info.response}\n`);
    if (id) process.stdout.write(`Follow it with: relay365 queue show ${id}\n`);
  } catch (err) {
    const e = err as Error & { response?: string; code?: string };
    fail(`the relay did not take the test message: ${e.response ?? e.message}`, e.code === 'ECONNECTION' || e.code === 'ESOCKET' ? EXIT.tempFail : EXIT.failure);
  } finally {
    transport.close();
  }
}
