// What Entra's handlers share: the tenant, the clock, the signing key, the grants and the settings.
import type { SandboxClock } from '../clock.js';
import type { TenantStore } from '../tenant/store.js';
import type { GrantStore } from './grants.js';
import type { SigningKeys } from './signing.js';

/** Lifetimes and intervals; Microsoft's values by default, shorter in tests. */
export interface EntraSettings {
  /** Access token lifetime. Default: 3599 s for app-only tokens, 60–90 min (random) for delegated ones. */
  accessTokenLifetimeSeconds?: number;
  /** A refresh token unused for this long is dead (AADSTS700082). Default 90 days. */
  refreshTokenInactivitySeconds: number;
  /** Authorization codes. Default 10 minutes. */
  authCodeLifetimeSeconds: number;
  /** Device codes (the user's 15 minutes). Default 900. */
  deviceCodeLifetimeSeconds: number;
  /** Polling interval announced with a device code. Default 5 s; tests use fractions of a second. */
  deviceCodeIntervalSeconds: number;
  /** id_token lifetime. Default 1 hour. */
  idTokenLifetimeSeconds: number;
}

export const DEFAULT_ENTRA_SETTINGS: EntraSettings = {
  refreshTokenInactivitySeconds: 90 * 24 * 3600,
  authCodeLifetimeSeconds: 600,
  deviceCodeLifetimeSeconds: 900,
  deviceCodeIntervalSeconds: 5,
  idTokenLifetimeSeconds: 3600,
};

export interface EntraContext {
  readonly tenants: TenantStore;
  readonly clock: SandboxClock;
  readonly keys: SigningKeys;
  readonly grants: GrantStore;
  readonly settings: EntraSettings;
}
