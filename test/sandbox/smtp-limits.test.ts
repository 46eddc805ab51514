// Exchange Online's per-mailbox sending limits on client submission: 3 signed-in connections,
// 30 messages a minute (delayed, or rejected as older documentation said), 10,000 recipients a
// day. The sandbox's limits are lowered through its options so a test reaches them in a few messages.
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO, useSandbox } from '../helpers/sandbox.js';
import { allowSmtpAuth, appOnlyToken, errorReply, messageData, queuedReply, securedClient, sendMessage, signedInClient, signedInWithPassword, xoauth2 } from '../helpers/sandbox-smtp.js';

describe('with delayed excess (current documentation)', () => {
  const t = useSandbox({ tenant: allowSmtpAuth, options: { smtp: { limits: { messagesPerMinute: 3, recipientsPerDay: 5 } } } });
  let token: string;
  beforeAll(async () => {
    token = await appOnlyToken(t);
  });

  it('432 4.3.2 for a 4th signed-in connection of one mailbox; a slot frees when one closes', async () => {
    const open = await Promise.all([1, 2, 3].map(() => signedInClient(t, DEMO.relay.address, token)));
    const fourth = await securedClient(t);
    expect(await fourth.command(`AUTH XOAUTH2 ${xoauth2(DEMO.relay.address, token)}`)).toMatch(errorReply('432 4.3.2 Concurrent connections limit exceeded.'));
    // Another mailbox has its own three.
    const other = await signedInWithPassword(t, DEMO.bob);
    const since = t.sandbox.events.lastSeq;
    open[0]!.close();
    await open[0]!.closed;
    // The server learns of the close a moment after the client.
    await t.sandbox.events.waitFor((e) => e.endpoint === 'submission' && e.action === 'close', { since });
    expect(await fourth.command(`AUTH XOAUTH2 ${xoauth2(DEMO.relay.address, token)}`)).toBe('235 2.7.0 Authentication successful');
    for (const c of [...open, fourth, other]) c.close();
  });

  it('accepts messages over the rate with 250 and delivers them once the minute allows', async () => {
    const client = await signedInClient(t, DEMO.relay.address, token);
    for (let i = 1; i <= 4; i++) {
      const replies = await sendMessage(client, { from: DEMO.relay.address, to: [DEMO.alice.address] }, messageData({ From: DEMO.relay.address, Subject: `rate ${i}` }));
      expect(replies.at(-1)).toMatch(queuedReply());
    }
    client.close();
    const delivered = () => t.sandbox.mailboxes.list({ mailbox: DEMO.alice.address }).filter((e) => e.subject?.startsWith('rate ')).length;
    expect(delivered()).toBe(3);
    expect(t.sandbox.events.list({ endpoint: 'submission' }).some((e) => e.message?.includes('delivery delayed until'))).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(delivered()).toBe(3); // still waiting: a minute has not passed
    t.sandbox.clock.advance(61_000);
    await t.sandbox.mailboxes.waitFor((e) => e.subject === 'rate 4', { timeoutMs: 2000 });
    expect(delivered()).toBe(4);
  });

  it('554 5.2.0 once the recipients of a rolling 24 hours would pass the limit', async () => {
    const client = await signedInWithPassword(t, DEMO.alice);
    const to = [DEMO.bob.address, 'x@fabrikam.example', 'y@fabrikam.example'];
    expect((await sendMessage(client, { from: DEMO.alice.address, to }, messageData({ From: DEMO.alice.address, Subject: 'day 1' }))).at(-1)).toMatch(queuedReply());
    expect((await sendMessage(client, { from: DEMO.alice.address, to }, messageData({ From: DEMO.alice.address, Subject: 'day 2' }))).at(-1)).toMatch(
      errorReply('554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException'),
    );
    t.sandbox.clock.advance(24 * 60 * 60 * 1000 + 1000);
    expect((await sendMessage(client, { from: DEMO.alice.address, to }, messageData({ From: DEMO.alice.address, Subject: 'day 3' }))).at(-1)).toMatch(queuedReply());
    client.close();
  });
});

describe('with rejected excess (older documentation; the reply is unconfirmed)', () => {
  const t = useSandbox({ tenant: allowSmtpAuth, options: { smtp: { limits: { messagesPerMinute: 2, rateLimitBehaviour: 'reject' } } } });

  it('refuses MAIL FROM over the rate with 421 4.4.2 and closes; a minute later it is accepted again', async () => {
    const client = await signedInWithPassword(t, DEMO.bob);
    for (let i = 1; i <= 2; i++) {
      expect((await sendMessage(client, { from: DEMO.bob.address, to: [DEMO.alice.address] }, messageData({ From: DEMO.bob.address, Subject: `r${i}` }))).at(-1)).toMatch(queuedReply());
    }
    expect(await client.command(`MAIL FROM:<${DEMO.bob.address}>`)).toMatch(errorReply('421 4.4.2 Message submission rate for this client has exceeded the configured limit'));
    await client.closed;
    t.sandbox.clock.advance(60_000);
    const again = await signedInWithPassword(t, DEMO.bob);
    expect(await again.command(`MAIL FROM:<${DEMO.bob.address}>`)).toBe('250 2.1.0 Sender OK');
    again.close();
  });
});
