/**
 * The doctor's report for a terminal: per route a ✔ / ⚠ / ✖ table (status, check, what was found,
 * time), then under it the fix of every ⚠ and ✖, numbered. `--json` prints the report itself.
 */
import type { CheckResult, CheckStatus, DoctorReport } from './check.js';

export const SYMBOL: Record<CheckStatus, string> = { pass: '✔', warn: '⚠', fail: '✖', skip: '–' };

function section(title: string, checks: CheckResult[]): string[] {
  const rows = checks.map((c) => [SYMBOL[c.status], c.title, c.detail, c.ms === null ? '' : `${c.ms} ms`]);
  const width = Math.min(48, Math.max(5, ...rows.map((r) => r[1]!.length)));
  const lines = [title];
  for (const [symbol, name, detail, ms] of rows) lines.push(`  ${symbol} ${name!.padEnd(width)}  ${detail}${ms ? ` (${ms})` : ''}`);
  const fixes = checks.filter((c) => (c.status === 'fail' || c.status === 'warn') && c.fix);
  fixes.forEach((c, i) => lines.push(`    fix ${i + 1} (${c.title}): ${c.fix}`));
  return lines;
}

export function renderReport(report: DoctorReport): string {
  const lines = section(`configuration${report.config.file ? ` (${report.config.file})` : ''}`, report.config.checks);
  for (const route of report.routes) lines.push('', ...section(`route ${route.route} (${route.transport})`, route.checks));
  const all = [...report.config.checks, ...report.routes.flatMap((r) => r.checks)];
  const count = (s: CheckStatus) => all.filter((c) => c.status === s).length;
  lines.push('', `${report.ok ? (count('warn') ? 'no check failed' : 'all checks passed') : 'some checks failed'}: ${count('pass')} ✔, ${count('warn')} ⚠, ${count('fail')} ✖${count('skip') ? `, ${count('skip')} skipped` : ''}`);
  return `${lines.join('\n')}\n`;
}
