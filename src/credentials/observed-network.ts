/**
 * msal-node's HTTP client (MsalNetworkClient, with the route's extra CAs), watched: it keeps the
 * status and Retry-After of the last token response, or why there was none. msal-node reports
 * Entra ID's error body but not its headers (the Retry-After of a 429/503 tells the relay when to
 * try again), and replaces a network failure by a bare "network_error" (the reason, such as a
 * refused connection or an untrusted certificate, is what the admin needs). One provider makes
 * one token request at a time (single flight), so "the last token request" is always the one a
 * failure is about.
 */
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { MsalNetworkClient } from './network-client.js';

export type TokenResponseSeen =
  | {
      status: number;
      /** Seconds, from Retry-After (delta-seconds or an HTTP date); null when absent. */
      retryAfterSeconds: number | null;
    }
  | { status: null; failure: string };

export class ObservedNetworkClient implements INetworkModule {
  private readonly inner: MsalNetworkClient;
  private last: TokenResponseSeen | null = null;

  constructor(extraCa: readonly string[]) {
    this.inner = new MsalNetworkClient({ extraCa });
  }

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.inner.sendGetRequestAsync<T>(url, options, timeout);
  }

  async sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    this.last = null;
    try {
      const response = await this.inner.sendPostRequestAsync<T>(url, options);
      this.last = { status: response.status, retryAfterSeconds: parseRetryAfter(headerOf(response.headers, 'retry-after')) };
      return response;
    } catch (e) {
      this.last = { status: null, failure: failureReason(e) };
      throw e;
    }
  }

  /** Forgets the last response, before a request that msal-node may answer without asking (its throttle cache). */
  forget(): void {
    this.last = null;
  }

  /** The last token request's answer (status, Retry-After) or failure; null when msal-node sent none. */
  lastResponse(): TokenResponseSeen | null {
    return this.last;
  }

  close(): void {
    this.inner.close();
  }
}

/** The reason MsalNetworkClient gives, without its "Network request failed: " prefix. */
function failureReason(e: unknown): string {
  const fields = e as { errorMessage?: unknown; message?: unknown };
  const candidates = [fields.errorMessage, fields.message].filter((v): v is string => typeof v === 'string');
  const reason = candidates.find((v) => v.startsWith('Network request failed: ')) ?? candidates.find((v) => !v.startsWith('See https://aka.ms')) ?? String(e);
  return reason.replace(/^Network request failed: /, '');
}

function headerOf(headers: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110 10.2.3). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (value === undefined || value.trim() === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}
