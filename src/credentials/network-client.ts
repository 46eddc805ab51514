// The HTTP client msal-node uses to reach Entra ID, with extra trusted CAs.
//
// msal-node's default client is `fetch`, which cannot be given a CA per client. The relay needs
// one: to trust the sandbox's CA in tests and demos, or a corporate TLS-inspecting proxy's CA in
// production, without turning certificate verification off or touching the whole process
// (NODE_EXTRA_CA_CERTS). The extra CAs are added to Node's built-in roots, never replace them.
import { Agent, request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { AuthError, type INetworkModule, type NetworkRequestOptions, type NetworkResponse } from '@azure/msal-node';

export interface NetworkClientOptions {
  /** PEM certificates to trust in addition to Node's built-in roots. */
  extraCa?: ReadonlyArray<string | Buffer>;
  /** Time allowed for a whole request; msal-node passes its own for GETs. Default 30 s. */
  timeoutMs?: number;
}

/** The error code of failures raised here, as msal-node's own client names them. */
export const NETWORK_ERROR = 'network_error';

export class MsalNetworkClient implements INetworkModule {
  private readonly agent: Agent;
  private readonly timeoutMs: number;

  constructor(options: NetworkClientOptions = {}) {
    const extra = (options.extraCa ?? []).map((c) => c.toString());
    this.agent = new Agent({ keepAlive: true, ...(extra.length > 0 ? { ca: [...rootCertificates, ...extra] } : {}) });
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  /** Closes idle keep-alive connections (call when the relay shuts down). */
  close(): void {
    this.agent.destroy();
  }

  private send<T>(method: 'GET' | 'POST', url: string, options: NetworkRequestOptions | undefined, timeout?: number): Promise<NetworkResponse<T>> {
    const body = method === 'POST' ? (options?.body ?? '') : undefined;
    const headers: Record<string, string> = { ...(options?.headers ?? {}) };
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const limit = timeout ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, agent: this.agent, timeout: limit }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(networkError(`${method} ${url}: ${e.message}`)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const responseHeaders: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) responseHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
          let parsed: T;
          try {
            parsed = (text === '' ? {} : JSON.parse(text)) as T;
          } catch {
            // msal-node's own client fails the same way on a body that is not JSON (an HTML error page).
            reject(new AuthError('token_parsing_error', '', `${method} ${url} answered HTTP ${res.statusCode} with a body that is not JSON: ${text.slice(0, 200)}`));
            return;
          }
          resolve({ headers: responseHeaders, body: parsed, status: res.statusCode ?? 0 });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${limit} ms`)));
      req.on('error', (e) => reject(networkError(`${method} ${url}: ${e.message}`)));
      if (body !== undefined) req.end(body);
      else req.end();
    });
  }
}

function networkError(message: string): AuthError {
  return new AuthError(NETWORK_ERROR, '', `Network request failed: ${message}`);
}
