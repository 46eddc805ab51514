/** The console's calls to the JSON API: same origin, the session cookie, and the CSRF token on every change. */
export interface Problem {
  title: string;
  status: number;
  detail: string;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.title}: ${problem.detail}`);
  }
}

let csrf: string | null = null;
export const setCsrf = (token: string | null) => (csrf = token);

/**
 * The signed-in user's role: a read-only user is not shown buttons the API would refuse
 * (the API decides, src/admin/access.ts; this only keeps the page honest).
 */
let role: 'admin' | 'read-only' | null = null;
export const setRole = (value: typeof role) => (role = value);
export const mayAct = () => role === 'admin';

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const data = (await res.json().catch(() => null)) as unknown;
  if (!res.ok) throw new ApiError((data as Problem | null) ?? { title: 'Error', status: res.status, detail: res.statusText });
  return data as T;
}
