/**
 * One message submitted over HTTP, taken in the way SMTP takes it: the door decides on the
 * sender and each recipient as at MAIL FROM and RCPT TO, then receive.ts checks the rest
 * (size, header From, the app's budget) and commits — one path for every way in, so a rule
 * cannot be kept on SMTP and forgotten on HTTP. The answer is the message id, or the
 * door's refusal as a problem document.
 */
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { App } from '../../policy/apps.js';
import type { Door } from '../../policy/door.js';
import { receive, type IncomingData, type IncomingSession, type ReceiveDeps } from '../receive.js';
import { fromRefusal, problem, type Problem } from './problems.js';

export interface Submission {
  app: App;
  from: string;
  recipients: string[];
  message: Buffer;
  client: { address: string; tls: ReturnType<TLSSocket['getCipher']> | null };
  /** The message id to commit under (an Idempotency-Key's claim has named it). */
  id: string;
}

const isRefusal = (value: object): value is { code: number; enhanced: string; text: string } => 'code' in value && 'enhanced' in value;

export async function submit(s: Submission, door: Door, deps: ReceiveDeps): Promise<{ id: string } | Problem> {
  // The message's length is its declared size, as SIZE= at MAIL FROM: over the limit, nothing is stored.
  const sender = await door.mailFrom({ user: s.app.name, remoteAddress: s.client.address }, s.from, s.message.length, { ...deps.sizeLimit, bytes: deps.config.maxMessageSize });
  if (isRefusal(sender)) return fromRefusal(sender, 'from');
  const rcptTo: IncomingSession['envelope']['rcptTo'] = [];
  for (const recipient of s.recipients) {
    const accepted = door.rcptTo(s.app, sender.address, recipient, rcptTo.length);
    if (isRefusal(accepted)) return fromRefusal(accepted, 'to');
    rcptTo.push({ address: accepted.address, args: false });
  }
  const session: IncomingSession = {
    remoteAddress: s.client.address,
    envelope: { mailFrom: { address: sender.address, args: false }, rcptTo },
    hostNameAppearsAs: '',
    tlsOptions: s.client.tls ?? false,
    user: s.app.name,
    via: 'http',
  };
  const data: IncomingData = Object.assign(Readable.from([s.message]), { sizeExceeded: false, byteLength: s.message.length });
  const reply = await receive(data, session, s.app, deps, s.id);
  if (reply.ok) return { id: s.id };
  if (reply.code === 452 || reply.code === 421) return problem('try-again', reply.text, { reply: `${reply.code} ${reply.enhanced} ${reply.text}` });
  return fromRefusal(reply);
}
