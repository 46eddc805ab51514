// Where accepted mail lands: the recipients' mailboxes, the internet outbox, Sent Items.
//
// Messages are kept on disk under `<data>/mail/`: each message once as a .eml file in `blobs/`,
// and one small JSON index listing every copy (which mailbox, which folder, a header summary). A
// message to three internal recipients is one file and three index entries, as Exchange keeps one
// item per mailbox. Large messages are streamed to disk and never held in memory.
import { EventEmitter } from 'node:events';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { findMailbox, isAcceptedDomain } from '../tenant/accessors.js';
import type { Tenant } from '../tenant/schema.js';
import { summarizeMessageFile, type MessageSummary } from './message-headers.js';

export const MailFolder = { inbox: 'Inbox', sentItems: 'SentItems', drafts: 'Drafts', outbox: 'Outbox' } as const;
export type MailFolder = (typeof MailFolder)[keyof typeof MailFolder];

/** The pseudo-mailbox holding mail for recipients outside the tenant ("sent to the internet"). */
export const INTERNET_OUTBOX = 'internet';

export type RawMessage = Buffer | string | Readable | AsyncIterable<Uint8Array>;

export interface Envelope {
  mailFrom: string;
  rcptTo: string[];
}

export interface MailEntry extends MessageSummary {
  readonly id: string;
  /** Mailbox address, or INTERNET_OUTBOX. */
  readonly mailbox: string;
  readonly folder: MailFolder;
  /** File name of the .eml under `mail/blobs/` (shared by the copies of one message). */
  readonly blob: string;
  readonly size: number;
  readonly receivedAt: string;
  /** Which door it came through: 'submission', 'mx', 'graph', 'api'. */
  readonly via: string;
  readonly envelope: Envelope;
  readonly session?: string;
}

export interface DeliveryRequest {
  raw: RawMessage;
  envelope: Envelope;
  via: string;
  /** Mailbox whose Sent Items gets a copy (SMTP submission, Graph saveToSentItems). */
  sentItemsOf?: string;
  session?: string;
}

export interface DeliveryReport {
  entries: MailEntry[];
  /** Recipients delivered to a tenant mailbox (their primary addresses). */
  internal: string[];
  /** Recipients outside the tenant, placed in the internet outbox. */
  external: string[];
  /** Recipients in an accepted domain with no mailbox: nothing stored (the caller refused them). */
  unresolved: string[];
}

export class MailStore {
  private entries: MailEntry[] = [];
  private persisting: Promise<void> = Promise.resolve();
  private readonly emitter = new EventEmitter();

  private constructor(
    readonly dir: string,
    private readonly tenant: () => Tenant,
    private readonly now: () => number,
  ) {
    this.emitter.setMaxListeners(0);
  }

  /** Opens (or creates) the store under `<dataDir>/mail`. `tenant` gives the tenant in force when mail is routed. */
  static async open(dataDir: string, tenant: () => Tenant, now: () => number = Date.now): Promise<MailStore> {
    const store = new MailStore(resolve(dataDir, 'mail'), tenant, now);
    await mkdir(join(store.dir, 'blobs'), { recursive: true });
    try {
      const index = JSON.parse(await readFile(store.indexPath, 'utf8')) as { messages?: MailEntry[] };
      store.entries = index.messages ?? [];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read the sandbox mail index ${store.indexPath}: ${(e as Error).message}`);
    }
    return store;
  }

  /**
   * Stores a message for its envelope recipients: each internal recipient's Inbox, one internet
   * outbox entry for the external ones, and the sender's Sent Items when asked. Recipients in an
   * accepted domain without a mailbox are reported, not stored: refusing them is the caller's job.
   */
  async deliver(req: DeliveryRequest): Promise<DeliveryReport> {
    const t = this.tenant();
    const internal = new Set<string>();
    const external = new Set<string>();
    const unresolved = new Set<string>();
    for (const rcpt of req.envelope.rcptTo.map((r) => r.toLowerCase())) {
      const mailbox = findMailbox(t, rcpt);
      if (mailbox) internal.add(mailbox.address);
      else if (isAcceptedDomain(t, rcpt)) unresolved.add(rcpt);
      else external.add(rcpt);
    }
    const placements: Array<{ mailbox: string; folder: MailFolder; envelope: Envelope }> = [...internal].map((mailbox) => ({ mailbox, folder: MailFolder.inbox, envelope: req.envelope }));
    if (external.size > 0) placements.push({ mailbox: INTERNET_OUTBOX, folder: MailFolder.outbox, envelope: { mailFrom: req.envelope.mailFrom, rcptTo: [...external] } });
    const sender = req.sentItemsOf ? findMailbox(t, req.sentItemsOf) : undefined;
    if (sender) placements.push({ mailbox: sender.address, folder: MailFolder.sentItems, envelope: req.envelope });
    const entries = placements.length === 0 ? [] : await this.store(req.raw, placements, req.via, req.session);
    return { entries, internal: [...internal], external: [...external], unresolved: [...unresolved] };
  }

  /** Stores one copy in a given mailbox folder (Graph drafts, tests seeding a mailbox). */
  async put(req: { raw: RawMessage; mailbox: string; folder: MailFolder; envelope: Envelope; via: string; session?: string }): Promise<MailEntry> {
    const [entry] = await this.store(req.raw, [{ mailbox: req.mailbox.toLowerCase(), folder: req.folder, envelope: req.envelope }], req.via, req.session);
    return entry!;
  }

  /** Entries, oldest first, optionally of one mailbox and folder. */
  list(filter: { mailbox?: string; folder?: MailFolder } = {}): MailEntry[] {
    const mailbox = filter.mailbox?.toLowerCase();
    return this.entries.filter((e) => (mailbox === undefined || e.mailbox === mailbox) && (filter.folder === undefined || e.folder === filter.folder));
  }

  get(id: string): MailEntry | undefined {
    return this.entries.find((e) => e.id === id);
  }

  /** The .eml bytes (fine for tests; use `rawStream` for large messages). */
  async readRaw(id: string): Promise<Buffer | undefined> {
    const entry = this.get(id);
    return entry ? readFile(this.blobPath(entry.blob)) : undefined;
  }

  rawStream(id: string): ReadStream | undefined {
    const entry = this.get(id);
    return entry ? createReadStream(this.blobPath(entry.blob)) : undefined;
  }

  /** Replaces the content of one entry (a Graph draft that gained attachments); other copies keep theirs. */
  async replaceRaw(id: string, raw: RawMessage): Promise<MailEntry | undefined> {
    const old = this.get(id);
    if (!old) return undefined;
    const { blob, size, summary } = await this.writeBlob(raw);
    // The old header summary goes (a field the new content lacks must not linger); placement stays.
    const { messageId: _id, subject: _subject, from: _from, date: _date, ...placement } = old;
    const updated: MailEntry = { ...placement, ...summary, blob, size };
    this.entries = this.entries.map((e) => (e === old ? updated : e));
    await this.persist();
    if (!this.entries.some((e) => e.blob === old.blob)) await unlink(this.blobPath(old.blob)).catch(() => undefined);
    return updated;
  }

  /** Deletes one entry; the .eml goes when no other copy uses it. */
  async remove(id: string): Promise<boolean> {
    const entry = this.get(id);
    if (!entry) return false;
    this.entries = this.entries.filter((e) => e !== entry);
    await this.persist();
    if (!this.entries.some((e) => e.blob === entry.blob)) await unlink(this.blobPath(entry.blob)).catch(() => undefined);
    return true;
  }

  /** Deletes every entry, or those of one mailbox. */
  async clear(mailbox?: string): Promise<number> {
    const gone = this.list(mailbox === undefined ? {} : { mailbox });
    for (const e of gone) await this.remove(e.id);
    return gone.length;
  }

  /** Calls `listener` for each stored entry. */
  subscribe(listener: (entry: MailEntry) => void): () => void {
    this.emitter.on('entry', listener);
    return () => this.emitter.off('entry', listener);
  }

  /** Resolves with the first entry (stored already or later) matching `predicate`; rejects after `timeoutMs`. */
  waitFor(predicate: (entry: MailEntry) => boolean, options: { timeoutMs?: number } = {}): Promise<MailEntry> {
    const found = this.entries.find(predicate);
    if (found) return Promise.resolve(found);
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise((resolveEntry, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`no matching message arrived in the sandbox within ${timeoutMs} ms`));
      }, timeoutMs);
      const stop = this.subscribe((entry) => {
        if (!predicate(entry)) return;
        clearTimeout(timer);
        stop();
        resolveEntry(entry);
      });
    });
  }

  private async writeBlob(raw: RawMessage): Promise<{ blob: string; size: number; summary: MessageSummary }> {
    const blob = `${randomUUID()}.eml`;
    const path = this.blobPath(blob);
    const tmp = `${path}.tmp`;
    await pipeline(toStream(raw), createWriteStream(tmp));
    await rename(tmp, path);
    const [{ size }, summary] = await Promise.all([stat(path), summarizeMessageFile(path)]);
    return { blob, size, summary };
  }

  private async store(raw: RawMessage, placements: Array<{ mailbox: string; folder: MailFolder; envelope: Envelope }>, via: string, session?: string): Promise<MailEntry[]> {
    const { blob, size, summary } = await this.writeBlob(raw);
    const receivedAt = new Date(this.now()).toISOString();
    const entries: MailEntry[] = placements.map((p) => ({ id: randomUUID(), mailbox: p.mailbox, folder: p.folder, blob, size, receivedAt, via, envelope: p.envelope, ...summary, ...(session ? { session } : {}) }));
    this.entries.push(...entries);
    await this.persist();
    for (const e of entries) this.emitter.emit('entry', e);
    return entries;
  }

  /** Resolves when the index on disk has every change so far. */
  flushed(): Promise<void> {
    return this.persisting.catch(() => undefined);
  }

  private persist(): Promise<void> {
    const snapshot = JSON.stringify({ version: 1, messages: this.entries }, null, 1);
    // Writes run one after another; a failed write does not stop the ones after it.
    this.persisting = this.persisting.catch(() => undefined).then(async () => {
      const tmp = `${this.indexPath}.tmp`;
      await writeFile(tmp, snapshot);
      await rename(tmp, this.indexPath);
    });
    return this.persisting;
  }

  private get indexPath(): string {
    return join(this.dir, 'index.json');
  }

  private blobPath(blob: string): string {
    return join(this.dir, 'blobs', blob);
  }
}

function toStream(raw: RawMessage): Readable {
  if (typeof raw === 'string' || Buffer.isBuffer(raw)) return Readable.from([Buffer.from(raw)]);
  return raw instanceof Readable ? raw : Readable.from(raw);
}
