// Submitting a message from a mailbox: the checks Exchange makes when Graph hands it a message,
// then delivery. sendMail (JSON and MIME) and a draft's /send all end here.
//
// Order: recipients (400 ErrorInvalidRecipients), the From (403 ErrorSendAsDenied), the size
// against the mailbox's MaxSendSize (413 ErrorMessageSizeExceeded), then delivery: internal
// recipients' Inboxes, the internet outbox, the sender's Sent Items when asked. Recipients in an
// accepted domain without a mailbox are not refused: Exchange accepts the message (202) and the
// sender gets a non-delivery report, as here.
import { createReadStream } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { DeliveryReport } from '../state/mailboxes.js';
import { MailFolder } from '../state/mailboxes.js';
import type { Mailbox } from '../tenant/schema.js';
import { maySendAs } from './access.js';
import type { GraphCaller } from './auth.js';
import { spool } from './compose.js';
import type { GraphContext } from './context.js';
import { done, fail, Graph, type GraphOutcome } from './errors.js';
import { headerBlockOf, sendNonDeliveryReport } from './ndr.js';

export interface Submission {
  readonly caller: GraphCaller;
  readonly mailbox: Mailbox;
  /** The From address the message carries (absent: the mailbox's own). */
  readonly from?: string;
  readonly recipients: readonly string[];
  readonly subject?: string;
  /** The copy recipients get (no Bcc header). A stream is spooled to learn its size. */
  readonly message: () => Readable | Buffer;
  /** The copy for Sent Items (with Bcc), or null not to keep one (saveToSentItems: false). */
  readonly sentCopy: (() => Readable | Buffer) | null;
  /** The client's request id, kept with the stored copies. */
  readonly session?: string;
}

export async function submit(g: GraphContext, s: Submission): Promise<GraphOutcome<DeliveryReport>> {
  const ctx = g.sandbox;
  const tenant = ctx.tenant.current;
  if (s.recipients.length === 0) return fail(Graph.noRecipients());
  if (!maySendAs(tenant, s.caller, s.mailbox, s.from)) return fail(Graph.sendAsDenied());
  const message = s.message();
  const spooled = Buffer.isBuffer(message) ? null : await spool(message, g.spoolDir);
  try {
    const size = spooled ? spooled.size : (message as Buffer).length;
    if (size > s.mailbox.maxSendSize) return fail(Graph.messageTooLarge());
    const from = s.from ?? s.mailbox.address;
    const report = await ctx.mailboxes.deliver({
      raw: spooled ? createReadStream(spooled.path) : (message as Buffer),
      envelope: { mailFrom: from, rcptTo: [...s.recipients] },
      via: 'graph',
      ...(s.session ? { session: s.session } : {}),
    });
    if (s.sentCopy) {
      await ctx.mailboxes.put({ raw: s.sentCopy(), mailbox: s.mailbox.address, folder: MailFolder.sentItems, envelope: { mailFrom: from, rcptTo: [...s.recipients] }, via: 'graph', ...(s.session ? { session: s.session } : {}) });
    }
    if (report.unresolved.length > 0) {
      const head = spooled ? await firstBytes(spooled.path, 256 * 1024) : (message as Buffer);
      await sendNonDeliveryReport(ctx, { mailbox: s.mailbox, recipients: report.unresolved, subject: s.subject ?? '', originalHeaders: headerBlockOf(head) });
    }
    return done(report);
  } finally {
    if (spooled) await unlink(spooled.path).catch(() => undefined);
  }
}

async function firstBytes(path: string, n: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await file.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}
