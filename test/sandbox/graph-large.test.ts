// Large messages through Graph: a draft, a 20 MB attachment uploaded in ranges through an upload
// session, /send, and the attachment read back from the recipient's mailbox byte for byte. The
// sandbox streams it all (request bodies to disk, MIME composed from files): the test checks the
// process never holds the attachment in memory, by sampling memory after forced collections.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MailFolder } from '../../sandbox/state/mailboxes.js';
import { attachmentHashes, heldMemory, randomFile } from '../helpers/large-messages.js';
import { DEMO, graphAppToken, graphRequest, openGraphRequest, useSandbox, type HttpsResponse } from '../helpers/sandbox.js';

const RELAY = DEMO.relay.address;
const ALICE = DEMO.alice.address;
const MB = 1024 * 1024;

const t = useSandbox({
  tenant: (d) => {
    const app = d.apps.find((a) => a.appId === DEMO.appOnly.clientId)!;
    app.applicationPermissions = [{ resource: 'Microsoft Graph', roles: ['Mail.Send', 'Mail.ReadWrite'] }];
  },
});
let token: string;
let work: string;
beforeAll(async () => {
  token = await graphAppToken(t);
  work = await mkdtemp(join(tmpdir(), 'relay365-graph-large-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));
beforeEach(() => t.sandbox.mailboxes.clear());

const draftBody = { subject: 'Quarterly archive', body: { contentType: 'text', content: 'The archive is attached.' }, toRecipients: [{ emailAddress: { address: ALICE } }] };

async function createDraft(body: object = draftBody): Promise<string> {
  const res = await graphRequest(t, `/v1.0/users/${RELAY}/messages`, { token, body });
  expect(res.status).toBe(201);
  return (JSON.parse(res.text) as { id: string }).id;
}

async function createUploadSession(draftId: string, size: number, name = 'archive.bin') {
  return graphRequest(t, `/v1.0/users/${RELAY}/messages/${draftId}/attachments/createUploadSession`, { token, body: { AttachmentItem: { attachmentType: 'file', name, size, contentType: 'application/octet-stream' } } });
}

/** PUTs a file to an upload URL in ranges of `chunk` bytes, as Microsoft's protocol asks, streaming each range from the file. */
async function uploadInRanges(uploadUrl: string, path: string, size: number, chunk: number): Promise<HttpsResponse[]> {
  const responses: HttpsResponse[] = [];
  for (let start = 0; start < size; start += chunk) {
    const end = Math.min(start + chunk, size) - 1;
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(end - start + 1), 'content-range': `bytes ${start}-${end}/${size}` };
    const { request, response } = openGraphRequest(t, uploadUrl, { method: 'PUT', headers });
    createReadStream(path, { start, end }).pipe(request);
    responses.push(await response);
  }
  return responses;
}

/** Samples the memory the process holds (after a full collection) while `fn` runs; returns the peak growth. */
async function peakMemoryGrowth(fn: () => Promise<void>): Promise<number> {
  const baseline = heldMemory();
  let peak = baseline;
  // A collection takes a while on a busy heap: the next sample waits for the work to move on.
  let timer: NodeJS.Timeout | undefined;
  const sample = () => {
    peak = Math.max(peak, heldMemory());
    timer = setTimeout(sample, 50);
  };
  timer = setTimeout(sample, 50);
  try {
    await fn();
  } finally {
    clearTimeout(timer);
  }
  return Math.max(peak, heldMemory()) - baseline;
}

describe('a 20 MB attachment through a draft and an upload session', () => {
  it('creates the draft, uploads in ranges, sends, and the recipient gets the attachment intact, with bounded memory', async () => {
    const size = 20 * MB;
    const big = await randomFile(work, size);
    let draftId = '';
    const growth = await peakMemoryGrowth(async () => {
      draftId = await createDraft();
      const small = await graphRequest(t, `/v1.0/users/${RELAY}/messages/${draftId}/attachments`, {
        token,
        body: { '@odata.type': '#microsoft.graph.fileAttachment', name: 'readme.txt', contentType: 'text/plain', contentBytes: Buffer.from('see archive.bin').toString('base64') },
      });
      expect(small.status).toBe(201);
      expect(JSON.parse(small.text)).toMatchObject({ '@odata.type': '#microsoft.graph.fileAttachment', name: 'readme.txt', size: 15, isInline: false });

      const session = await createUploadSession(draftId, size);
      expect(session.status).toBe(201);
      const s = JSON.parse(session.text) as { uploadUrl: string; expirationDateTime: string; nextExpectedRanges: string[] };
      expect(s.nextExpectedRanges).toEqual(['0-']);
      expect(s.uploadUrl).toMatch(/\/api\/v2\.0\/Users\('[^']+@[^']+'\)\/Messages\('[^']+'\)\/AttachmentSessions\('[^']+'\)\?authtoken=/);
      expect(Date.parse(s.expirationDateTime)).toBeGreaterThan(Date.now());

      // 3.75 MB ranges (a multiple of 320 KiB, under 4 MB): five full ranges and a last short one.
      const responses = await uploadInRanges(s.uploadUrl, big.path, size, 12 * 320 * 1024);
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 201]);
      expect(JSON.parse(responses[0]!.text)).toMatchObject({ nextExpectedRanges: [String(12 * 320 * 1024)] });
      const last = responses.at(-1)!;
      expect(last.text).toBe('');
      expect(last.headers.location).toMatch(/\/Messages\('[^']+'\)\/Attachments\('[^']+'\)$/);

      const drafts = t.sandbox.mailboxes.list({ mailbox: RELAY, folder: MailFolder.drafts });
      expect(drafts.map((d) => d.id)).toEqual([draftId]);
      expect(drafts[0]!.size).toBeGreaterThan(size);

      const send = await graphRequest(t, `/v1.0/users/${RELAY}/messages/${draftId}/send`, { token, method: 'POST' });
      expect(send.status).toBe(202);
      expect(send.text).toBe('');
    });

    const inbox = t.sandbox.mailboxes.list({ mailbox: ALICE, folder: MailFolder.inbox });
    expect(inbox).toHaveLength(1);
    expect(inbox[0]!.subject).toBe('Quarterly archive');
    const hashes = await attachmentHashes(t, inbox[0]!.id);
    expect(hashes).toEqual([
      { name: 'readme.txt', size: 15, sha256: createHash('sha256').update('see archive.bin').digest('hex') },
      { name: 'archive.bin', size, sha256: big.sha256 },
    ]);
    expect(t.sandbox.mailboxes.list({ mailbox: RELAY, folder: MailFolder.drafts })).toEqual([]);
    expect(t.sandbox.mailboxes.list({ mailbox: RELAY, folder: MailFolder.sentItems })).toHaveLength(1);
    // Ranges stream from the file, so what the process holds is the sandbox's: holding the 20 MB
    // attachment (or the 27 MB message) anywhere would show here, a 3.75 MB range would not.
    expect(growth).toBeLessThan(12 * MB);
  });
});

describe('the upload session protocol', () => {
  it('refuses a session for an attachment under 3 MB: ErrorAttachmentSizeShouldNotBeLessThanMinimumSize', async () => {
    const res = await createUploadSession(await createDraft(), 2 * MB);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error).toMatchObject({ code: 'ErrorAttachmentSizeShouldNotBeLessThanMinimumSize' });
  });

  it('takes ranges in order only, within 4 MB, and with the right credential; DELETE cancels the session', async () => {
    const size = 4 * MB;
    const s = JSON.parse((await createUploadSession(await createDraft(), size)).text) as { uploadUrl: string };
    const put = (start: number, length: number, url = s.uploadUrl) =>
      graphRequest(t, url, { method: 'PUT', headers: { 'content-range': `bytes ${start}-${start + length - 1}/${size}` }, body: Buffer.alloc(length, 7) });
    const outOfOrder = await put(MB, MB);
    expect(outOfOrder.status).toBe(416);
    const wrongToken = await put(0, MB, s.uploadUrl.replace(/authtoken=.*/, 'authtoken=forged'));
    expect(wrongToken.status).toBe(404);
    const tooLong = await graphRequest(t, s.uploadUrl, { method: 'PUT', headers: { 'content-range': `bytes 0-${MB - 1}/${size}` }, body: Buffer.alloc(MB + 10) });
    expect(tooLong.status).toBe(400);
    const first = await put(0, MB);
    expect(first.status).toBe(200);
    expect(JSON.parse(first.text)).toMatchObject({ nextExpectedRanges: [String(MB)] });
    const again = await put(0, MB);
    expect(again.status).toBe(416);
    const cancel = await graphRequest(t, s.uploadUrl, { method: 'DELETE' });
    expect(cancel.status).toBe(204);
    expect((await put(MB, MB)).status).toBe(404);
  });

  it('stops taking ranges once the session has expired (15 minutes on the sandbox clock)', async () => {
    const size = 3 * MB;
    const s = JSON.parse((await createUploadSession(await createDraft(), size)).text) as { uploadUrl: string };
    t.sandbox.clock.advance(16 * 60 * 1000);
    const res = await graphRequest(t, s.uploadUrl, { method: 'PUT', headers: { 'content-range': `bytes 0-${MB - 1}/${size}` }, body: Buffer.alloc(MB) });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text).error).toMatchObject({ code: 'InvalidAuthenticationToken', message: 'Lifetime validation failed, the token is expired.' });
  });

  it('refuses a range over Graph’s 4 MB request limit with 413 ErrorMessageSizeExceeded', async () => {
    const size = 5 * MB;
    const s = JSON.parse((await createUploadSession(await createDraft(), size)).text) as { uploadUrl: string };
    const res = await graphRequest(t, s.uploadUrl, { method: 'PUT', headers: { 'content-range': `bytes 0-${size - 1}/${size}` }, body: Buffer.alloc(size) });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text).error).toMatchObject({ code: 'ErrorMessageSizeExceeded' });
  });
});

describe('drafts', () => {
  it('creates a draft from base64 MIME content, and sends it', async () => {
    const mime = [`From: ${RELAY}`, `To: ${ALICE}`, 'Subject: Draft from MIME', 'Content-Type: text/plain; charset=utf-8', '', 'Hello from a MIME draft.', ''].join('\r\n');
    const res = await graphRequest(t, `/v1.0/users/${RELAY}/messages`, { token, headers: { 'content-type': 'text/plain' }, body: Buffer.from(mime).toString('base64') });
    expect(res.status).toBe(201);
    const draft = JSON.parse(res.text) as Record<string, unknown>;
    expect(draft).toMatchObject({ subject: 'Draft from MIME', isDraft: true, toRecipients: [{ emailAddress: { address: ALICE } }] });
    expect(t.sandbox.mailboxes.list({ mailbox: RELAY, folder: MailFolder.drafts })).toHaveLength(1);
    expect((await graphRequest(t, `/v1.0/users/${RELAY}/messages/${String(draft.id)}/send`, { token })).status).toBe(202);
    expect(t.sandbox.mailboxes.list({ mailbox: ALICE, folder: MailFolder.inbox }).map((e) => e.subject)).toEqual(['Draft from MIME']);
  });

  it('answers 404 ErrorItemNotFound for a draft that is not there', async () => {
    const res = await graphRequest(t, `/v1.0/users/${RELAY}/messages/no-such-draft/send`, { token });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text).error).toMatchObject({ code: 'ErrorItemNotFound', message: 'The specified object was not found in the store.' });
  });
});
