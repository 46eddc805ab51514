/**
 * What `relay365 doctor` reports: for the configuration and for every route, a list of checks,
 * each passed (✔), worth a look (⚠), failed (✖) or not run because an earlier one failed (skip),
 * with what was found and, for ⚠ and ✖, the exact fix. This shape is the `--json` output: keep it
 * stable (README "relay365 doctor and setup" documents it).
 */

export const CHECK_STATUS = ['pass', 'warn', 'fail', 'skip'] as const;
export type CheckStatus = (typeof CHECK_STATUS)[number];

/** The checks, in the order they run for a route. */
export type CheckId = 'config' | 'secrets' | 'dns' | 'mx' | 'tcp' | 'tls' | 'token' | 'smtp-auth' | 'smtp-session' | 'sender' | 'spf' | 'certificate' | 'send-test';

export interface CheckResult {
  check: CheckId;
  /** One line: what was checked, e.g. "TCP smtp.office365.com:587". */
  title: string;
  status: CheckStatus;
  /** What was found, in plain words. */
  detail: string;
  /** What to do, for warn and fail; null otherwise. */
  fix: string | null;
  /** How long the check took (network checks), in milliseconds. */
  ms: number | null;
}

export interface RouteReport {
  route: string;
  transport: string;
  checks: CheckResult[];
}

export interface DoctorReport {
  /** false when any check failed (the exit code is then 1). */
  ok: boolean;
  checkedAt: string;
  config: { file: string | null; checks: CheckResult[] };
  routes: RouteReport[];
}

export function result(check: CheckId, title: string, status: CheckStatus, detail: string, extra: { fix?: string | null; ms?: number | null } = {}): CheckResult {
  return { check, title, status, detail, fix: extra.fix ?? null, ms: extra.ms ?? null };
}

export const passed = (check: CheckId, title: string, detail: string, ms: number | null = null) => result(check, title, 'pass', detail, { ms });
export const warned = (check: CheckId, title: string, detail: string, fix: string | null, ms: number | null = null) => result(check, title, 'warn', detail, { fix, ms });
export const failed = (check: CheckId, title: string, detail: string, fix: string | null, ms: number | null = null) => result(check, title, 'fail', detail, { fix, ms });
export const skipped = (check: CheckId, title: string, why: string) => result(check, title, 'skip', why);

export function reportOk(report: Pick<DoctorReport, 'config' | 'routes'>): boolean {
  return ![...report.config.checks, ...report.routes.flatMap((r) => r.checks)].some((c) => c.status === 'fail');
}

/** Milliseconds since `start` (performance.now()), whole. */
export const since = (start: number) => Math.round(performance.now() - start);
