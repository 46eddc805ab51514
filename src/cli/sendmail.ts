/**
 * `relay365 sendmail` (also run as `sendmail` through a symlink): for cron jobs, scripts and
 * programs that pipe a message to sendmail. Takes sendmail's common flags, reads the message
 * from stdin and submits it over the relay's own SMTP listener (config `sendmail:`), as the
 * app it names, so the same rules apply as to any application. Exits only after the relay's
 * 250, which means the message is committed:
 *
 *   0   queued                       65  EX_DATAERR: no recipients, an empty or refused message
 *   64  EX_USAGE: an unknown flag    67  EX_NOUSER: a malformed or refused recipient
 *   75  EX_TEMPFAIL: the relay is unreachable or said 4xx (try again later; nothing was kept)
 *   78  EX_CONFIG: the config, or the app's credentials, are wrong; or the relay offers no TLS
 *       where the password would need it (nothing is sent then)
 *
 *   -t          recipients from To, Cc and Bcc (added to those given as arguments)
 *   -i, -oi     a line with a single "." does not end the message
 *   -f ADDR     envelope sender (also -fADDR, -r ADDR); default USER@HOST
 *   -F NAME     full name for the From header the message lacks
 *   -bm         deliver mail (the default; other -b modes are refused)
 *   -C FILE     relay365's config file (or --config, RELAY365_CONFIG)
 *   -v          print the relay's answer
 * -oem and every other -o/-O option, -N/-R/-V/-B/-L/-h with their values, -U, -m, -n are
 * accepted and ignored, as other sendmail implementations do.
 *
 * The app's password goes only through TLS: with `tls: starttls` a relay that does not upgrade
 * the connection gets neither the password nor the message, and `tls: none` is refused for a
 * relay that is not on this host. Cron runs this as a user who may read neither the master key
 * nor the routes' secret files, so of the config's secrets only sendmail.password is resolved.
 */
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import nodemailer from 'nodemailer';
import { ConfigError, loadConfig, type LoadedConfig } from '../config/load.js';
import { own } from '../config/own.js';
import { ADDRESS, envelopeFromHeaders } from '../mime/envelope-headers.js';
import { EXIT, reportConfigError } from './context.js';

export const EX_NOUSER = 67;

export interface SendmailOptions {
  fromHeaders: boolean;
  dotEnds: boolean;
  sender?: string;
  fullName?: string;
  config?: string;
  verbose: boolean;
  recipients: string[];
}

const USAGE = `usage: relay365 sendmail [-t] [-i] [-f sender] [-F name] [-C config] [-v] [recipient…] < message
  -t        recipients from To, Cc and Bcc (Bcc is removed)   -i, -oi  a lone "." does not end the message
  -f ADDR   envelope sender                                    -F NAME  full name for a From it adds
  -C FILE   relay365's config (sendmail: host, port, app, password)
exit: 0 queued, 64 usage, 65 bad message, 67 bad recipient, 75 try again later, 78 configuration
`;

/** Flags that take a value we ignore. */
const IGNORED_WITH_VALUE = new Set(['-N', '-R', '-V', '-B', '-L', '-h', '-X', '-O']);
const IGNORED = new Set(['-U', '-m', '-n', '-G', '-Am', '-Ac', '-odi', '-odb', '-odq', '-ob', '-oQ']);

function die(message: string, code: number): never {
  process.stderr.write(`sendmail: ${message}\n`);
  process.exit(code);
}

export function parseSendmailArgs(args: string[], config?: string): SendmailOptions {
  const options: SendmailOptions = { fromHeaders: false, dotEnds: true, verbose: false, recipients: [], ...(config ? { config } : {}) };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const value = (flag: string) => {
      const attached = arg.slice(flag.length);
      if (attached) return attached;
      const next = args[++i];
      if (next === undefined) die(`${flag} needs a value`, EXIT.usage);
      return next;
    };
    if (arg === '--') {
      options.recipients.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') options.recipients.push(arg);
    else if (arg === '--help') {
      process.stdout.write(USAGE);
      process.exit(EXIT.ok);
    } else if (arg === '-t') options.fromHeaders = true;
    else if (arg === '-i' || arg === '-oi') options.dotEnds = false;
    else if (arg === '-v') options.verbose = true;
    else if (arg.startsWith('-f') || arg.startsWith('-r')) options.sender = value(arg.slice(0, 2));
    else if (arg.startsWith('-F')) options.fullName = value('-F');
    else if (arg.startsWith('-C')) options.config = value('-C');
    else if (arg === '--config') options.config = value('--config');
    else if (arg.startsWith('--config=')) options.config = arg.slice('--config='.length);
    else if (arg === '-bm') continue;
    else if (arg.startsWith('-b')) die(`${arg} is not supported: relay365 sendmail only submits mail (-bm); see relay365 queue list for the queue`, EXIT.usage);
    else if (arg.startsWith('-o') || IGNORED.has(arg) || arg.startsWith('-q')) continue;
    else if (IGNORED_WITH_VALUE.has(arg.slice(0, 2))) value(arg.slice(0, 2));
    else die(`unknown option ${arg}`, EXIT.usage);
  }
  return options;
}

function loadFor(options: SendmailOptions): LoadedConfig {
  try {
    // The only secret sendmail needs; the others stay unread (their files, the master key).
    return loadConfig({ ...(options.config ? { path: options.config } : {}), secrets: ['sendmail.password'] });
  } catch (err) {
    if (err instanceof ConfigError) reportConfigError(err);
    throw err;
  }
}

/** The message as sent: CRLF line endings (cron writes LF), and without -i, cut at a line holding only ".". */
export function normaliseInput(input: Buffer, dotEnds: boolean): Buffer {
  let text = input.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  if (dotEnds) {
    const end = /(^|\r\n)\.\r\n|(^|\r\n)\.$/.exec(text);
    if (end) text = text.slice(0, end.index + (end[1] ?? end[2] ?? '').length);
  }
  if (!text.endsWith('\r\n')) text += '\r\n';
  return Buffer.from(text, 'latin1');
}

const isLoopback = (host: string) => ['127.0.0.1', '::1', 'localhost'].includes(host);
const plausible = (address: string) => ADDRESS.test(address) || /^[A-Za-z0-9._%+-]+$/.test(address);

export async function sendmail(args: string[], globalConfig?: string): Promise<void> {
  const options = parseSendmailArgs(args, globalConfig);
  const { config } = loadFor(options);
  const settings = config.sendmail;
  const listener = Object.values(config.listeners)[0];
  const host = settings?.host ?? (listener && !['0.0.0.0', '::', ''].includes(listener.host) ? listener.host : '127.0.0.1');
  const port = settings?.port ?? listener?.port;
  if (!port) die('no port to submit to: set sendmail.port (the first listener has port 0)', EXIT.config);
  const tls = settings?.tls ?? listener?.tls.mode ?? 'starttls';

  const user = userInfo().username;
  const machine = hostname();
  const sender = options.sender ?? (machine.includes('.') ? `${user}@${machine}` : user);
  if (sender !== '' && !plausible(sender)) die(`${sender}: the sender address is not valid (-f)`, EXIT.dataError);
  const bad = options.recipients.find((r) => !plausible(r));
  if (bad !== undefined) die(`${bad}: not a valid recipient address`, EX_NOUSER);

  const input = normaliseInput(readFileSync(0), options.dotEnds);
  const fromHeader = options.fullName ? `"${options.fullName.replace(/["\\\r\n]/g, '')}" <${sender}>` : sender;
  const parsed = await envelopeFromHeaders(input, { from: fromHeader, date: new Date(), messageIdDomain: machine.includes('.') ? machine : `${machine}.localdomain` });
  if (options.fromHeaders && parsed.malformed.length) die(`${parsed.malformed[0]}: not a valid recipient address (in the message's To, Cc or Bcc)`, EX_NOUSER);
  const recipients = [...new Set([...options.recipients, ...(options.fromHeaders ? parsed.recipients : [])])];
  if (!recipients.length) die(options.fromHeaders ? 'no recipients: the message has no To, Cc or Bcc, and none were given' : 'no recipients given (use -t to take them from the message)', EXIT.dataError);

  const app = settings?.app;
  // The app's AUTH user; a config on another machine than the relay may not list the app itself.
  const login = app ? (own(config.apps, app)?.auth?.user ?? app) : undefined;
  if (app && !settings?.password) die(`sendmail.password: needed to log in as app ${app}`, EXIT.config);
  if (login && tls === 'none' && !isLoopback(host)) {
    die(`sendmail.tls: none would send the password of app ${app} unencrypted to ${host}; use starttls or implicit (nothing was sent)`, EXIT.config);
  }
  const timeout = settings?.timeout ?? 60_000;
  const transport = nodemailer.createTransport({
    host,
    port,
    secure: tls === 'implicit',
    ignoreTLS: tls === 'none',
    // A password is never sent unencrypted: without a successful STARTTLS the session ends before AUTH.
    requireTLS: Boolean(login) && tls === 'starttls',
    // The local relay's certificate may be its generated self-signed one; a remote relay's is checked.
    tls: { rejectUnauthorized: !isLoopback(host) },
    ...(login ? { auth: { user: login, pass: settings?.password as string } } : {}),
    name: machine,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    logger: false,
  });
  try {
    const info = await transport.sendMail({ envelope: { from: sender, to: recipients }, raw: parsed.message });
    if (options.verbose) process.stdout.write(`${info.response}\n`);
    if (info.rejected.length) {
      const id = /queued as (\S+)/.exec(String(info.response))?.[1];
      die(`the relay refused ${info.rejected.join(', ')}${info.rejectedErrors?.[0] ? `: ${info.rejectedErrors[0].response ?? info.rejectedErrors[0].message}` : ''}; the message was queued${id ? ` as ${id}` : ''} for the others`, EX_NOUSER);
    }
  } catch (err) {
    const e = err as Error & { code?: string; responseCode?: number; response?: string; command?: string; rejected?: string[] };
    const said = e.response ?? e.message;
    if (e.code === 'ETLS') {
      const why = e.command === 'STARTTLS' && e.response ? `does not do STARTTLS (it said: ${e.response})` : `could not set up TLS (${e.message})`;
      die(`the relay at ${host}:${port} ${why}: ${login ? `the password of app ${app} was not sent, nor the message` : 'the message was not sent'}. Give that listener TLS (listeners.<name>.tls), or point sendmail.host/port at one that has it`, EXIT.config);
    }
    if (!e.responseCode || e.responseCode < 500) die(`the relay at ${host}:${port} did not take the message, try again later: ${said}`, EXIT.tempFail);
    if (e.code === 'EAUTH') die(`the relay refused the login as app ${app}: ${said} (check sendmail.password)`, EXIT.config);
    if (e.code === 'EENVELOPE' && e.command !== 'MAIL FROM') die(`the relay refused the recipient(s): ${said}`, EX_NOUSER);
    die(`the relay refused the message: ${said}`, EXIT.dataError);
  } finally {
    transport.close();
  }
}
