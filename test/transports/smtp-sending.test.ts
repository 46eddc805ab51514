// The facts table's rows after sign-in — MAIL, RCPT and after DATA — as an Exchange Online SMTP
// transport meets them against the sandbox: Send As (5.7.60, 5.2.252), the connection limit
// (432), a full mailbox (5.2.2), sizes (5.3.4), the recipient limits (5.5.3, 5.2.0), the
// transient replies (451 4.7.0, 421 4.3.2, by fault injection), and 530 5.7.57 / 504 5.7.4 for a
// route pointed at the wrong endpoint. Each with its verdict, diagnosis and fix, values filled in.
import { describe, expect, it } from 'vitest';
import type { Tenant } from '../../sandbox/tenant/schema.js';
import { DirectSendTransport } from '../../src/transports/m365/direct-send.js';
import { SmtpBasicTransport } from '../../src/transports/m365/smtp-basic.js';
import { DEMO, useSandbox, type ScopedSandbox } from '../helpers/sandbox.js';
import { allowSmtpAuth, signedInWithPassword } from '../helpers/sandbox-smtp.js';
import { context, jobFor, only, received, route } from './m365-smtp-helpers.js';

const RELAY = DEMO.relay.address;
const ALICE = DEMO.alice.address;
const BOB = DEMO.bob.address;

function basicAs(t: ScopedSandbox, user: { address: string; password: string } = DEMO.relay, extra: Record<string, unknown> = {}): SmtpBasicTransport {
  const config = route({ transport: 'smtp-basic', mailbox: user.address, password: user.password, host: '127.0.0.1', port: t.sandbox.ports.submission, ca: [t.sandbox.caPath], ...extra });
  return t.closeAfterTest(new SmtpBasicTransport('m365', config, context()));
}

describe('with Exchange Online limits', () => {
  const t = useSandbox({ tenant: allowSmtpAuth });
  const { edit } = t;
  const relayMailbox = (d: Tenant) => d.mailboxes.find((m) => m.address === RELAY)!;

  it('550 5.7.60: an envelope sender the mailbox has no Send As on fails that message, with Add-RecipientPermission as the fix', async () => {
    const job = jobFor({ from: ALICE, to: [BOB] });
    const result = only(await basicAs(t).deliver(job));
    expect(result).toMatchObject({ verdict: 'permanent', reply: { code: 550, enhanced: '5.7.60' } });
    expect(result.diagnosis).toBe(
      'relay@contoso.example may not send as alice@contoso.example: the envelope sender is not the signed-in mailbox, and relay@contoso.example has no Send As permission on it (550 5.7.60). Only this message fails; others from allowed senders go on.',
    );
    expect(result.fix).toBe(
      'Give relay@contoso.example Send As on alice@contoso.example: Add-RecipientPermission -Identity alice@contoso.example -Trustee relay@contoso.example -AccessRights SendAs -Confirm:$false (FullAccess is not enough), and list alice@contoso.example in routes.m365.sender.allowed — or set routes.m365.sender.rewriteEnvelope: true to send with relay@contoso.example as the envelope sender.',
    );
    // The fix, applied to the tenant, works.
    edit((d) => d.exchange.recipientPermissions.push({ mailbox: ALICE, trustee: RELAY, accessRights: ['SendAs'] }));
    expect(only(await basicAs(t).deliver(job)).verdict).toBe('delivered');
  });

  it('554 5.2.252 SendAsDenied: a header From the mailbox has no Send As on fails that message after DATA', async () => {
    const job = jobFor({ from: RELAY, headerFrom: ALICE, to: [BOB] });
    const result = only(await basicAs(t).deliver(job));
    expect(result).toMatchObject({ verdict: 'permanent', reply: { code: 554, enhanced: '5.2.252' } });
    expect(result.diagnosis).toBe(
      "relay@contoso.example may not send as alice@contoso.example: the message's From header names an address relay@contoso.example has no Send As permission on (554 5.2.252 SendAsDenied). Only this message fails.",
    );
    expect(result.fix).toBe(
      'Give relay@contoso.example Send As on alice@contoso.example: Add-RecipientPermission -Identity alice@contoso.example -Trustee relay@contoso.example -AccessRights SendAs -Confirm:$false (FullAccess is not enough), and list alice@contoso.example in routes.m365.sender.allowed — or set routes.m365.sender.rewriteFrom: when-not-allowed (From becomes relay@contoso.example, the original address goes into Reply-To).',
    );
    expect(t.sandbox.mailboxes.list({ mailbox: BOB }).some((e) => e.subject === job.subject)).toBe(false);
  });

  it('432 4.3.2: a fourth connection of the mailbox is transient, retried in a minute', async () => {
    const others = await Promise.all([1, 2, 3].map(() => signedInWithPassword(t, DEMO.relay))); // another program holds all three
    try {
      const before = Date.now();
      const result = only(await basicAs(t).deliver(jobFor({ from: RELAY, to: [ALICE] })));
      expect(result).toMatchObject({ verdict: 'transient', reply: { code: 432, enhanced: '4.3.2' } });
      expect(result.diagnosis).toBe(
        'relay@contoso.example already has as many SMTP connections open as Exchange Online allows (3 per mailbox; 432 4.3.2). Other programs signing in as relay@contoso.example count too. relay365 tries again in a minute.',
      );
      expect(result.fix).toBe(
        'Keep routes.m365.pacing.concurrency (now 3) at 3 or less, and stop other programs signing in as relay@contoso.example at the same time — give each sending system its own mailbox.',
      );
      expect(result.retryAt).toBeGreaterThanOrEqual(before + 60_000);
      expect(result.retryAt).toBeLessThan(Date.now() + 61_000);
    } finally {
      for (const c of others) c.close();
    }
  });

  it('554 5.2.2: the sending mailbox is full — the route is held (every message would fail the same way)', async () => {
    edit((d) => {
      relayMailbox(d).full = true;
    });
    const result = only(await basicAs(t).deliver(jobFor({ from: RELAY, to: [ALICE] })));
    expect(result).toMatchObject({ verdict: 'route-broken', reply: { code: 554, enhanced: '5.2.2' } });
    expect(result.diagnosis).toBe(
      'relay@contoso.example is full (554 5.2.2 mailbox full): Exchange Online cannot keep the copy in its Sent Items, so it sends nothing as relay@contoso.example until space is freed. The route\'s messages are held, not failed.',
    );
    expect(result.fix).toBe(
      'Free space in relay@contoso.example: every message sent through SMTP leaves a copy in its Sent Items. Get-MailboxStatistics -Identity relay@contoso.example | Format-List TotalItemSize shows the size; delete or archive old items, or give the mailbox a retention policy that empties Sent Items.',
    );
  });

  it("552 5.3.4: a message over the mailbox's MaxSendSize fails for good, with Set-Mailbox -MaxSendSize as the fix", async () => {
    edit((d) => {
      relayMailbox(d).maxSendSize = 2048;
    });
    const job = jobFor({ from: RELAY, to: [ALICE], body: 'x'.repeat(70).concat('\r\n').repeat(40) });
    const result = only(await basicAs(t).deliver(job));
    expect(result).toMatchObject({ verdict: 'permanent', reply: { code: 552, enhanced: '5.3.4' } });
    expect(result.diagnosis).toBe(
      `The message (${Math.ceil(job.size / 1024)} KB) is larger than Exchange Online accepts here (552 5.3.4 Message size exceeds fixed maximum message size); the default limit is 35 MB, at most 150 MB.`,
    );
    expect(result.fix).toBe(
      "Raise the mailbox's limit (up to 150 MB): Set-Mailbox -Identity relay@contoso.example -MaxSendSize 150MB — the recipients' MaxReceiveSize must allow it too. Otherwise the application must send it smaller (attachments grow by a third in MIME).",
    );
  });

  it('451 4.7.0 and 421 4.3.2 (fault injection) are transient, left to the backoff', async () => {
    t.sandbox.faults.add({ kind: 'reply', endpoint: 'submission', stage: 'MAIL', smtp: { code: 451, text: '4.7.0 Temporary server error. Please try again later. PRX4' } });
    const first = only(await basicAs(t).deliver(jobFor({ from: RELAY, to: [ALICE] })));
    expect(first).toMatchObject({ verdict: 'transient', retryAt: null, fix: null, reply: { code: 451, enhanced: '4.7.0' } });
    expect(first.diagnosis).toBe('Exchange Online had a temporary problem (451 4.7.0 Temporary server error. Please try again later. PRX4); relay365 tries again later.');

    t.sandbox.faults.add({ kind: 'reply', endpoint: 'submission', stage: 'CONNECT', smtp: { code: 421, text: '4.3.2 Service not available' } });
    const second = only(await basicAs(t).deliver(jobFor({ from: RELAY, to: [ALICE] })));
    expect(second).toMatchObject({ verdict: 'transient', retryAt: null, reply: { code: 421, enhanced: '4.3.2' } });
    expect(second.diagnosis).toBe('Exchange Online is not available at the moment (421 4.3.2 Service not available); relay365 tries again later.');
  });

  it('a connection cut in the middle of DATA (fault injection) is transient, and nothing is delivered', async () => {
    t.sandbox.faults.add({ kind: 'drop', endpoint: 'submission', stage: 'DATA' });
    const job = jobFor({ from: RELAY, to: [ALICE], body: 'y'.repeat(50_000) });
    const result = only(await basicAs(t).deliver(job));
    expect(result).toMatchObject({ verdict: 'transient', reply: null, retryAt: null });
    expect(result.diagnosis).toMatch(new RegExp(`^The connection to 127\\.0\\.0\\.1:${t.sandbox.ports.submission} was cut during the session \\(.*(ECONNRESET|EPIPE|closed).*\\); relay365 tries again\\.$`));
    expect(t.sandbox.mailboxes.list({ mailbox: ALICE }).some((e) => e.subject === job.subject)).toBe(false);
  });

  it('504 5.7.4 (fault injection at AUTH): the endpoint does not take this sign-in — route held', async () => {
    t.sandbox.faults.add({ kind: 'reply', endpoint: 'submission', stage: 'AUTH', smtp: { code: 504, text: '5.7.4 Unrecognized authentication type' } });
    const result = only(await basicAs(t).deliver(jobFor({ from: RELAY, to: [ALICE] })));
    expect(result).toMatchObject({ verdict: 'route-broken', reply: { code: 504, enhanced: '5.7.4' } });
    expect(result.diagnosis).toBe(
      `127.0.0.1:${t.sandbox.ports.submission} does not accept this sign-in (504 5.7.4 Unrecognized authentication type): client submission takes only AUTH LOGIN and XOAUTH2, and only after STARTTLS; the MX endpoint takes no AUTH at all.`,
    );
    expect(result.fix).toBe('Check routes.m365.host and routes.m365.port: SMTP AUTH client submission is smtp.office365.com:587 with STARTTLS; sign-in is offered only after STARTTLS.');
  });

  it('530 5.7.57: a direct-send route pointed at the client submission endpoint is held, naming the MX host', async () => {
    const config = route({ transport: 'direct-send', domain: 'contoso.example', host: '127.0.0.1', port: t.sandbox.ports.submission, ca: [t.sandbox.caPath] });
    const transport = t.closeAfterTest(new DirectSendTransport('scanner', config, context()));
    const result = only(await transport.deliver(jobFor({ from: 'scanner@contoso.example', to: [ALICE] })));
    expect(result).toMatchObject({ verdict: 'route-broken', reply: { code: 530, enhanced: '5.7.57' } });
    expect(result.diagnosis).toBe(`127.0.0.1:${t.sandbox.ports.submission} takes mail only from signed-in clients (530 5.7.57 Client not authenticated to send mail), and this route did not sign in.`);
    expect(result.fix).toBe(
      'routes.scanner points at the client submission endpoint (smtp.office365.com), which takes only signed-in clients; a direct-send route goes to the MX host contoso-example.mail.protection.outlook.com on port 25: remove routes.scanner.host or set it to that host.',
    );
  });
});

describe('with lowered recipient limits (sandbox options)', () => {
  const t = useSandbox({
    tenant: allowSmtpAuth,
    options: { smtp: { limits: { recipientsPerMessage: 2, recipientsPerDay: 3, maxHeaderBytes: 4096, messagesPerMinute: 2, rateLimitBehaviour: 'reject' } } },
  });

  it('550 5.5.3: recipients over the per-message limit are transient — the accepted ones got the message', async () => {
    const job = jobFor({ from: ALICE, to: [BOB, RELAY, 'noreply@contoso.example'] });
    const result = await basicAs(t, DEMO.alice).deliver(job);
    expect(only(result, 0).verdict).toBe('delivered');
    expect(only(result, 1).verdict).toBe('delivered');
    const third = only(result, 2);
    expect(third).toMatchObject({ verdict: 'transient', reply: { code: 550, enhanced: '5.5.3' } });
    expect(third.diagnosis).toBe(
      'Exchange Online took no more recipients for this submission (at most 500 per message; 550 5.5.3 too many recipients). The recipients it accepted got the message; noreply@contoso.example is tried again in another submission of the same message.',
    );
    expect(third.fix).toBe(
      'Keep routes.m365.pacing.recipientsPerMessage (now 500) at 500 or less — relay365 splits longer lists; if the mailbox has a lower limit (Get-Mailbox -Identity alice@contoso.example | Format-List RecipientLimits), use that value.',
    );
    await received(t, BOB, job.subject);
  });

  it('554 5.2.0: the rolling 24-hour recipient quota is transient, retried in an hour', async () => {
    expect(only(await basicAs(t, DEMO.bob).deliver(jobFor({ from: BOB, to: [ALICE, RELAY] }))).verdict).toBe('delivered');
    const before = Date.now();
    const result = only(await basicAs(t, DEMO.bob).deliver(jobFor({ from: BOB, to: [ALICE, RELAY] })));
    expect(result).toMatchObject({ verdict: 'transient', reply: { code: 554, enhanced: '5.2.0' } });
    expect(result.diagnosis).toBe(
      "bob@contoso.example has reached Exchange Online's recipient limit (10,000 recipients in a rolling 24 hours; 554 5.2.0 SubmissionQuotaExceeded). Room frees as the recipients of 24 hours ago age out of the window, so relay365 tries again in an hour rather than failing the message.",
    );
    expect(result.fix).toBe(
      'Spread the volume over several mailboxes (one route each), or lower routes.m365.pacing.recipientsPerDay to leave room for others sending as bob@contoso.example. For internal bulk mail, High Volume Email (hve: true) has its own limits.',
    );
    expect(result.retryAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(result.retryAt).toBeLessThan(Date.now() + 3_601_000);
  });

  it('552 5.3.4 Header size: a header block over the limit fails for good', async () => {
    const headers = Array.from({ length: 60 }, (_, i) => `X-Filler-${i}: ${'h'.repeat(90)}`).join('\r\n');
    const result = only(await basicAs(t).deliver(jobFor({ from: RELAY, to: [ALICE], headers })));
    expect(result).toMatchObject({ verdict: 'permanent', reply: { code: 552, enhanced: '5.3.4' } });
    expect(result.diagnosis).toBe("The message's header block is larger than Exchange Online accepts (256 KB; 552 5.3.4 Header size exceeds fixed maximum size).");
    expect(result.fix).toBe("The sending application must write a smaller header block (often a very long To or Cc list); Exchange Online's 256 KB header limit cannot be raised.");
  });

  it('421 4.4.2 (the older documentation\'s rejected excess; the sandbox\'s unconfirmed text): transient, retried in a minute', async () => {
    const transport = basicAs(t);
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(only(await transport.deliver(jobFor({ from: RELAY, to: [BOB] }))));
    // The refused one went out over the pooled connection the 421 closed, then once more over a new one.
    const refused = outcomes.find((o) => o.verdict !== 'delivered');
    expect(refused).toMatchObject({ verdict: 'transient', reply: { code: 421, enhanced: '4.4.2' } });
    expect(refused?.diagnosis).toBe("relay@contoso.example is over Exchange Online's message rate (30 messages a minute; 421 4.4.2). relay365 tries again in a minute.");
    expect(refused?.fix).toBe('Keep routes.m365.pacing.messagesPerMinute at 30 or less, counting other programs sending as relay@contoso.example.');
  });
});
