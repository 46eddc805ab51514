/**
 * When a route's app credential runs out: the client secret's expiry as configured
 * (`credentials.secretExpires`, the date the portal shows) or the certificate's, read from the
 * certificate itself. An expired secret stops all mail of the route at once, so relay365 warns
 * 30 and 7 days before: in the log (ExpiryWatch, on start and at most daily after), in
 * `relay365 auth status`, and through credentialExpiries() for metrics and the console.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { CredentialsConfig } from '../config/routes.js';

/** Days before expiry at which relay365 warns, then warns louder. */
export const EXPIRY_WARNINGS_DAYS = [30, 7] as const;
const DAY = 86_400_000;
const CHECK_EVERY_MS = 6 * 3_600_000;

export type ExpiryLevel = 'ok' | 'in-30-days' | 'in-7-days' | 'expired';

export interface CredentialExpiry {
  route: string;
  kind: 'secret' | 'certificate';
  /** The config key that holds the credential. */
  key: string;
  expiresAt: number;
  /** Whole days left (negative once expired). */
  daysLeft: number;
  level: ExpiryLevel;
  /** A sentence for the admin; null while more than 30 days are left. */
  warning: string | null;
}

/** The route's credential expiry, or null when it has none that relay365 knows. */
export function expiryOf(route: string, credentials: Pick<CredentialsConfig, 'clientId' | 'clientSecret' | 'secretExpires' | 'certificate'>, now: number = Date.now()): CredentialExpiry | null {
  let kind: CredentialExpiry['kind'];
  let expiresAt: number;
  if (credentials.certificate) {
    const notAfter = certificateNotAfter(credentials.certificate.cert);
    if (notAfter === null) return null; // unreadable: the route reports that itself when it starts
    kind = 'certificate';
    expiresAt = notAfter;
  } else if (credentials.clientSecret && credentials.secretExpires) {
    kind = 'secret';
    expiresAt = Date.parse(credentials.secretExpires);
    if (Number.isNaN(expiresAt)) return null;
  } else {
    return null;
  }
  const key = `routes.${route}.credentials.${kind === 'secret' ? 'clientSecret' : 'certificate'}`;
  const daysLeft = Math.floor((expiresAt - now) / DAY);
  const level: ExpiryLevel = expiresAt <= now ? 'expired' : daysLeft < EXPIRY_WARNINGS_DAYS[1] ? 'in-7-days' : daysLeft < EXPIRY_WARNINGS_DAYS[0] ? 'in-30-days' : 'ok';
  return { route, kind, key, expiresAt, daysLeft, level, warning: warningFor(route, kind, key, credentials.clientId, expiresAt, daysLeft, level) };
}

/** Every OAuth route's credential expiry: what metrics and the console show. */
export function credentialExpiries(config: Pick<Config, 'routes'>, now: number = Date.now()): CredentialExpiry[] {
  return Object.entries(config.routes).flatMap(([name, route]) => {
    if (route.transport !== 'graph' && route.transport !== 'smtp-oauth') return [];
    const found = expiryOf(name, route.credentials, now);
    return found ? [found] : [];
  });
}

/**
 * Logs the route's expiry warning when relay365 starts, when the warning level rises, and once a
 * day while it lasts (a relay runs for months; one warning at start would scroll away).
 */
export class ExpiryWatch {
  private lastLevel: ExpiryLevel = 'ok';
  private lastAt = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly route: string,
    private readonly credentials: Pick<CredentialsConfig, 'clientId' | 'clientSecret' | 'secretExpires' | 'certificate'>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Checks now and every few hours until stop(); the timer never keeps the process alive. */
  start(): this {
    this.check();
    this.timer = setInterval(() => this.check(), CHECK_EVERY_MS);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  check(): CredentialExpiry | null {
    const now = this.now();
    const found = expiryOf(this.route, this.credentials, now);
    if (!found?.warning) {
      this.lastLevel = 'ok';
      return found;
    }
    if (found.level === this.lastLevel && now - this.lastAt < DAY) return found;
    this.lastLevel = found.level;
    this.lastAt = now;
    const fields = { route: this.route, credential: found.kind, expiresAt: new Date(found.expiresAt).toISOString(), daysLeft: found.daysLeft };
    if (found.level === 'in-30-days') this.log.warn(fields, found.warning);
    else this.log.error(fields, found.warning);
    return found;
  }
}

function certificateNotAfter(file: string): number | null {
  try {
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(readFileSync(file, 'utf8'))?.[0];
    return pem ? Date.parse(new X509Certificate(pem).validTo) : null;
  } catch {
    return null;
  }
}

function warningFor(route: string, kind: CredentialExpiry['kind'], key: string, clientId: string, expiresAt: number, daysLeft: number, level: ExpiryLevel): string | null {
  if (level === 'ok') return null;
  const what = kind === 'secret' ? `The client secret of app ${clientId} (${key})` : `The certificate of app ${clientId} (${key})`;
  const date = new Date(expiresAt).toISOString().slice(0, 10);
  const renew =
    kind === 'secret'
      ? `create a new client secret (Entra admin center > App registrations > the app > Certificates & secrets), put its Value into ${key} and its expiry into routes.${route}.credentials.secretExpires, and restart relay365`
      : `upload a new certificate to the app registration (Certificates & secrets > Certificates), point ${key} at it and restart relay365`;
  if (level === 'expired') return `${what} expired on ${date}: Entra ID refuses it and route ${route} delivers nothing. To fix: ${renew}.`;
  return `${what} expires on ${date}, in ${daysLeft} day${daysLeft === 1 ? '' : 's'}; then route ${route} stops delivering. Before then: ${renew}.`;
}
