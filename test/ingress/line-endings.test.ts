/**
 * SMTP smuggling and bare line endings: only <CRLF>.<CRLF> ends DATA; "\n.\n" and "\r.\n"
 * tricks never split one message into two, whether the listener refuses bare line endings
 * (the default) or normalises them for legacy applications.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSink, type Sink } from '../helpers/sink.js';
import { SmtpTalk } from '../helpers/smtp-talk.js';
import { routeTo, startTestRelay, type TestRelay } from '../helpers/relay.js';

let relay: TestRelay | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await relay?.stop();
  await sink?.stop();
});

async function setUp(bareLineEndings: 'reject' | 'normalize') {
  sink = await startSink();
  relay = await startTestRelay({
    listeners: { default: { host: '127.0.0.1', port: 0, bareLineEndings, tls: { mode: 'none' } } },
    routes: { upstream: routeTo(sink.port) },
  });
}

/** One DATA whose payload hides a second transaction behind a fake end-of-data. */
async function smuggle(fakeEnd: string): Promise<{ replies: string[]; talk: SmtpTalk }> {
  const talk = await SmtpTalk.open(relay!.port);
  await talk.reply();
  await talk.command('EHLO app.example');
  await talk.command('MAIL FROM:<app@contoso.example>');
  await talk.command('RCPT TO:<anna@contoso.example>');
  expect(await talk.command('DATA')).toMatch(/^354/);
  talk.write(
    `Subject: invoice\r\n\r\nfirst part${fakeEnd}MAIL FROM:<ceo@contoso.example>\r\nRCPT TO:<victim@fabrikam.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n`,
  );
  const replies = [await talk.reply()];
  replies.push(await talk.command('NOOP'));
  return { replies, talk };
}

describe.each(['\n.\n', '\r.\n', '\n.\r\n', '\r\n.\n'])('the fake end of data %j', (fakeEnd) => {
  it('is refused as one message with bare line endings, and nothing is queued', async () => {
    await setUp('reject');
    const { replies, talk } = await smuggle(fakeEnd);
    expect(replies[0]).toMatch(/^550 5\.5\.2 Message refused: bare (LF|CR) received; lines must end in CRLF/);
    expect(replies[1]).toMatch(/^250 /); // the session goes on: the rest was message content, not commands
    expect(await relay!.relay.store.list({ limit: 10 })).toEqual([]);
    talk.close();
  });

  it('stays one message, to the one recipient, when normalised', async () => {
    await setUp('normalize');
    const { replies, talk } = await smuggle(fakeEnd);
    expect(replies[0]).toMatch(/^250 2\.0\.0 Ok: queued as/);
    const [message] = await sink!.waitForMessages(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(sink!.messages).toHaveLength(1);
    expect(message?.to).toEqual(['anna@contoso.example']);
    const text = message!.raw.toString();
    expect(text).toContain('MAIL FROM:<ceo@contoso.example>\r\nRCPT TO:<victim@fabrikam.example>');
    expect(text).not.toMatch(/[^\r]\n|\r[^\n]/);
    talk.close();
  });
});

describe('normalising bare line endings', () => {
  it('turns bare LF and bare CR into CRLF and leaves CRLF alone', async () => {
    await setUp('normalize');
    const talk = await SmtpTalk.open(relay!.port);
    await talk.reply();
    await talk.command('EHLO legacy.example');
    await talk.command('MAIL FROM:<scanner@contoso.example>');
    await talk.command('RCPT TO:<anna@contoso.example>');
    await talk.command('DATA');
    talk.write('Subject: scan\n\nline one\nline two\rline three\r\n');
    expect(await talk.command('.')).toMatch(/^250 /);
    const [message] = await sink!.waitForMessages(1);
    expect(message!.raw.toString()).toMatch(/\r\nSubject: scan\r\n\r\nline one\r\nline two\r\nline three\r\n$/);
    talk.close();
  });
});
