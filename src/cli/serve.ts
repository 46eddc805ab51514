/** `relay365 serve`: run the relay until SIGTERM or SIGINT, then shut down gracefully and exit 0. */
import { createLogger } from '../log.js';
import { startRelay } from '../relay.js';
import { describeStore } from '../queue/open.js';
import { ConfigError } from '../config/problems.js';
import { loadOrExit, reportConfigError, EXIT, type GlobalOptions } from './context.js';
import { startDemo, type Demo } from './demo.js';

export async function serve(options: GlobalOptions): Promise<void> {
  const loaded = loadOrExit(options);
  const log = createLogger(loaded.config.log.level);
  for (const warning of loaded.warnings) log.warn(warning);
  log.info({ config: loaded.file ?? '(none: defaults)', store: describeStore(loaded.config), node: loaded.config.node.name }, 'relay365 starting');
  let relay;
  let demo: Demo | null = null;
  try {
    if (Object.keys(loaded.config.routes).length === 0) demo = await startDemo(loaded.config, log);
    relay = await startRelay(loaded.config, log);
  } catch (err) {
    await demo?.stop();
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
        log.flush();
        process.exit(EXIT.ok);
      })
      .catch((err: unknown) => {
        log.fatal({ err }, 'shutdown failed');
        log.flush();
        process.exit(EXIT.software);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
