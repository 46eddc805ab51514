/**
 * Who Graph sends a message to. Graph has no envelope: it sends to every address in the To, Cc
 * and Bcc headers (MIME) or recipient lists (JSON). The relay's recipients for this delivery are
 * the envelope's (RCPT TO, minus those already delivered, refused, routed elsewhere or in another
 * submission of a long list), so before Graph sees a message its recipients are made exactly the
 * envelope's:
 * - To and Cc keep the addresses that are envelope recipients (untouched when all of them are);
 * - envelope recipients that no To or Cc names go into one Bcc header, which Exchange removes
 *   from the copies recipients get, as an SMTP server ignores headers and follows the envelope;
 * - To and Cc addresses that are not envelope recipients are left out of this submission (sending
 *   to them would deliver twice, or to someone the relay was not asked to send to).
 */
import { parseAddressHeader, type EmailAddress } from 'mailparser';

export interface Person {
  address: string;
  name?: string;
}

export interface RecipientPlan {
  to: Person[];
  cc: Person[];
  /** Envelope recipients no To or Cc names. */
  bcc: Person[];
  /** Header addresses that are not envelope recipients: not sent to. */
  leftOut: string[];
}

const norm = (a: string) => a.trim().toLowerCase();

/** Every mailbox of an address list, groups opened. */
export function people(list: readonly EmailAddress[] | undefined): Person[] {
  return (list ?? []).flatMap((e) => (e.group ? people(e.group) : e.address ? [{ address: e.address, ...(e.name ? { name: e.name } : {}) }] : []));
}

export function planRecipients(header: { to: Person[]; cc: Person[]; bcc: Person[] }, envelope: readonly string[]): RecipientPlan {
  const wanted = new Set(envelope.map(norm));
  const seen = new Set<string>();
  const keep = (list: Person[]) =>
    list.filter((p) => {
      const a = norm(p.address);
      if (!wanted.has(a) || seen.has(a)) return false;
      seen.add(a);
      return true;
    });
  const to = keep(header.to);
  const cc = keep(header.cc);
  const bccNames = new Map(header.bcc.map((p) => [norm(p.address), p]));
  const bcc = envelope.filter((a) => !seen.has(norm(a))).map((a) => bccNames.get(norm(a)) ?? { address: a });
  const leftOut = [...new Set([...header.to, ...header.cc, ...header.bcc].map((p) => norm(p.address)).filter((a) => !wanted.has(a)))];
  return { to, cc, bcc, leftOut };
}

export interface RewrittenMessage {
  message: Buffer;
  plan: RecipientPlan;
  changed: boolean;
  /** The header From's address, when there is one. */
  from?: string;
}

/** A MIME message (whole, in memory: the small-message path) with its recipient headers made the envelope's. */
export function withEnvelopeRecipients(raw: Buffer, envelope: readonly string[]): RewrittenMessage {
  const end = headerEnd(raw);
  const fields = splitFields(raw.subarray(0, end.headers).toString('latin1'));
  const parsed = (name: string) => fields.filter((f) => f.name === name).flatMap((f) => people(parseAddressHeader(utf8(f.value), { flatten: true, decodePunycode: false }).value));
  const header = { to: parsed('to'), cc: parsed('cc'), bcc: parsed('bcc') };
  const plan = planRecipients(header, envelope);
  const fromAddress = parsed('from')[0]?.address;
  const from = fromAddress ? { from: fromAddress } : {};

  const keptIn = (f: Field) => people(parseAddressHeader(utf8(f.value), { flatten: true, decodePunycode: false }).value);
  const inPlan = new Set([...plan.to, ...plan.cc].map((p) => norm(p.address)));
  const existingBcc = header.bcc.map((p) => norm(p.address)).sort().join(',');
  const plannedBcc = plan.bcc.map((p) => norm(p.address)).sort().join(',');
  const toCcWhole = fields.filter((f) => f.name === 'to' || f.name === 'cc').every((f) => keptIn(f).every((p) => inPlan.has(norm(p.address))));
  if (toCcWhole && existingBcc === plannedBcc && plan.leftOut.length === 0) return { message: raw, plan, changed: false, ...from };

  const out: string[] = [];
  for (const f of fields) {
    if (f.name === 'bcc') continue;
    if (f.name !== 'to' && f.name !== 'cc') {
      out.push(f.text);
      continue;
    }
    const list = keptIn(f);
    if (list.every((p) => inPlan.has(norm(p.address)))) {
      out.push(f.text);
      continue;
    }
    const kept = (f.name === 'to' ? plan.to : plan.cc).filter((p) => list.some((q) => norm(q.address) === norm(p.address)));
    if (kept.length > 0) out.push(formatField(f.text.slice(0, f.text.indexOf(':')), kept));
  }
  if (plan.bcc.length > 0) out.push(formatField('Bcc', plan.bcc));
  const head = Buffer.from(out.map((line) => `${line}\r\n`).join(''), 'latin1');
  return { message: Buffer.concat([head, raw.subarray(end.headers)]), plan, changed: true, ...from };
}

interface Field {
  /** Lower-case name. */
  name: string;
  value: string;
  /** The field as it was, folding kept, without its final line break. */
  text: string;
}

function splitFields(block: string): Field[] {
  const lines = block.split(/\r?\n/).filter((l, i, all) => !(i === all.length - 1 && l === ''));
  const fields: Field[] = [];
  for (const line of lines) {
    const last = fields[fields.length - 1];
    if (/^[ \t]/.test(line) && last) {
      last.text += `\r\n${line}`;
      last.value += `\r\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    fields.push({ name: (colon > 0 ? line.slice(0, colon) : line).trim().toLowerCase(), value: colon > 0 ? line.slice(colon + 1) : '', text: line });
  }
  return fields;
}

/** Where the header block ends (its last line break included) and the body begins. */
function headerEnd(raw: Buffer): { headers: number } {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf < 0 && lf < 0) return { headers: raw.length };
  return crlf >= 0 && (lf < 0 || crlf < lf) ? { headers: crlf + 2 } : { headers: lf + 1 };
}

const utf8 = (latin1: string) => Buffer.from(latin1, 'latin1').toString('utf8');

/** `Name: "Display" <a@b>,\r\n <c@d>` — display names quoted, or as RFC 2047 encoded words when not ASCII. */
function formatField(name: string, list: Person[]): string {
  const one = (p: Person) => {
    if (!p.name) return `<${p.address}>`;
    const display = /^[\x20-\x7e]*$/.test(p.name) ? `"${p.name.replace(/(["\\])/g, '\\$1')}"` : `=?UTF-8?B?${Buffer.from(p.name, 'utf8').toString('base64')}?=`;
    return `${display} <${p.address}>`;
  };
  return Buffer.from(`${name}: ${list.map(one).join(',\r\n ')}`, 'utf8').toString('latin1');
}
