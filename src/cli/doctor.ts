/**
 * `relay365 doctor [--route NAME] [--json] [--send-test ADDRESS]`: checks every route (or one) the
 * way a delivery meets it — config and secrets, DNS, TCP, TLS, token, SMTP AUTH, senders, SPF —
 * and prints a ✔ / ⚠ / ✖ table with the fix of each ⚠ and ✖. Exit 0 when nothing failed (⚠ is
 * allowed), 1 when something did; a configuration that does not load is a failed check too.
 */
import type { Command } from 'commander';
import pino from 'pino';
import { ConfigError, loadConfig } from '../config/load.js';
import { reportOk, result, type DoctorReport } from '../doctor/check.js';
import { renderReport } from '../doctor/render.js';
import { runDoctor } from '../doctor/runner.js';
import { EXIT, fail, type GlobalOptions } from './context.js';

export interface DoctorCliOptions {
  route?: string;
  json?: boolean;
  sendTest?: string;
}

export async function doctor(global: GlobalOptions, opts: DoctorCliOptions): Promise<void> {
  let report: DoctorReport;
  try {
    const loaded = loadConfig({ path: global.config });
    if (opts.route && !(opts.route in loaded.config.routes)) fail(`no route "${opts.route}"; routes: ${Object.keys(loaded.config.routes).join(', ') || 'none'}`, EXIT.usage);
    // msal-node and the transports log through this; the doctor's own words are the report.
    report = await runDoctor(loaded, { ...(opts.route ? { route: opts.route } : {}), ...(opts.sendTest ? { sendTest: opts.sendTest } : {}), log: pino({ level: 'silent' }) });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const config = { file: null, checks: err.problems.map((p) => result('config', 'configuration', 'fail', p, { fix: 'Correct the key named; relay365 config check shows every problem.' })) };
    report = { ok: reportOk({ config, routes: [] }), checkedAt: new Date().toISOString(), config, routes: [] };
  }
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
  process.exitCode = report.ok ? EXIT.ok : EXIT.failure;
}

export function doctorCommand(program: Command, global: () => GlobalOptions): void {
  program
    .command('doctor')
    .description('check every route: config and secrets, DNS, TCP, TLS, token, SMTP AUTH, senders, SPF — with the fix for each problem')
    .option('--route <name>', 'check this route only')
    .option('--json', 'the report as JSON, for monitoring')
    .option('--send-test <address>', 'also send one real test message through each route checked')
    .action((opts: DoctorCliOptions) => doctor(global(), opts));
}
