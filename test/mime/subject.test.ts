/** What the door reads in the header block: folded, encoded (RFC 2047) and 8-bit subjects, and the Message-ID, from a stream split anywhere. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HeaderTap } from '../../src/mime/header-tap.js';
import { subjectOf } from '../../src/mime/subject.js';

describe('the Subject at the door', () => {
  it('unfolds and decodes encoded words in any charset', () => {
    expect(subjectOf('From: a@b\r\nSubject: =?UTF-8?B?w4RwZmVs?= und\r\n =?ISO-8859-1?Q?Birnen_=E4?=\r\nTo: c@d\r\n')).toBe('Äpfel und Birnen ä');
    expect(subjectOf('subject:Invoice 4711\r\n')).toBe('Invoice 4711');
    expect(subjectOf(Buffer.from('Subject: Größe\r\n').toString('binary'))).toBe('Größe');
    expect(subjectOf('X-Subject: not this\r\nFrom: a@b\r\n')).toBeNull();
    expect(subjectOf('Subject:   \r\n')).toBeNull();
  });

  const through = async (message: string, step = 7) => {
    const tap = new HeaderTap('<fresh@relay.test>');
    const out: Buffer[] = [];
    tap.on('data', (chunk: Buffer) => out.push(chunk));
    const ended = new Promise((resolve) => tap.on('end', resolve));
    for (let i = 0; i < message.length; i += step) tap.write(message.slice(i, i + step));
    tap.end();
    await ended;
    return { tap, out: Buffer.concat(out).toString() };
  };

  it('reads the Subject and the Message-ID from a stream split anywhere, and passes every byte on', async () => {
    const message = 'From: a@b\r\nSubject: =?utf-8?q?Payslip_November?=\r\nMessage-ID: <m1@app.test>\r\n\r\nbody\r\nSubject: not the body\r\n';
    const { tap, out } = await through(message);
    expect(tap.subject).toBe('Payslip November');
    expect(tap.messageId).toBe('<m1@app.test>');
    expect(out).toBe(message);
  });

  it('adds a Message-ID on top when the app sent none, also to a message that is headers only', async () => {
    const { tap, out } = await through('Subject: no body\r\n');
    expect(tap.subject).toBe('no body');
    expect(tap.messageId).toBe('<fresh@relay.test>');
    expect(out).toBe('Message-ID: <fresh@relay.test>\r\nSubject: no body\r\n');
  });

  it('passes a message without headers on as it came, with neither', async () => {
    const { tap, out } = await through('no headers at all, just text\r\n');
    expect([tap.subject, tap.messageId]).toEqual([null, null]);
    expect(out).toBe('no headers at all, just text\r\n');
  });
});
