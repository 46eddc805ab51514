/**
 * What the checks of one route share as they run in order: the settings, a DNS resolver, and what
 * the earlier checks found (the addresses the name resolved to, whether the port answered, the
 * access token and its claims) — a later check that needs what an earlier one could not find is
 * skipped with the reason instead of failing twice.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { DoctorConfig } from '../config/doctor.js';
import type { TokenClaims } from '../transports/m365/classify-smtp.js';
import type { DoctorResolver } from './resolver.js';
import type { RouteTarget } from './route-target.js';

export interface DoctorContext {
  config: Config;
  settings: DoctorConfig;
  resolver: DoctorResolver;
  /** The name this relay gives in EHLO. */
  ehloName: string;
  log: Logger;
  now: number;
}

export interface RouteState {
  target: RouteTarget;
  /** Addresses the endpoint's host resolved to; null when the DNS check failed. */
  addresses: string[] | null;
  /** The address that answered on the port; null when none did. */
  reachable: string | null;
  /** TLS worked as the route needs it (version, certificate). */
  tlsOk: boolean;
  /** The access token (never printed) and its claims, once the token check got one. */
  token: string | null;
  claims: TokenClaims | null;
  /** The CN and DNS names of a connector route's client certificate. */
  certificateNames: string[] | null;
}

export function newRouteState(target: RouteTarget): RouteState {
  return { target, addresses: null, reachable: null, tlsOk: false, token: null, claims: null, certificateNames: null };
}
