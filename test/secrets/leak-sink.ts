/**
 * The secret-leak scan's shared sink. Every relay log the test helpers see (in-process relays,
 * relay child processes, captured transport and credential logs, CLI output) is appended here,
 * and tests register the secrets they made up (master keys, secrets in files or variables). After
 * the whole suite, test/secrets/leak-scan.final.test.ts reads it all and fails on any secret or
 * token found: the registered ones, the demo tenant's, and anything shaped like a token.
 *
 * The folder is made once per vitest run (test/secrets/leak-dir.global.ts) and named in the
 * environment, so every worker process writes to the same place; outside vitest nothing is kept.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const LEAK_DIR_VARIABLE = 'RELAY365_TEST_LEAK_DIR';

const dir = () => process.env[LEAK_DIR_VARIABLE];

/** Keeps `text` (log lines, CLI output) from `source` for the final scan. */
export function recordForLeakScan(source: string, text: string): void {
  const d = dir();
  if (!d || !text) return;
  appendFileSync(join(d, `${process.pid}.log.jsonl`), `${JSON.stringify({ source, text })}\n`);
}

/** Secrets a test made up: the final scan looks for each of them (8 characters or more). */
export function registerSecrets(...secrets: string[]): void {
  const d = dir();
  if (!d) return;
  const worth = secrets.filter((s) => s.length >= 8);
  if (worth.length) appendFileSync(join(d, `${process.pid}.secrets.jsonl`), worth.map((s) => `${JSON.stringify(s)}\n`).join(''));
}

export interface Recorded {
  source: string;
  text: string;
}

/** Everything recorded in this run so far, and the registered secrets. */
export function recorded(): { logs: Recorded[]; secrets: string[] } {
  const d = dir();
  if (!d || !existsSync(d)) return { logs: [], secrets: [] };
  const lines = (suffix: string) =>
    readdirSync(d)
      .filter((f) => f.endsWith(suffix))
      .flatMap((f) => readFileSync(join(d, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown));
  return { logs: lines('.log.jsonl') as Recorded[], secrets: lines('.secrets.jsonl') as string[] };
}

/** Shapes that are tokens or secrets whatever their value: a leak of one the tests never named is still a leak. */
export const TOKEN_SHAPES: { name: string; pattern: RegExp }[] = [
  { name: 'a JWT (access or id token)', pattern: /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/ },
  { name: "an opaque Entra token (refresh token, code, device code: the sandbox's 1.<base64url>)", pattern: /(?<![\w.])1\.[A-Za-z0-9_-]{60,}/ },
  { name: 'an XOAUTH2 initial response (base64 of user=…\\x01auth=Bearer …)', pattern: /dXNlcj1[A-Za-z0-9+/=]{40,}/ },
  { name: 'a bearer token', pattern: /Bearer\s+[A-Za-z0-9._~+/-]{20,}/ },
  { name: 'an OAuth form field with a secret', pattern: /(client_secret|refresh_token|code_verifier|client_assertion|device_code)=[^&\s"]{8,}/ },
  { name: 'a JSON refresh token', pattern: /"refresh_token"\s*:\s*"(?!\[secret\]")[^"]{8,}"/ }, // "[secret]": what the logger leaves
  { name: 'a private key', pattern: /-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/ },
];

export interface Leak {
  source: string;
  what: string;
  /** The line around the leak, with the secret itself masked (the report must not leak it again). */
  context: string;
}

export function scanForLeaks(logs: Recorded[], secrets: string[]): Leak[] {
  const leaks: Leak[] = [];
  const unique = [...new Set(secrets.filter((s) => s.length >= 8))];
  for (const { source, text } of logs) {
    for (const secret of unique) {
      const at = text.indexOf(secret);
      if (at >= 0) leaks.push({ source, what: `the secret ${secret.slice(0, 3)}… (${secret.length} characters)`, context: around(text, at, secret.length) });
    }
    for (const shape of TOKEN_SHAPES) {
      const match = shape.pattern.exec(text);
      if (match) leaks.push({ source, what: shape.name, context: around(text, match.index, match[0].length) });
    }
  }
  return leaks;
}

function around(text: string, at: number, length: number): string {
  return `${text.slice(Math.max(0, at - 80), at)}[${length} characters]${text.slice(at + length, at + length + 80)}`.replace(/\s+/g, ' ');
}
