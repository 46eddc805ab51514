/**
 * What an app may send: its senders, its recipients, its default domain. Each check
 * returns null (allowed) or the refusal the client gets, naming the address and the rule,
 * so the sending application's log says exactly what to change.
 */
import type { Originators } from '../mime/from-header.js';
import type { App } from './apps.js';
import { addressMatches, bareLocalPart, domainMatches, domainOf, notADomain } from './addresses.js';

export interface Refusal {
  code: number;
  enhanced: string;
  text: string;
}

const refuse = (code: number, enhanced: string, text: string): Refusal => ({ code, enhanced, text });

/** SAP SCOT's default domain: a bare local part gets the app's domain. */
export function withDefaultDomain(app: App, address: string): string {
  const local = bareLocalPart(address);
  if (local === null) return address;
  return app.config.defaultDomain ? `${local}@${app.config.defaultDomain}` : local;
}

export function checkSender(app: App, address: string): Refusal | null {
  if (!address) return null; // the null sender of bounces
  if (!address.includes('@')) {
    return refuse(553, '5.1.7', `Sender <${address}> has no domain; give apps.${app.name}.defaultDomain, or send from a full address`);
  }
  const why = notADomain(address.slice(address.lastIndexOf('@') + 1));
  if (why) return refuse(553, '5.1.7', `Sender <${address}>: ${why}`);
  const allowed = app.config.senders;
  if (allowed.length && !addressMatches(address, allowed)) {
    return refuse(550, '5.7.1', `Sender <${address}> is not allowed for app ${app.name} (apps.${app.name}.senders: ${allowed.join(', ')})`);
  }
  return null;
}

/**
 * The message's From and Sender headers (null when they were not read): one of each at most,
 * as RFC 5322 allows, and with from rules every address in them allowed — not just the first.
 */
export function checkHeaderFrom(app: App, found: Originators | null): Refusal | null {
  for (const [header, count] of [['From', found?.fromHeaders ?? 0], ['Sender', found?.senderHeaders ?? 0]] as const) {
    if (count > 1) return refuse(550, '5.6.0', `The message has ${count} ${header} headers; RFC 5322 allows one`);
  }
  const allowed = app.config.from;
  if (!allowed.length) return null;
  const rule = `(apps.${app.name}.from: ${allowed.join(', ')})`;
  if (!found?.fromHeaders) return refuse(550, '5.7.1', `The message has no From header; app ${app.name} may only send from ${allowed.join(', ')} (apps.${app.name}.from)`);
  if (!found.from.length) return refuse(550, '5.7.1', `The message's From header has no address; app ${app.name} may only send from ${allowed.join(', ')} (apps.${app.name}.from)`);
  for (const [header, addresses] of [['From', found.from], ['Sender', found.sender]] as const) {
    const other = addresses.find((a) => !addressMatches(a.address, allowed));
    if (other) return refuse(550, '5.7.1', `Header ${header} <${other.address}> is not allowed for app ${app.name} ${rule}`);
  }
  return null;
}

export function checkRecipient(app: App, address: string, already: number): Refusal | null {
  if (!address.includes('@')) {
    return refuse(553, '5.1.3', `Recipient <${address}> has no domain; give apps.${app.name}.defaultDomain, or send to full addresses`);
  }
  const why = notADomain(address.slice(address.lastIndexOf('@') + 1));
  if (why) return refuse(553, '5.1.3', `Recipient <${address}>: ${why}`);
  const { allowDomains, denyDomains, maxPerMessage } = app.config.recipients;
  const domain = domainOf(address);
  if (denyDomains.length && domainMatches(domain, denyDomains)) {
    return refuse(550, '5.7.1', `Recipient domain ${domain} is not allowed for app ${app.name} (apps.${app.name}.recipients.denyDomains)`);
  }
  if (allowDomains.length && !domainMatches(domain, allowDomains)) {
    return refuse(550, '5.7.1', `Recipient domain ${domain} is not allowed for app ${app.name} (apps.${app.name}.recipients.allowDomains: ${allowDomains.join(', ')})`);
  }
  if (maxPerMessage !== undefined && already >= maxPerMessage) {
    return refuse(452, '4.5.3', `Too many recipients: app ${app.name} may send to at most ${maxPerMessage} per message (apps.${app.name}.recipients.maxPerMessage); send the rest in another message`);
  }
  return null;
}
