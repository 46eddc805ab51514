/**
 * `relay365 route list|pause|resume|release`: routes as the relay sees them — active,
 * paused by an admin, or held because Microsoft (or the smarthost) refused them in a way
 * retrying cannot fix — with the reason, the fix, and each mailbox's sending budget.
 */
import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { hasOwn } from '../config/own.js';
import { activateRoute, describeRoutes, pauseRoute } from '../admin/route-views.js';
import { effectiveRoutes } from '../delivery/router.js';
import type { Store } from '../queue/store.js';
import { configLabel, EXIT, fail, withStore, type GlobalOptions } from './context.js';
import { allInDemoWords } from '../config/demo-route.js';
import { loadWithDemo } from './demo.js';
import { ago, table } from './format.js';
import { sqliteStoreMissing } from '../queue/open.js';
import { routeWarnings } from '../transports/warnings.js';
import type { LoadedConfig } from '../config/load.js';

export function routeCommands(program: Command, global: () => GlobalOptions): void {
  const route = program.command('route').description('see routes, pause and resume them, release held ones');

  // A route named is checked before the store is opened; a paused route is kept in the store,
  // which pausing before the first start creates. Looking (route list) creates none.
  const withRoute = async <T>(name: string, work: (store: Store) => Promise<T>): Promise<T> => {
    const loaded = await loadWithDemo(global());
    known(loaded.config, name);
    return withStore(loaded, { create: true }, work);
  };

  const known = (config: Config, name: string) => {
    if (!hasOwn(effectiveRoutes(config), name)) fail(`no route "${name}"; routes: ${Object.keys(effectiveRoutes(config)).join(', ')}`, EXIT.usage);
  };

  route
    .command('list')
    .description('every route: state, reason and fix, last success and failure, budget used')
    .option('--json', 'as JSON, for scripts and monitoring')
    .action(async (opts: { json?: boolean }) => {
      const loaded = await loadWithDemo(global());
      // Where relay365 has not run yet the routes are still the config's: listed, with no state
      // to show, and no store created for looking.
      if (sqliteStoreMissing(loaded.config)) return void listUnstarted(loaded, opts);
      const described = await withStore(loaded, { create: false }, (store) => describeRoutes(loaded.config, store));
      const views = loaded.demo ? allInDemoWords(described) : described;
      if (opts.json) return void process.stdout.write(`${JSON.stringify(views, null, 2)}\n`);
      const rows = views.map((v) => [
        v.name,
        v.transport,
        v.state,
        v.lastSuccessAt ? ago(v.lastSuccessAt) : '-',
        v.lastFailureAt ? ago(v.lastFailureAt) : '-',
        v.budget ? `${v.budget.messagesThisMinute}/${v.budget.messagesPerMinute} per min, ${v.budget.recipientsToday}/${v.budget.recipientsPerDay} rcpts/day` : '-',
        v.budget ? `${Object.values(v.budget.connectionsOpen).reduce((sum, n) => sum + n, 0)}/${v.budget.connections}` : '-',
      ]);
      const lines = [table(['ROUTE', 'TRANSPORT', 'STATE', 'LAST SUCCESS', 'LAST FAILURE', 'BUDGET USED', 'CONNECTIONS'], rows)];
      for (const v of views) for (const warning of v.warnings) lines.push('', `warning: ${warning}`);
      for (const v of views.filter((x) => x.state !== 'active')) {
        lines.push('', `${v.name} is ${v.state}${v.since ? ` since ${new Date(v.since).toISOString()}` : ''}: ${v.reason ?? ''}`);
        if (v.fix) lines.push(`  fix: ${v.fix}`);
        if (v.state === 'held') lines.push(`  then: relay365 route release ${v.name}${v.probeAt ? ` (or wait: it tries one message again at ${new Date(v.probeAt).toISOString()})` : ''}`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  route
    .command('pause <name>')
    .description('stop delivering through a route; its messages are held, not failed')
    .action((name: string) =>
      withRoute(name, async (store) => {
        await pauseRoute(store, name);
        process.stdout.write(`${name}: paused\n`);
      }),
    );

  for (const [verb, description] of [
    ['resume', 'deliver through a paused route again, with the messages it held'],
    ['release', 'after fixing what held a route: deliver its held messages now'],
  ] as const) {
    route
      .command(`${verb} <name>`)
      .description(description)
      .action((name: string) =>
        withRoute(name, async (store) => {
          const released = await activateRoute(store, name);
          process.stdout.write(`${name}: active; ${released} held message${released === 1 ? '' : 's'} queued again\n`);
        }),
      );
  }
}

/** route list before the first start: each route of the config, and what is missing to say more. */
function listUnstarted(loaded: LoadedConfig & { demo: unknown }, opts: { json?: boolean }): void {
  const routes = Object.entries(effectiveRoutes(loaded.config)).map(([name, route]) => ({ name, transport: route.transport, state: 'not started', warnings: routeWarnings(name, route) }));
  const views = loaded.demo ? allInDemoWords(routes) : routes;
  process.stderr.write(`relay365: config ${configLabel(loaded)}; no store at ${loaded.config.store.path} yet: relay365 has not run here, so routes have no state, budget or history\n`);
  if (opts.json) return void process.stdout.write(`${JSON.stringify(views, null, 2)}\n`);
  const lines = [table(['ROUTE', 'TRANSPORT', 'STATE'], views.map((v) => [v.name, v.transport, v.state]))];
  for (const v of views) for (const warning of v.warnings) lines.push('', `warning: ${warning}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
