// Graph sends to the message's To/Cc/Bcc, so the transport makes them the delivery's envelope
// recipients: these are the header rewrites, on messages as applications write them.
import { describe, expect, it } from 'vitest';
import { planRecipients, withEnvelopeRecipients } from '../../src/transports/m365/graph-recipients.js';

const msg = (...lines: string[]) => Buffer.from(`${lines.join('\r\n')}\r\n\r\nbody\r\n`, 'utf8'); // 8-bit headers are UTF-8 (SMTPUTF8)
const head = (b: Buffer) => b.toString('latin1').split('\r\n\r\n')[0];

describe('recipients for Graph = the envelope', () => {
  it('leaves a message alone when To/Cc/Bcc already are exactly the envelope', () => {
    const raw = msg('From: a@x.example', 'To: "Alice" <alice@x.example>', 'Cc: bob@x.example');
    const r = withEnvelopeRecipients(raw, ['BOB@x.example', 'alice@x.example']);
    expect(r.changed).toBe(false);
    expect(r.message).toBe(raw);
    expect(r.from).toBe('a@x.example');
  });

  it('adds envelope-only recipients as one Bcc, replacing a Bcc the application left in', () => {
    const r = withEnvelopeRecipients(msg('To: alice@x.example', 'Bcc: old@x.example', 'Subject: s'), ['alice@x.example', 'carol@x.example']);
    expect(head(r.message)).toBe('To: alice@x.example\r\nSubject: s\r\nBcc: <carol@x.example>');
    expect(r.plan.leftOut).toEqual(['old@x.example']);
  });

  it('rewrites only the To/Cc fields that name someone outside the envelope, keeping display names (RFC 2047 when not ASCII)', () => {
    const raw = msg('To: "Jörg Müller" <joerg@x.example>,\r\n "Out, Side" <out@y.example>', 'Cc: Team: ann@x.example, ben@x.example;', 'Subject: unchanged');
    const r = withEnvelopeRecipients(raw, ['joerg@x.example', 'ann@x.example', 'ben@x.example']);
    expect(head(r.message)).toBe(`To: =?UTF-8?B?${Buffer.from('Jörg Müller').toString('base64')}?= <joerg@x.example>\r\nCc: Team: ann@x.example, ben@x.example;\r\nSubject: unchanged`);
    expect(r.plan.leftOut).toEqual(['out@y.example']);
  });

  it('drops a To that names nobody of the envelope, e.g. a list address whose members are the recipients', () => {
    const r = withEnvelopeRecipients(msg('To: all-staff@x.example', 'Subject: s'), ['ann@x.example', 'ben@x.example']);
    expect(head(r.message)).toBe('Subject: s\r\nBcc: <ann@x.example>,\r\n <ben@x.example>');
  });

  it('handles bare-LF messages and messages without a body', () => {
    const lf = withEnvelopeRecipients(Buffer.from('To: a@x.example\nSubject: s\n\nbody\n'), ['a@x.example', 'b@x.example']);
    expect(lf.message.toString()).toBe('To: a@x.example\r\nSubject: s\r\nBcc: <b@x.example>\r\n\nbody\n');
    const headersOnly = withEnvelopeRecipients(Buffer.from('Subject: s'), ['a@x.example']);
    expect(headersOnly.message.toString()).toBe('Subject: s\r\nBcc: <a@x.example>\r\n');
  });

  it('plans JSON recipients the same way (the draft path), each address once', () => {
    const plan = planRecipients(
      { to: [{ address: 'a@x.example', name: 'A' }, { address: 'gone@x.example' }], cc: [{ address: 'A@x.example' }, { address: 'b@x.example' }], bcc: [{ address: 'c@x.example', name: 'C' }] },
      ['a@x.example', 'b@x.example', 'c@x.example', 'd@x.example'],
    );
    expect(plan).toEqual({
      to: [{ address: 'a@x.example', name: 'A' }],
      cc: [{ address: 'b@x.example' }],
      bcc: [{ address: 'c@x.example', name: 'C' }, { address: 'd@x.example' }],
      leftOut: ['gone@x.example'],
    });
  });
});
