/** The Received trace header (RFC 5321 section 4.4) this relay puts in front of each message it passes on. */
import { isIPv6 } from 'node:net';

export interface ReceivedFacts {
  helo: string | null;
  clientAddress: string;
  hostname: string;
  id: string;
  tls: { protocol: string; cipher: string } | null;
  authenticated: boolean;
  /** smtp and http: a client handed it over; local: relay365 wrote it (a DSN, a notification). */
  via: 'smtp' | 'http' | 'local';
  /** Named in the header only when there is exactly one (several would disclose Bcc recipients). */
  recipients: string[];
  date: Date;
}

export function receivedHeader(facts: ReceivedFacts): string {
  const address = isIPv6(facts.clientAddress) ? `IPv6:${facts.clientAddress}` : facts.clientAddress;
  const only = facts.recipients.length === 1 ? `\r\n\tfor <${facts.recipients[0]}>` : '';
  if (facts.via === 'local') return `Received: by ${facts.hostname} (relay365) id ${facts.id}${only};\r\n\t${rfc5322Date(facts.date)}\r\n`;
  // RFC 3848's names for SMTP; mail from the HTTP submission API says HTTP(S).
  const protocol = facts.via === 'http' ? `HTTP${facts.tls ? 'S' : ''}` : `ESMTP${facts.tls ? 'S' : ''}${facts.authenticated ? 'A' : ''}`;
  const tls = facts.tls ? `\r\n\t(using ${facts.tls.protocol} with cipher ${facts.tls.cipher})` : '';
  const helo = (facts.helo ?? 'unknown').replace(/[^\x21-\x7e]/g, '?');
  return `Received: from ${helo} ([${address}])\r\n\tby ${facts.hostname} (relay365) with ${protocol} id ${facts.id}${tls}${only};\r\n\t${rfc5322Date(facts.date)}\r\n`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function rfc5322Date(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const zone = `${sign}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
  return `${DAYS[date.getDay()]}, ${date.getDate()} ${MONTHS[date.getMonth()]} ${date.getFullYear()} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${zone}`;
}
