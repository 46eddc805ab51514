/**
 * msal-node's failures as TokenErrors: the AADSTS number and OAuth error when Entra ID answered,
 * the HTTP status and Retry-After the network client saw, or the network failure when it did
 * not answer. The message is one line an admin can read: Entra's own sentence, without the
 * trace and correlation lines (those stay in the error's cause for support cases).
 */
import { TokenError } from './token.js';
import type { TokenResponseSeen } from './observed-network.js';

/** msal-node's errors carry these; ServerError adds errorNo and status. */
interface MsalErrorFields {
  errorCode?: string;
  errorMessage?: string;
  errorNo?: string | number;
  status?: number;
  subError?: string;
}

export function toTokenError(error: unknown, seen: TokenResponseSeen | null, tokenEndpoint: string): TokenError {
  if (error instanceof TokenError) return error;
  const e = (error ?? {}) as MsalErrorFields & { message?: string };
  const code = e.errorCode ?? '';
  const text = e.errorMessage ?? e.message ?? String(error);
  const answered = seen !== null && seen.status !== null ? seen : null;
  const status = e.status ?? answered?.status ?? null;
  const retryAfter = status !== null && (status === 429 || status >= 500) ? (answered?.retryAfterSeconds ?? null) : null;

  if (code === 'network_error' || (seen !== null && seen.status === null)) {
    const reason = seen !== null && seen.status === null ? seen.failure : text;
    return new TokenError(`Could not reach Entra ID at ${tokenEndpoint}: ${reason}`, null, 'network_error', null, { cause: error });
  }
  const aadsts = aadstsOf(e, text);
  if (aadsts !== null || status !== null) {
    // A throttled request answered from msal-node's own cache has the AADSTS numbers as its code.
    const oauthError = /^\d+( \d+)*$/.test(code) ? 'throttled' : code || 'server_error';
    const sentence = describeAadsts(text) ?? text;
    const where = status !== null ? `HTTP ${status}, ` : '';
    return new TokenError(`Entra ID refused the token request (${where}${oauthError}): ${sentence}`, aadsts, oauthError, retryAfter, { cause: error, status });
  }
  return new TokenError(`msal-node could not get a token: ${code ? `${code}: ` : ''}${text}`, null, code || 'client_error', null, { cause: error });
}

function aadstsOf(e: MsalErrorFields, text: string): string | null {
  if (e.errorNo !== undefined && e.errorNo !== '' && /^\d+$/.test(String(e.errorNo))) return String(e.errorNo);
  const inCode = /^(\d+)/.exec(e.errorCode ?? '')?.[1];
  if (inCode) return inCode;
  return /AADSTS(\d+)/.exec(text)?.[1] ?? null;
}

/** "AADSTS7000215: Invalid client secret provided. …" without the Trace/Correlation/Timestamp lines. */
function describeAadsts(text: string): string | null {
  const match = /AADSTS\d+:[^\r\n]*/.exec(text);
  return match ? match[0].replace(/\s+-\s+(Correlation|Trace) ID:.*$/, '').trim() : null;
}
