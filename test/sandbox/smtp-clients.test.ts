// Real clients against client submission: nodemailer with XOAUTH2 (tokens from the real
// msal-node, app-only and delegated) and with AUTH LOGIN, each message read back from the
// recipient's sandbox mailbox.
import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { DEMO, publicClient, SMTP_SEND_SCOPE, submitDeviceLogin, useSandbox } from '../helpers/sandbox.js';
import { allowSmtpAuth, appOnlyToken, errorReply, queuedReply } from '../helpers/sandbox-smtp.js';

// A tenant that still allows basic auth and SMTP AUTH, as many did before the retirement.
const t = useSandbox({ tenant: allowSmtpAuth, options: { entra: { deviceCodeIntervalSeconds: 0.05 } } });

function transport(auth: Record<string, unknown>) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: t.sandbox.ports.submission!,
    secure: false,
    requireTLS: true,
    tls: { ca: t.sandbox.caPem, servername: 'localhost', minVersion: 'TLSv1.2' },
    auth,
    logger: false,
  } as Parameters<typeof nodemailer.createTransport>[0]);
}

async function readBack(mailbox: string, subject: string): Promise<string> {
  const entry = await t.sandbox.mailboxes.waitFor((e) => e.mailbox === mailbox && e.folder === 'Inbox' && e.subject === subject);
  return (await t.sandbox.mailboxes.readRaw(entry.id))!.toString('utf8');
}

describe('nodemailer', () => {
  it('sends with XOAUTH2 and an app-only token from msal-node', async () => {
    const accessToken = await appOnlyToken(t);
    const mailer = transport({ type: 'OAuth2', user: DEMO.relay.address, accessToken });
    const info = await mailer.sendMail({ from: DEMO.relay.address, to: DEMO.alice.address, subject: 'App-only XOAUTH2', text: 'Sent by the app with SMTP.SendAsApp.' });
    expect(info.response).toMatch(queuedReply(info.messageId));
    expect(info.accepted).toEqual([DEMO.alice.address]);
    expect(await readBack(DEMO.alice.address, 'App-only XOAUTH2')).toContain('Sent by the app with SMTP.SendAsApp.');
    mailer.close();
  });

  it('sends as a shared mailbox (user= the shared mailbox) and to the internet outbox', async () => {
    const accessToken = await appOnlyToken(t);
    const mailer = transport({ type: 'OAuth2', user: 'noreply@contoso.example', accessToken });
    const info = await mailer.sendMail({ from: 'noreply@contoso.example', to: ['bob@contoso.example', 'someone@fabrikam.example'], subject: 'From the shared mailbox', text: 'No reply.' });
    expect(info.response).toMatch(queuedReply(info.messageId));
    expect(await readBack(DEMO.bob.address, 'From the shared mailbox')).toContain('No reply.');
    expect(t.sandbox.mailboxes.list({ mailbox: 'internet' }).find((e) => e.subject === 'From the shared mailbox')?.envelope.rcptTo).toEqual(['someone@fabrikam.example']);
    mailer.close();
  });

  it('sends with XOAUTH2 and a delegated SMTP.Send token (device code flow)', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const result = await pca.acquireTokenByDeviceCode({ scopes: [SMTP_SEND_SCOPE], deviceCodeCallback: (r) => void submitDeviceLogin(t, r.userCode, DEMO.bob) });
    const mailer = transport({ type: 'OAuth2', user: DEMO.bob.address, accessToken: result!.accessToken });
    const info = await mailer.sendMail({ from: DEMO.bob.address, to: DEMO.alice.address, subject: 'Delegated XOAUTH2', text: 'Bob signed in once.' });
    expect(info.response).toMatch(queuedReply(info.messageId));
    expect(await readBack(DEMO.alice.address, 'Delegated XOAUTH2')).toContain('Bob signed in once.');
    mailer.close();
  });

  it('sends with AUTH LOGIN (basic auth) where the tenant still allows it', async () => {
    const mailer = transport({ user: DEMO.alice.address, pass: DEMO.alice.password, method: 'LOGIN' });
    const info = await mailer.sendMail({ from: DEMO.alice.address, to: DEMO.bob.address, subject: 'Basic auth', text: 'Username and password.' });
    expect(info.response).toMatch(queuedReply(info.messageId));
    expect(await readBack(DEMO.bob.address, 'Basic auth')).toContain('Username and password.');
    expect(t.sandbox.mailboxes.list({ mailbox: DEMO.alice.address, folder: 'SentItems' }).some((e) => e.subject === 'Basic auth')).toBe(true);
    mailer.close();
  });

  it('surfaces Microsoft refusals as nodemailer errors with the reply code and text', async () => {
    const mailer = transport({ user: DEMO.alice.address, pass: 'wrong', method: 'LOGIN' });
    const err = (await mailer.sendMail({ from: DEMO.alice.address, to: DEMO.bob.address, subject: 'x', text: 'x' }).catch((e: unknown) => e)) as { responseCode?: number; response?: string };
    expect(err.responseCode).toBe(535);
    expect(err.response).toMatch(errorReply('535 5.7.139 Authentication unsuccessful, the user credentials were incorrect.'));
    mailer.close();
  });
});
