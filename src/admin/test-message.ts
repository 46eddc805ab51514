/**
 * A test message through the relay's own SMTP listener — the path an application's mail takes —
 * for `relay365 send-test` and the console's "send a test mail" (what SBWP is to SAP).
 */
import nodemailer from 'nodemailer';
import type { ListenerConfig } from '../config/schema.js';

export interface TestMessage {
  /** Where the listener is reachable (its bound address; 0.0.0.0 and :: mean this host). */
  host: string;
  port: number;
  listener: string;
  tls: ListenerConfig['tls']['mode'];
  node: string;
  to: string;
  from?: string;
  subject?: string;
  /** Who asked, for the message's text ("relay365 send-test", "the console (ops)"). */
  via: string;
}

export interface TestMessageResult {
  /** The relay's reply, "250 2.0.0 Ok: queued as …". */
  response: string;
  /** The queue id, to follow the message. */
  id: string | null;
}

/** Submits the message; rejects with the relay's refusal (an Error with `response` and `code` from nodemailer). */
export async function submitTestMessage(t: TestMessage): Promise<TestMessageResult> {
  const host = ['0.0.0.0', '::', ''].includes(t.host) ? '127.0.0.1' : t.host;
  const transport = nodemailer.createTransport({
    host,
    port: t.port,
    secure: t.tls === 'implicit',
    ignoreTLS: t.tls === 'none',
    // The relay talks to itself here; its certificate may be the generated self-signed one.
    tls: { rejectUnauthorized: false },
    name: t.node,
    logger: false,
  });
  try {
    const info = await transport.sendMail({
      from: t.from ?? `relay365@${t.node}`,
      to: t.to,
      subject: t.subject ?? `relay365 test message from ${t.node}`,
      text: [
        `This is a test message sent with ${t.via}.`,
        '',
        `Relay:    ${t.node}`,
        `Listener: ${t.listener} (${host}:${t.port})`,
        `Sent at:  ${new Date().toISOString()}`,
      ].join('\n'),
    });
    const response = String(info.response);
    return { response, id: /queued as (\S+)/.exec(response)?.[1] ?? null };
  } finally {
    transport.close();
  }
}
