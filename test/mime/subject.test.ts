/** The Subject read at the door: folded, encoded (RFC 2047) and 8-bit subjects, and a stream watched without being changed. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { subjectOf, watchSubject } from '../../src/mime/subject.js';

describe('the Subject at the door', () => {
  it('unfolds and decodes encoded words in any charset', () => {
    expect(subjectOf('From: a@b\r\nSubject: =?UTF-8?B?w4RwZmVs?= und\r\n =?ISO-8859-1?Q?Birnen_=E4?=\r\nTo: c@d\r\n')).toBe('Äpfel und Birnen ä');
    expect(subjectOf('subject:Invoice 4711\r\n')).toBe('Invoice 4711');
    expect(subjectOf(Buffer.from('Subject: Größe\r\n').toString('binary'))).toBe('Größe');
    expect(subjectOf('X-Subject: not this\r\nFrom: a@b\r\n')).toBeNull();
    expect(subjectOf('Subject:   \r\n')).toBeNull();
  });

  it('reads it from a stream split anywhere, and passes every byte on', async () => {
    const stream = new PassThrough();
    const watched = watchSubject(stream);
    const out: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => out.push(chunk));
    const message = 'From: a@b\r\nSubject: =?utf-8?q?Payslip_November?=\r\n\r\nbody\r\nSubject: not the body\r\n';
    for (let i = 0; i < message.length; i += 7) stream.write(message.slice(i, i + 7));
    stream.end();
    await new Promise((resolve) => stream.on('end', resolve));
    expect(watched.subject()).toBe('Payslip November');
    expect(Buffer.concat(out).toString()).toBe(message);
  });

  it('reads a message that is headers only', () => {
    const stream = new PassThrough();
    const watched = watchSubject(stream);
    stream.write('Subject: no body\r\n');
    expect(watched.subject()).toBe('no body');
  });
});
