/**
 * `relay365 serve`: run the relay until SIGTERM or SIGINT, then shut down gracefully and exit 0.
 * Before anything starts (the demo's sandbox included) it takes the data directory's pid file
 * and tries its ports, so a second copy, or a port another program holds, is one plain line.
 */
import { dirname } from 'node:path';
import { createLogger } from '../log.js';
import { startRelay } from '../relay.js';
import { describeStore } from '../queue/open.js';
import { ConfigError } from '../config/problems.js';
import { loadConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import type { RunningRelay } from '../relay.js';
import type { Config } from '../config/schema.js';
import { NodeNameTaken } from '../queue/heartbeat.js';
import { fail, loadOrExit, reportConfigError, EXIT, type GlobalOptions } from './context.js';
import { startDemo, DEMO_ROUTE, type Demo } from './demo.js';
import { AlreadyRunning, takePidFile, type PidFile } from './pid-file.js';
import { firstPortRefusal, listenErrorLine } from './ports.js';

export async function serve(options: GlobalOptions): Promise<void> {
  const loaded = loadOrExit(options);
  const pidFile = await takeDataDir(loaded.config);
  const log = createLogger(loaded.config.log);
  for (const warning of loaded.warnings) log.warn(warning);
  log.info({ config: loaded.file ?? '(none: defaults)', store: describeStore(loaded.config), node: loaded.config.node.name }, 'relay365 starting');
  let relay;
  let demo: Demo | null = null;
  try {
    if (Object.keys(loaded.config.routes).length === 0) demo = await startDemo(loaded.config, log);
    relay = await startRelay(loaded.config, log, { demo: demo !== null });
    demo?.record();
  } catch (err) {
    await demo?.stop();
    pidFile.release();
    // A port taken since the check, or this node's name used by a live node on the same store: one line.
    const refusal = listenErrorLine(loaded.config, err) ?? (err instanceof NodeNameTaken ? err.message : null);
    if (refusal) {
      log.flush();
      fail(refusal, EXIT.unavailable);
    }
    // A configuration problem found while starting (the master key): the admin's words, no stack trace.
    if (err instanceof ConfigError) {
      log.fatal({ problems: err.problems }, 'relay365 could not start: the configuration has a problem');
      log.flush();
      reportConfigError(err);
    }
    log.fatal({ err }, 'relay365 could not start');
    log.flush();
    process.exit(EXIT.software);
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    relay
      .stop()
      .then(() => demo?.stop())
      .then(() => {
        pidFile.release();
        log.flush();
        process.exit(EXIT.ok);
      })
      .catch((err: unknown) => {
        pidFile.release();
        log.fatal({ err }, 'shutdown failed');
        log.flush();
        process.exit(EXIT.software);
      });
  };
  process.on('SIGHUP', () => {
    if (!stopping) reload(options, relay, demo ? loaded.config : null, log);
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** This process's hold on the data directory and its ports, or one line saying who has them, and exit 69. */
async function takeDataDir(config: Config): Promise<PidFile> {
  let pidFile: PidFile;
  try {
    pidFile = takePidFile(dirname(config.store.path));
  } catch (err) {
    if (err instanceof AlreadyRunning) {
      process.stderr.write(`${err.message}\n`);
      process.exit(EXIT.unavailable);
    }
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    fail(`cannot write the pid file in ${dirname(config.store.path)} (${code}): relay365 needs its data directory, the folder of store.path, writable`, EXIT.cantCreate);
  }
  const refusal = await firstPortRefusal(config);
  if (refusal) {
    pidFile.release();
    fail(refusal, EXIT.unavailable);
  }
  return pidFile;
}

/**
 * SIGHUP: read the config again and take what can be taken without a restart (reload.ts).
 * A config with a mistake is logged, key and file named, and the one in force kept.
 */
function reload(options: GlobalOptions, relay: RunningRelay, demoConfig: Config | null, log: Logger): void {
  let next;
  try {
    next = loadConfig({ path: options.config });
  } catch (err) {
    const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
    log.error({ problems }, 'SIGHUP: the changed configuration has a problem; nothing was reloaded, the configuration in force is kept');
    return;
  }
  for (const warning of next.warnings) log.warn(warning);
  // The demo's sandbox route is not in the file; it stays as long as the file has no routes.
  const demoRoute = demoConfig?.routes[DEMO_ROUTE];
  if (demoRoute && Object.keys(next.config.routes).length === 0) {
    next.config.routes[DEMO_ROUTE] = demoRoute;
    next.config.routing.default ??= DEMO_ROUTE;
  }
  const report = relay.reload(next.config);
  log.info({ config: next.file ?? '(none: defaults)', reloaded: report.reloaded, needsRestart: report.needsRestart }, report.reloaded.length ? `SIGHUP: reloaded ${report.reloaded.join(', ')}` : 'SIGHUP: nothing to reload');
  if (report.needsRestart.length) log.warn({ needsRestart: report.needsRestart }, `SIGHUP: changed but only taken at start (restart relay365 for them): ${report.needsRestart.join(', ')}`);
}
