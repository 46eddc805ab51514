/**
 * `relay365 doctor [--route NAME] [--json] [--send-test ADDRESS]`: checks every route (or one) the
 * way a delivery meets it — config and secrets, DNS, TCP, TLS, token, SMTP AUTH, senders, SPF —
 * and prints a ✔ / ⚠ / ✖ table with the fix of each ⚠ and ✖. Exit 0 when nothing failed (⚠ is
 * allowed), 1 when something did; a configuration that does not load is a failed check too.
 */
import type { Command } from 'commander';
import pino from 'pino';
import { ConfigError, loadConfig, type LoadedConfig } from '../config/load.js';
import { hasOwn } from '../config/own.js';
import { failed, passed, reportOk, result, type DoctorReport } from '../doctor/check.js';
import { configChecks } from '../doctor/config-and-secrets.js';
import { renderReport } from '../doctor/render.js';
import { runDoctor } from '../doctor/runner.js';
import { EXIT, fail, type GlobalOptions } from './context.js';
import { allInDemoWords } from '../config/demo-route.js';
import { addDemoRoute, demoRunning, DEMO_ROUTE, DEMO_ROUTE_NAME, START_FIRST, type DemoRoute } from './demo.js';

export interface DoctorCliOptions {
  route?: string;
  json?: boolean;
  sendTest?: string;
}

export async function doctor(global: GlobalOptions, opts: DoctorCliOptions): Promise<void> {
  let report: DoctorReport;
  try {
    const loaded = loadConfig({ path: global.config, tolerateSecrets: true });
    const demo = await addDemoRoute(loaded);
    if (opts.route && !hasOwn(loaded.config.routes, opts.route)) fail(`no route "${opts.route}"; routes: ${Object.keys(loaded.config.routes).join(', ') || 'none'}`, EXIT.usage);
    if (demo && (!demo.recorded || !(await demoRunning(demo)))) report = demoNotRunning(loaded, demo);
    // msal-node and the transports log through this; the doctor's own words are the report.
    else report = await runDoctor(loaded, { ...(opts.route ? { route: opts.route } : {}), ...(opts.sendTest ? { sendTest: opts.sendTest } : {}), log: pino({ level: 'silent' }) });
    if (demo) {
      report = allInDemoWords(report);
      report.routes.find((r) => r.route === DEMO_ROUTE)?.checks.unshift(passed('config', 'demo route', demoSaid(demo)));
    }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const config = { file: null, checks: err.problems.map((p) => result('config', 'configuration', 'fail', p, { fix: 'Correct the key named; relay365 config check shows every problem.' })) };
    report = { ok: reportOk({ config, routes: [] }), checkedAt: new Date().toISOString(), config, routes: [] };
  }
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
  process.exitCode = report.ok ? EXIT.ok : EXIT.failure;
}

const demoSaid = (demo: DemoRoute) =>
  `${DEMO_ROUTE} is ${DEMO_ROUTE_NAME}: it delivers into the Microsoft 365 sandbox at ${demo.origin}; relay365 init writes a relay365.yaml for your tenant`;

/** Every check of the demo route needs its sandbox, which runs inside relay365 serve. */
function demoNotRunning(loaded: LoadedConfig, demo: DemoRoute): DoctorReport {
  const config = { file: loaded.file, checks: configChecks(loaded) };
  const checks = [failed('tcp', `sandbox ${demo.origin}`, `the Microsoft 365 sandbox the demo route delivers into is not running (it starts with relay365 serve)`, START_FIRST)];
  const routes = [{ route: DEMO_ROUTE, transport: 'graph', checks }];
  return { ok: reportOk({ config, routes }), checkedAt: new Date().toISOString(), config, routes };
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
