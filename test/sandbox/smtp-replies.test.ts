// The facts file's SMTP table, row by row: the tenant state that produces each refusal, and
// the exact reply (its text, then Microsoft's trailer) a client gets.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tenant } from '../../sandbox/tenant/schema.js';
import { DEMO, useSandbox } from '../helpers/sandbox.js';
import { allowSmtpAuth, appOnlyToken, b64, errorReply, messageData, queuedReply, RawSmtpClient, securedClient, sendMessage, signedInClient, xoauth2 } from '../helpers/sandbox-smtp.js';

const NOREPLY = 'noreply@contoso.example';
// Basic auth and SMTP AUTH still on for the organisation, put back before each test: each test switches off what it needs.
const t = useSandbox({ tenant: allowSmtpAuth });
const { edit } = t;
let token: string;
beforeAll(async () => {
  token = await appOnlyToken(t);
});
const mailbox = (draft: Tenant, address: string) => draft.mailboxes.find((m) => m.address === address)!;

async function oauth(user: string, accessToken = token): Promise<string> {
  const client = await securedClient(t);
  const reply = await client.command(`AUTH XOAUTH2 ${xoauth2(user, accessToken)}`);
  client.close();
  return reply;
}

async function login(user: string, password: string): Promise<string> {
  const client = await securedClient(t);
  await client.command('AUTH LOGIN');
  await client.command(b64(user));
  const reply = await client.command(b64(password));
  client.close();
  return reply;
}

describe('AUTH rows', () => {
  it('535 5.7.3: the Exchange service principal is missing, or registered with the wrong object id', async () => {
    edit((d) => {
      d.exchange.servicePrincipals[0]!.objectId = '11111111-2222-4333-8444-555555555555'; // the app registration's id, the classic mistake
    });
    expect(await oauth(DEMO.relay.address)).toMatch(errorReply('535 5.7.3 Authentication unsuccessful'));
    edit((d) => {
      d.exchange.servicePrincipals = [];
    });
    expect(await oauth(DEMO.relay.address)).toMatch(errorReply('535 5.7.3 Authentication unsuccessful'));
  });

  it('535 5.7.3 without FullAccess on the user= mailbox; RBAC for Applications can grant it instead', async () => {
    edit((d) => {
      d.exchange.mailboxPermissions = d.exchange.mailboxPermissions.filter((p) => p.mailbox !== DEMO.relay.address);
    });
    expect(await oauth(DEMO.relay.address)).toMatch(errorReply('535 5.7.3 Authentication unsuccessful'));
    edit((d) => {
      d.exchange.managementRoleAssignments = [{ role: 'Application SMTP.SendAsApp', app: DEMO.appOnly.clientId, recipients: [DEMO.alice.address] }];
    });
    expect(await oauth(DEMO.relay.address)).toMatch(errorReply('535 5.7.3 Authentication unsuccessful'));
    expect(await oauth(DEMO.alice.address)).toBe('235 2.7.0 Authentication successful');
  });

  it('535 5.7.139 the user credentials were incorrect: wrong password, unknown user, shared mailbox', async () => {
    for (const [user, password] of [[DEMO.alice.address, 'wrong'], ['nobody@contoso.example', 'x'], [NOREPLY, '']] as const) {
      expect(await login(user, password)).toMatch(errorReply('535 5.7.139 Authentication unsuccessful, the user credentials were incorrect.'));
    }
    expect(await login(DEMO.alice.address, DEMO.alice.password)).toBe('235 2.7.0 Authentication successful');
  });

  it('535 5.7.139 SmtpClientAuthentication is disabled for the Tenant: basic and OAuth alike', async () => {
    edit((d) => {
      d.organization.smtpClientAuthenticationDisabled = true;
    });
    const text = '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.';
    expect(await login(DEMO.alice.address, DEMO.alice.password)).toMatch(errorReply(text));
    expect(await oauth(NOREPLY)).toMatch(errorReply(text));
    // The relay mailbox enables SMTP AUTH for itself: the mailbox setting wins.
    expect(await oauth(DEMO.relay.address)).toBe('235 2.7.0 Authentication successful');
  });

  it('535 5.7.139 SmtpClientAuthentication is disabled for the Mailbox, even where the tenant allows it', async () => {
    edit((d) => {
      mailbox(d, DEMO.alice.address).smtpClientAuthenticationDisabled = true;
      mailbox(d, DEMO.relay.address).smtpClientAuthenticationDisabled = true;
    });
    const text = '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.';
    expect(await login(DEMO.alice.address, DEMO.alice.password)).toMatch(errorReply(text));
    expect(await oauth(DEMO.relay.address)).toMatch(errorReply(text));
  });

  it('535 5.7.139 basic authentication is disabled (authentication policy); OAuth is unaffected', async () => {
    edit((d) => {
      d.organization.basicAuthAllowed = false;
    });
    expect(await login(DEMO.alice.address, DEMO.alice.password)).toMatch(errorReply('535 5.7.139 Authentication unsuccessful, basic authentication is disabled.'));
    expect(await oauth(DEMO.relay.address)).toBe('235 2.7.0 Authentication successful');
  });

  it('535 5.7.139 locked by Security Defaults', async () => {
    edit((d) => {
      d.organization.securityDefaults = true;
    });
    expect(await login(DEMO.alice.address, DEMO.alice.password)).toMatch(
      errorReply("535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator."),
    );
  });

  it('535 5.7.139 the request did not meet the criteria: Conditional Access block, or MFA required', async () => {
    edit((d) => {
      mailbox(d, DEMO.alice.address).conditionalAccessBlocked = true;
      mailbox(d, DEMO.bob.address).mfaRequired = true;
    });
    const text = '535 5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully. Contact your administrator.';
    expect(await login(DEMO.alice.address, DEMO.alice.password)).toMatch(errorReply(text));
    expect(await login(DEMO.bob.address, DEMO.bob.password)).toMatch(errorReply(text));
  });

  it('550 5.7.30 once basic auth is retired, whatever else is set; OAuth still works', async () => {
    edit((d) => {
      d.organization.basicAuthRetired = true;
    });
    expect(await login(DEMO.alice.address, DEMO.alice.password)).toMatch(errorReply('550 5.7.30 Basic authentication is not supported for Client Submission.'));
    expect(await login(DEMO.alice.address, 'wrong')).toMatch(errorReply('550 5.7.30 Basic authentication is not supported for Client Submission.'));
    expect(await oauth(DEMO.relay.address)).toBe('235 2.7.0 Authentication successful');
  });
});

describe('MAIL and RCPT rows', () => {
  it('530 5.7.57 Client not authenticated to send mail.', async () => {
    const client = await securedClient(t);
    expect(await client.command(`MAIL FROM:<${DEMO.relay.address}>`)).toMatch(errorReply('530 5.7.57 Client not authenticated to send mail.'));
    client.close();
  });

  it('550 5.7.60 for an envelope sender that is not the signed-in mailbox and has no Send As', async () => {
    const client = await signedInClient(t, DEMO.relay.address, token);
    for (const sender of [DEMO.alice.address, 'someone@fabrikam.example']) {
      expect(await client.command(`MAIL FROM:<${sender}>`)).toMatch(errorReply('550 5.7.60 SMTP; Client does not have permissions to send as this sender'));
    }
    // relay holds Send As on noreply (Add-RecipientPermission), and its own alias-free address works.
    expect(await client.command(`MAIL FROM:<${NOREPLY}>`)).toBe('250 2.1.0 Sender OK');
    expect(await client.command('RSET')).toBe('250 2.0.0 Resetting');
    expect(await client.command(`MAIL FROM:<${DEMO.relay.address}>`)).toBe('250 2.1.0 Sender OK');
    client.close();
  });

  it('550 5.5.3 for the 501st recipient of a message', async () => {
    const client = await signedInClient(t, DEMO.relay.address, token);
    expect(await client.command(`MAIL FROM:<${DEMO.relay.address}>`)).toBe('250 2.1.0 Sender OK');
    const rcpts = Array.from({ length: 501 }, (_, i) => `RCPT TO:<user${i}@fabrikam.example>\r\n`).join('');
    client.write(rcpts); // PIPELINING: all at once, replies in order
    const replies: string[] = [];
    for (let i = 0; i < 501; i++) replies.push(await client.read());
    expect(replies.slice(0, 500).every((r) => r === '250 2.1.5 Recipient OK')).toBe(true);
    expect(replies[500]).toMatch(errorReply('550 5.5.3 RESOLVER.ADR.RecipLimit; too many recipients'));
    client.close();
  });

  it('refuses an accepted-domain recipient that has no mailbox (not in the facts file: 550 5.1.10)', async () => {
    const client = await signedInClient(t, DEMO.relay.address, token);
    await client.command(`MAIL FROM:<${DEMO.relay.address}>`);
    expect(await client.command('RCPT TO:<nobody@contoso.example>')).toMatch(errorReply('550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'));
    client.close();
  });
});

describe('DATA rows', () => {
  const send = async (headers: Record<string, string>, body?: string, from = DEMO.relay.address) => {
    const client = await signedInClient(t, DEMO.relay.address, token);
    const replies = await sendMessage(client, { from, to: [DEMO.alice.address] }, messageData(headers, body));
    client.close();
    return replies;
  };

  it('554 5.2.252 SendAsDenied for a header From the session may not send as', async () => {
    const replies = await send({ From: `Alice <${DEMO.alice.address}>`, To: DEMO.alice.address, Subject: 'spoof' });
    expect(replies.at(-1)).toMatch(
      errorReply(
        `554 5.2.252 SendAsDenied; ${DEMO.relay.address} not allowed to send as ${DEMO.alice.address}; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message.`,
      ),
    );
    expect(t.sandbox.mailboxes.list({ mailbox: DEMO.alice.address }).some((e) => e.subject === 'spoof')).toBe(false);
    expect((await send({ From: `"No reply" <${NOREPLY}>`, Subject: 'send as' })).at(-1)).toMatch(queuedReply());
  });

  it('554 5.2.2 mailbox full when the sending mailbox is over its quota', async () => {
    edit((d) => {
      mailbox(d, DEMO.relay.address).full = true;
    });
    expect((await send({ From: DEMO.relay.address, Subject: 'full' })).at(-1)).toMatch(
      errorReply('554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded'),
    );
  });

  it("552 5.3.4 for a message over the mailbox's MaxSendSize, after DATA and at MAIL FROM SIZE=", async () => {
    edit((d) => {
      mailbox(d, DEMO.relay.address).maxSendSize = 2000;
    });
    expect((await send({ From: DEMO.relay.address, Subject: 'big' }, 'x'.repeat(3000))).at(-1)).toMatch(errorReply('552 5.3.4 Message size exceeds fixed maximum message size'));
    const client = await signedInClient(t, DEMO.relay.address, token);
    expect(await client.command(`MAIL FROM:<${DEMO.relay.address}> SIZE=5000`)).toMatch(errorReply('552 5.3.4 Message size exceeds fixed maximum message size'));
    client.close();
  });

  it('552 5.3.4 Header size exceeds fixed maximum size for headers over 256 KB', async () => {
    const filler = Array.from({ length: 3500 }, (_, i) => `filler line ${i} ${'y'.repeat(60)}`).join('\r\n ');
    const replies = await send({ From: DEMO.relay.address, Subject: 'huge headers', 'X-Filler': filler });
    expect(replies.at(-1)).toMatch(errorReply('552 5.3.4 Header size exceeds fixed maximum size'));
    const justUnder = Array.from({ length: 3000 }, (_, i) => `filler line ${i} ${'y'.repeat(60)}`).join('\r\n ');
    expect((await send({ From: DEMO.relay.address, Subject: 'big headers', 'X-Filler': justUnder })).at(-1)).toMatch(queuedReply());
  });
});

describe('the rest of the protocol in Exchange words (not in the facts file)', () => {
  it('answers unknown commands, commands out of order and BDAT', async () => {
    const client = await RawSmtpClient.connect(t.sandbox.ports.submission!);
    await client.read();
    expect(await client.command(`MAIL FROM:<${DEMO.relay.address}>`)).toMatch(errorReply('503 5.5.2 Send hello first'));
    await client.command('EHLO client.example');
    expect(await client.command('VRFY alice')).toMatch(errorReply("500 5.3.3 Unrecognized command 'VRFY'"));
    expect(await client.command('BDAT 10 LAST')).toMatch(errorReply("500 5.3.3 Unrecognized command 'BDAT'"));
    expect(await client.command('NOOP')).toBe('250 2.0.0 OK');
    client.close();
  });
});
