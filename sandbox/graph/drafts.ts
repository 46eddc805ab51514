// Graph drafts: a message being put together in a mailbox's Drafts folder before /send.
//
// Exchange keeps a draft as an item with properties and attachments; the sandbox keeps the same
// thing on disk under `<data>/graph/`: the message's properties as JSON (`drafts/<id>.json`) and
// each attachment as a file (`attachments/`), never in memory. The Drafts folder of the mailbox
// (the mail store) holds the draft rendered as MIME, re-rendered on each change, so the sandbox's
// API and page show drafts like any message. The draft's id is that mail entry's id.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { MailFolder, type MailStore } from '../state/mailboxes.js';
import { composeMessage, newMessageId } from './compose.js';
import { allRecipients, type InlineAttachment, type MessageModel, type Recipient, type StoredAttachment } from './message.js';

export interface DraftRecord {
  readonly id: string;
  /** The owning mailbox's primary address. */
  readonly mailbox: string;
  readonly createdDateTime: string;
  lastModifiedDateTime: string;
  readonly internetMessageId: string;
  readonly model: MessageModel;
  attachments: StoredAttachment[];
}

export interface DraftStoreDeps {
  readonly mail: MailStore;
  readonly now: () => Date;
  /** The mailbox's own address and display name: the From of a draft that names none. */
  readonly senderOf: (mailbox: string) => Recipient;
}

export class DraftStore {
  private readonly drafts = new Map<string, DraftRecord>();
  private readonly locks = new Map<string, Promise<unknown>>();

  private constructor(
    private readonly dir: string,
    private readonly deps: DraftStoreDeps,
  ) {}

  /** Opens `<dir>/drafts` and `<dir>/attachments`, keeping the drafts whose Drafts item still exists. */
  static async open(dir: string, deps: DraftStoreDeps): Promise<DraftStore> {
    const store = new DraftStore(dir, deps);
    await mkdir(join(dir, 'drafts'), { recursive: true });
    await mkdir(store.attachmentDir, { recursive: true });
    for (const name of await readdir(join(dir, 'drafts'))) {
      if (!name.endsWith('.json')) continue;
      const record = JSON.parse(await readFile(join(dir, 'drafts', name), 'utf8')) as DraftRecord;
      if (deps.mail.get(record.id)?.folder === MailFolder.drafts) store.drafts.set(record.id, record);
    }
    return store;
  }

  /** Where attachment files live; an upload session's finished file is moved here. */
  get attachmentDir(): string {
    return join(this.dir, 'attachments');
  }

  /** The draft `id` of `mailbox`, if it is still in that mailbox's Drafts folder. */
  get(mailbox: string, id: string): DraftRecord | undefined {
    const draft = this.drafts.get(id);
    if (!draft || draft.mailbox !== mailbox) return undefined;
    return this.deps.mail.get(id)?.folder === MailFolder.drafts ? draft : undefined;
  }

  async create(mailbox: string, model: MessageModel, inline: readonly InlineAttachment[]): Promise<DraftRecord> {
    const now = this.deps.now().toISOString();
    const attachments: StoredAttachment[] = [];
    for (const a of inline) attachments.push(await this.storeInline(a));
    const partial = { mailbox, createdDateTime: now, lastModifiedDateTime: now, internetMessageId: newMessageId(), model, attachments };
    const entry = await this.deps.mail.put({ raw: this.render(partial), mailbox, folder: MailFolder.drafts, envelope: this.envelopeOf(partial), via: 'graph' });
    const draft: DraftRecord = { id: entry.id, ...partial };
    this.drafts.set(draft.id, draft);
    await this.save(draft);
    return draft;
  }

  /** Adds an attachment given in a request (bytes in memory, at most about 4 MB). */
  addInline(draft: DraftRecord, a: InlineAttachment): Promise<StoredAttachment> {
    return this.exclusive(draft.id, async () => this.attach(draft, await this.storeInline(a)));
  }

  /** Adds an attachment whose bytes are already in a file (an upload session's): the file moves into the store. */
  addFile(draft: DraftRecord, file: string, info: Omit<StoredAttachment, 'id' | 'file' | 'lastModifiedDateTime'>): Promise<StoredAttachment> {
    return this.exclusive(draft.id, async () => {
      const id = attachmentId();
      const target = join(this.attachmentDir, `${randomUUID()}.bin`);
      await rename(file, target);
      return this.attach(draft, { ...info, id, file: target, lastModifiedDateTime: this.deps.now().toISOString() });
    });
  }

  /** Forgets a draft: its record, its attachment files and its Drafts item (once sent, or deleted). */
  async discard(draft: DraftRecord): Promise<void> {
    await this.exclusive(draft.id, async () => {
      this.drafts.delete(draft.id);
      await this.deps.mail.remove(draft.id);
      await unlink(this.recordPath(draft.id)).catch(() => undefined);
      for (const a of draft.attachments) await unlink(a.file).catch(() => undefined);
    });
  }

  /** The draft rendered as MIME: with its Bcc for Drafts and Sent Items, without for recipients. */
  render(draft: Omit<DraftRecord, 'id'>, keepBcc = true): Readable {
    return composeMessage({
      model: draft.model,
      from: draft.model.from ?? this.deps.senderOf(draft.mailbox),
      attachments: draft.attachments,
      date: new Date(draft.lastModifiedDateTime),
      messageId: draft.internetMessageId,
      keepBcc,
    });
  }

  /** Runs changes to one draft one at a time (two attachments added at once must both stay). */
  exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(fn);
    this.locks.set(id, next);
    void next.finally(() => {
      if (this.locks.get(id) === next) this.locks.delete(id);
    }).catch(() => undefined);
    return next;
  }

  private async attach(draft: DraftRecord, attachment: StoredAttachment): Promise<StoredAttachment> {
    draft.attachments = [...draft.attachments, attachment];
    draft.lastModifiedDateTime = this.deps.now().toISOString();
    await this.deps.mail.replaceRaw(draft.id, this.render(draft));
    await this.save(draft);
    return attachment;
  }

  private async storeInline(a: InlineAttachment): Promise<StoredAttachment> {
    const file = join(this.attachmentDir, `${randomUUID()}.bin`);
    await writeFile(file, a.content);
    const { content: _bytes, ...info } = a;
    return { ...info, id: attachmentId(), size: a.content.length, file, lastModifiedDateTime: this.deps.now().toISOString() };
  }

  private envelopeOf(draft: Omit<DraftRecord, 'id'>) {
    return { mailFrom: draft.model.from?.address ?? draft.mailbox, rcptTo: allRecipients(draft.model) };
  }

  private save(draft: DraftRecord): Promise<void> {
    return writeFile(this.recordPath(draft.id), JSON.stringify(draft, null, 1));
  }

  private recordPath(id: string): string {
    return join(this.dir, 'drafts', `${id.replace(/[^A-Za-z0-9-]/g, '')}.json`);
  }
}

/** An opaque attachment id in the style of Exchange's (`AAMkAD...`), safe in a URL. */
function attachmentId(): string {
  return `AAMkAGI${Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64url')}`;
}
