/**
 * Turns zod's issues into the lines an admin reads: where (the file, or the environment
 * variable that set the key), which key, and what is wrong in plain words.
 */
import type { z } from 'zod';
import type { EnvOverride } from './env.js';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

const got = (input: unknown) => (input === undefined ? 'nothing' : JSON.stringify(input));

function closest(word: string, candidates: string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const key of candidates) {
    const distance = editDistance(word.toLowerCase(), key.toLowerCase());
    if (distance <= Math.max(2, Math.floor(key.length / 3)) && (!best || distance < best.distance)) best = { key, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min(current + 1, (row[j - 1] as number) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] as number;
}

function describe(issue: z.core.$ZodIssue, knownKeys: (path: PropertyKey[]) => string[]): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys
        .map((key) => {
          const suggestion = closest(key, knownKeys(issue.path));
          return `unknown key "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`;
        })
        .join('; ');
    case 'invalid_union': {
      const options = (issue as { options?: unknown[] }).options;
      if (options) {
        const input = (issue as { input?: Record<string, unknown> }).input;
        const field = (issue as { discriminator?: string }).discriminator ?? '';
        return `expected one of ${options.map((o) => `"${String(o)}"`).join(', ')}, got ${got(input?.[field])}`;
      }
      return issue.message;
    }
    case 'invalid_type':
      if (issue.input === undefined) return `is required (${issue.expected})`;
      return issue.message.startsWith('expected') ? issue.message : `expected ${issue.expected}, got ${got(issue.input)}`;
    default:
      return issue.message;
  }
}

export function toProblems(
  issues: z.core.$ZodIssue[],
  fileLabel: string,
  overrides: EnvOverride[],
  knownKeys: (path: PropertyKey[]) => string[],
): string[] {
  const sourceOf = (path: string[]) => {
    const override = overrides.find((o) => o.path.every((segment, i) => path[i] === segment));
    return override ? `environment ${override.variable}` : fileLabel;
  };
  // An unknown key is reported once per key, each with the source that wrote it.
  const single = issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys' && issue.keys.length > 1 ? issue.keys.map((key) => ({ ...issue, keys: [key] })) : [issue],
  );
  return single.map((issue) => {
    const path = issue.path.map(String);
    const sourcePath = issue.code === 'unrecognized_keys' ? [...path, String(issue.keys[0])] : path;
    const where = path.length ? `${path.join('.')}: ` : '';
    return `${sourceOf(sourcePath)}: ${where}${describe(issue, knownKeys)}`;
  });
}
