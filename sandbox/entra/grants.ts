// What Entra remembers between requests: authorization codes, device codes, refresh tokens,
// user consents, and each user's TokensValidFrom (moved by a password change or a revocation).
//
// Codes live minutes and stay in memory. Refresh tokens, consents and revocations are written to
// `<data>/entra/grants.json`, so a relay holding a refresh token keeps working across a sandbox
// restart, as it would against Microsoft.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The delegated request a code or device code was issued for. */
export interface DelegatedRequest {
  readonly clientId: string;
  /** The `scope` parameter as the client sent it. */
  readonly scope: string;
}

/** A completed interactive sign-in: who, when, and whether MFA was performed. */
export interface SignIn {
  readonly userId: string;
  readonly authTime: number;
  readonly mfa: boolean;
  readonly sessionId: string;
}

export interface AuthorizationCode extends DelegatedRequest, SignIn {
  readonly redirectUri: string;
  readonly codeChallenge?: string;
  readonly codeChallengeMethod?: 'S256' | 'plain';
  readonly nonce?: string;
  readonly expiresAt: number;
  redeemed: boolean;
}

/** An /authorize request waiting for the user to submit the sign-in page. */
export interface PendingAuthorization extends DelegatedRequest {
  readonly id: string;
  readonly redirectUri: string;
  readonly responseMode: 'query' | 'fragment' | 'form_post';
  readonly state?: string;
  readonly nonce?: string;
  readonly codeChallenge?: string;
  readonly codeChallengeMethod?: 'S256' | 'plain';
  readonly clientInfo: boolean;
  readonly loginHint?: string;
  readonly expiresAt: number;
}

export interface DeviceCode extends DelegatedRequest {
  readonly deviceCode: string;
  readonly userCode: string;
  readonly expiresAt: number;
  status: 'pending' | 'approved' | 'declined';
  signIn?: SignIn;
}

export interface RefreshToken extends SignIn {
  readonly token: string;
  readonly clientId: string;
  readonly issuedAt: number;
  /** When the token was redeemed for new tokens; a used token is rejected (rotation). */
  usedAt?: number;
}

interface PersistedGrants {
  refreshTokens: RefreshToken[];
  consents: string[];
  tokensValidFrom: Record<string, number>;
}

export class GrantStore {
  readonly authorizations = new Map<string, PendingAuthorization>();
  readonly codes = new Map<string, AuthorizationCode>();
  readonly deviceCodes = new Map<string, DeviceCode>();
  private refreshTokens = new Map<string, RefreshToken>();
  private consents = new Set<string>();
  private validFrom = new Map<string, number>();
  private saving: Promise<void> = Promise.resolve();

  private constructor(private readonly path: string) {}

  static async open(dataDir: string): Promise<GrantStore> {
    const dir = resolve(dataDir, 'entra');
    await mkdir(dir, { recursive: true });
    const store = new GrantStore(join(dir, 'grants.json'));
    try {
      const saved = JSON.parse(await readFile(store.path, 'utf8')) as PersistedGrants;
      store.refreshTokens = new Map(saved.refreshTokens.map((t) => [t.token, t]));
      store.consents = new Set(saved.consents);
      store.validFrom = new Map(Object.entries(saved.tokensValidFrom));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${store.path}: ${(e as Error).message}`);
    }
    return store;
  }

  /** A new opaque token, shaped like Microsoft's (a version prefix and base64url). */
  static newToken(bytes = 48): string {
    return `1.${randomBytes(bytes).toString('base64url')}`;
  }

  issueRefreshToken(clientId: string, signIn: SignIn, now: number): RefreshToken {
    // Only the sign-in's own fields: `signIn` may be a code or the previous refresh token.
    const { userId, authTime, mfa, sessionId } = signIn;
    const rt: RefreshToken = { token: GrantStore.newToken(96), clientId, issuedAt: now, userId, authTime, mfa, sessionId };
    this.refreshTokens.set(rt.token, rt);
    void this.save();
    return rt;
  }

  findRefreshToken(token: string): RefreshToken | undefined {
    return this.refreshTokens.get(token);
  }

  markUsed(rt: RefreshToken, now: number): void {
    rt.usedAt = now;
    void this.save();
  }

  hasConsent(userId: string, appId: string): boolean {
    return this.consents.has(`${userId}|${appId.toLowerCase()}`);
  }

  recordConsent(userId: string, appId: string): void {
    this.consents.add(`${userId}|${appId.toLowerCase()}`);
    void this.save();
  }

  /** Tokens issued before this time are revoked (AADSTS50173); undefined when never revoked. */
  tokensValidFrom(userId: string): number | undefined {
    return this.validFrom.get(userId);
  }

  /** Revokes every grant of the user, as a password change or Revoke-MgUserSignInSession does. */
  revokeUser(userId: string, now: number): void {
    this.validFrom.set(userId, now);
    void this.save();
  }

  /** Resolves when every change so far is on disk. */
  flushed(): Promise<void> {
    return this.saving;
  }

  private save(): Promise<void> {
    const snapshot: PersistedGrants = {
      refreshTokens: [...this.refreshTokens.values()],
      consents: [...this.consents],
      tokensValidFrom: Object.fromEntries(this.validFrom),
    };
    this.saving = this.saving
      .catch(() => undefined)
      .then(async () => {
        const tmp = `${this.path}.tmp`;
        await writeFile(tmp, JSON.stringify(snapshot), { mode: 0o600 });
        await rename(tmp, this.path);
      });
    return this.saving;
  }
}
