// The graph transport end to end from the Transport interface against the sandbox: a small
// message in one sendMail (base64 MIME), read back from the recipients' mailboxes; recipients made
// the envelope's (Bcc hidden, To/Cc outside the envelope not sent to); Sent Items; sender rules.
import { describe, expect, it } from 'vitest';
import { eventsSince, quietEvents } from '../credentials/helpers.js';
import { ALICE, BOB, composeToBuffer, graphRoute, graphTransport, jobFor, MailFolder, only, rawOf, RELAY, useGraphSandbox, type GraphUnderTest } from './graph-fixture.js';

const t = useGraphSandbox(); // each test starts with empty mailboxes
let g: GraphUnderTest | undefined;

describe('a small message: one sendMail with the MIME message', () => {
  it('is delivered to To and to envelope-only recipients as Bcc, which recipients never see', async () => {
    g = graphTransport(graphRoute(t));
    const message = await composeToBuffer({ from: `"ERP" <${RELAY}>`, to: ALICE, subject: 'Invoice 4711', text: 'Please find the invoice attached.', attachments: [{ filename: 'invoice.txt', content: 'total: 42 EUR' }] });
    const since = await quietEvents(t);
    const result = await g.transport.deliver(jobFor(message, [ALICE, BOB]));

    expect([...result.keys()]).toEqual([0, 1]);
    const delivered = result.get(0)!;
    expect(delivered).toMatchObject({ verdict: 'delivered', reply: { code: 202, enhanced: null, text: 'Accepted' }, fix: null, retryAt: null });
    expect(delivered.diagnosis).toMatch(/^Accepted by Microsoft Graph \(202\) for relay@contoso\.example: sendMail with the MIME message \(1 KB\); 1 recipient not in To\/Cc sent as Bcc\.$/);
    expect(result.get(1)).toEqual(delivered);

    const graph = await eventsSince(t, since, 'graph');
    expect(graph.map((e) => `${e.action} ${e.status} ${e.mailbox}`)).toEqual([`sendMail 202 ${RELAY}`]);
    expect(graph[0]!.detail).toMatchObject({ form: 'mime', internal: [ALICE, BOB], savedToSentItems: true });

    const alice = only(t, ALICE);
    expect(alice).toMatchObject({ subject: 'Invoice 4711', from: RELAY, to: [ALICE], cc: [] });
    const aliceRaw = await rawOf(t, alice.id);
    expect(aliceRaw).toContain('Please find the invoice attached.');
    expect(aliceRaw).toContain('invoice.txt');
    expect(aliceRaw).toMatch(/^Received: from erp\.contoso\.example/); // the relay's trace header went through as sent
    expect(aliceRaw).not.toMatch(/^Bcc:/im);
    const bob = only(t, BOB);
    expect(bob.subject).toBe('Invoice 4711');
    expect(await rawOf(t, bob.id)).not.toMatch(/^Bcc:/im);
    // Sent Items keeps the Bcc, as Outlook shows it to the sender.
    expect(await rawOf(t, only(t, RELAY, MailFolder.sentItems).id)).toMatch(/^Bcc: <bob@contoso\.example>/im);
  });

  it('leaves out To/Cc addresses that are not recipients of this delivery (no double delivery)', async () => {
    g = graphTransport(graphRoute(t));
    const message = await composeToBuffer({ to: [ALICE, 'carol@fabrikam.example'], cc: BOB, text: 'Second try for Alice only.' });
    const result = await g.transport.deliver(jobFor(message, [ALICE]));
    expect(result.get(0)!.verdict).toBe('delivered');
    expect(result.get(0)!.diagnosis).toContain('To/Cc addresses that are not recipients of this delivery were left out: carol@fabrikam.example, bob@contoso.example');
    expect(only(t, ALICE).to).toEqual([ALICE]);
    expect(t.sandbox.mailboxes.list({ mailbox: BOB })).toEqual([]);
    expect(t.sandbox.mailboxes.list({ mailbox: 'internet' })).toEqual([]);
  });

  it('sends the message byte for byte when its headers already name exactly the envelope', async () => {
    g = graphTransport(graphRoute(t));
    const message = await composeToBuffer({ to: ALICE, cc: `"Bob Jones" <${BOB}>`, subject: 'Grüße aus dem ERP', text: 'unverändert' });
    const job = jobFor(message, [BOB, ALICE]);
    const sent = Buffer.concat(await (await job.openMessage()).toArray());
    expect((await g.transport.deliver(job)).get(0)!.verdict).toBe('delivered');
    expect(await t.sandbox.mailboxes.readRaw(only(t, ALICE).id)).toEqual(sent);
  });

  it('keeps a copy in Sent Items; saveToSentItems: false cannot be honoured for MIME and says so as a route warning', async () => {
    g = graphTransport(graphRoute(t));
    expect(g.transport.warnings).toEqual([]);
    await g.close();
    g = graphTransport(graphRoute(t, { saveToSentItems: false }));
    expect(g.transport.warnings).toEqual([
      `routes.m365.saveToSentItems is false, but Graph keeps a copy in ${RELAY}'s Sent Items anyway: its MIME sendMail and a draft's /send have no saveToSentItems parameter.`,
    ]);
    expect(g.log.text()).toContain('saveToSentItems is false');
    await g.transport.deliver(jobFor(await composeToBuffer({ to: ALICE, text: 'x' }), [ALICE]));
    expect(t.sandbox.mailboxes.list({ mailbox: RELAY, folder: MailFolder.sentItems })).toHaveLength(1);
  });

  it('offers the relay the mailbox\'s pacing: Exchange\'s limits and 4 Graph requests at once', () => {
    g = graphTransport(graphRoute(t));
    expect(g.transport.pacing).toEqual({ key: RELAY, limits: { messages: 30, minuteMs: 60_000, recipients: 10_000, dayMs: 86_400_000 }, recipientsPerMessage: 500, concurrency: 4 });
  });
});

describe('sender rules (the route\'s sender settings, applied before Graph)', () => {
  it('refuses a From the mailbox may not send as when the route lists what it may send as, without asking Graph', async () => {
    g = graphTransport(graphRoute(t, { sender: { allowed: ['noreply@contoso.example'] } }));
    const since = await quietEvents(t);
    const result = await g.transport.deliver(jobFor(await composeToBuffer({ from: ALICE, to: BOB, text: 'x' }), [BOB]));
    expect(result.get(0)!.verdict).toBe('permanent');
    expect(result.get(0)!.diagnosis).toContain('which relay@contoso.example may not send as');
    expect(await eventsSince(t, since, 'graph')).toEqual([]);
  });

  it('rewrites the From to the mailbox (Reply-To the original) with rewriteFrom: when-not-allowed', async () => {
    g = graphTransport(graphRoute(t, { sender: { rewriteFrom: 'when-not-allowed' } }));
    const result = await g.transport.deliver(jobFor(await composeToBuffer({ from: `"Alice" <${ALICE}>`, to: BOB, text: 'x' }), [BOB]));
    expect(result.get(0)!.verdict).toBe('delivered');
    const raw = await rawOf(t, only(t, BOB).id);
    expect(raw).toMatch(/^From: "Alice" <relay@contoso\.example>/m);
    expect(raw).toMatch(/^Reply-To: "Alice" <alice@contoso\.example>/m);
  });
});
