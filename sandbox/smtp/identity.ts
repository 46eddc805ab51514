// Who the client is talking to: Microsoft's server names, session ids and date formats.
//
// Exchange Online answers from a front-end server whose name appears in three places: the
// greeting (`SN4PR06CA0017.outlook.office365.com`), the trailer of every error reply
// (`[SN4PR06CA0017.namprd06.prod.outlook.com 2024-06-04T10:00:00.123Z 08DC84A1B2C3D4E5]`), and
// `Hostname=` of the final 250, which names the mailbox server that stored the message. Each
// connection lands on a server picked at random, as a client of Microsoft sees it.
import { randomBytes, randomInt } from 'node:crypto';

export type SmtpEndpointName = 'submission' | 'mx';

export interface ServerIdentity {
  /** The machine name, e.g. SN4PR06CA0017. */
  readonly machine: string;
  /** The name in the greeting and in the EHLO reply. */
  readonly greetingName: string;
  /** The front end's full name, in the trailer of error replies. */
  readonly fqdn: string;
  /** The mailbox server's full name, in `250 2.0.0 OK <id> [Hostname=...]`. */
  readonly mailboxServer: string;
}

const REGIONS = [
  { site: 'SN4PR', datacenter: 'namprd' },
  { site: 'BN9PR', datacenter: 'namprd' },
  { site: 'AM0PR', datacenter: 'eurprd' },
  { site: 'DB8PR', datacenter: 'eurprd' },
] as const;

const hex = (bytes: number) => randomBytes(bytes).toString('hex').toUpperCase();
const digits = (n: number, width: number) => String(n).padStart(width, '0');

export function newServerIdentity(endpoint: SmtpEndpointName): ServerIdentity {
  const region = REGIONS[randomInt(REGIONS.length)]!;
  const ring = digits(randomInt(1, 20), 2);
  const dc = `${region.datacenter}${ring}.prod.outlook.com`;
  const mailboxServer = `${region.site}${ring}MB${digits(randomInt(1000, 9999), 4)}.${dc}`;
  if (endpoint === 'mx') {
    // Exchange Online Protection's front ends: AM4PEPF00027A5F.mail.protection.outlook.com
    const machine = `${region.site.slice(0, 3)}PEPF0000${hex(2)}${hex(1).slice(0, 1)}`;
    return { machine, greetingName: `${machine}.mail.protection.outlook.com`, fqdn: `${machine}.${dc}`, mailboxServer };
  }
  const machine = `${region.site}${ring}CA${digits(randomInt(0, 9999), 4)}`;
  return { machine, greetingName: `${machine}.outlook.office365.com`, fqdn: `${machine}.${dc}`, mailboxServer };
}

/** A session id as Exchange prints it in the greeting and error trailers: 16 upper-case hex digits. */
export function newSessionId(): string {
  return `08DD${hex(6)}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** The greeting's date: `Tue, 4 Jun 2024 10:00:00 +0000` (RFC 5322, UTC, day not zero-padded). */
export function rfcDate(d: Date): string {
  const time = [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()].map((n) => digits(n, 2)).join(':');
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${time} +0000`;
}

/** The trailer Exchange puts at the end of every 4xx/5xx reply: ` [<host> <ISO-8601 ms>Z <session id>]`. */
export function errorTrailer(identity: ServerIdentity, at: Date, sessionId: string): string {
  return ` [${identity.fqdn} ${at.toISOString()} ${sessionId}]`;
}
