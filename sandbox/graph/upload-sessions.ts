// Upload sessions: a large attachment (3–150 MB) arriving in ranges of at most 4 MB.
//
// Microsoft's protocol (attachment: createUploadSession): the session gives a pre-authenticated
// `uploadUrl`; the client PUTs byte ranges in order with `Content-Range: bytes a-b/total`; every
// range but the last is answered 200 with `nextExpectedRanges`, the last 201 with the attachment's
// URL in `Location`; DELETE on the URL cancels. Ranges are appended to a file under
// `<data>/graph/uploads/` as they stream in, so the attachment is never in memory. Sessions live in
// memory: after a restart the client starts a new one, as after an expired session.
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdir, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AttachmentInfo } from './message.js';

export interface UploadSession extends AttachmentInfo {
  readonly id: string;
  /** The secret in the URL's `authtoken`: the URL is the credential, as Microsoft's is. */
  readonly token: string;
  readonly appId: string;
  /** The mailbox's primary address and object id. */
  readonly mailbox: string;
  readonly mailboxId: string;
  readonly draftId: string;
  /** The attachment's size in bytes, as announced. */
  readonly size: number;
  /** Bytes received so far: the next expected range starts here. */
  received: number;
  /** Sandbox time (ms) after which the URL no longer works. */
  readonly expiresAt: number;
  readonly file: string;
}

export type UploadSessionInput = Omit<UploadSession, 'id' | 'token' | 'received' | 'file'>;

export class UploadSessionStore {
  private readonly sessions = new Map<string, UploadSession>();

  private constructor(private readonly dir: string) {}

  /** Opens `<dir>`, dropping the part files of sessions from a previous run. */
  static async open(dir: string): Promise<UploadSessionStore> {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return new UploadSessionStore(dir);
  }

  /** Opens a session; sessions expired by `now` (sandbox time) are cancelled on the way. */
  async create(input: UploadSessionInput, now: number): Promise<UploadSession> {
    for (const old of [...this.sessions.values()].filter((x) => x.expiresAt < now)) await this.cancel(old);
    const id = `AAMkAGI${randomUUID().replace(/-/g, '')}`;
    const session: UploadSession = { ...input, id, token: randomBytes(32).toString('base64url'), received: 0, file: join(this.dir, `${id}.part`) };
    await writeFile(session.file, '');
    this.sessions.set(id, session);
    return session;
  }

  /** The session with this id whose URL carries this token, or undefined (the URL is a bearer credential). */
  find(id: string, token: string): UploadSession | undefined {
    const session = this.sessions.get(id);
    if (!session) return undefined;
    const given = Buffer.from(token);
    const expected = Buffer.from(session.token);
    return given.length === expected.length && timingSafeEqual(given, expected) ? session : undefined;
  }

  /** Forgets a finished session (its file has moved to the draft's attachments). */
  finish(session: UploadSession): void {
    this.sessions.delete(session.id);
  }

  /** Cancels a session: DELETE on its URL, or expiry. */
  async cancel(session: UploadSession): Promise<void> {
    this.sessions.delete(session.id);
    await unlink(session.file).catch(() => undefined);
  }
}

export interface ContentRange {
  readonly start: number;
  readonly end: number;
  readonly total: number;
}

/** `bytes {start}-{end}/{total}`, as the upload protocol requires on every PUT. */
export function parseContentRange(header: string | undefined): ContentRange | undefined {
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const [start, end, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return start <= end && end < total ? { start, end, total } : undefined;
}
