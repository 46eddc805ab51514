/**
 * `relay365 app list|passwd`: the applications that may send. `passwd` makes the scrypt
 * hash that goes into apps.<app>.auth.passwordHash — the password itself is typed (not
 * echoed) or piped in, and never stored or printed.
 */
import type { Command } from 'commander';
import { hasOwn, own } from '../config/own.js';
import { effectiveRoutes } from '../delivery/router.js';
import { AppDirectory } from '../policy/apps.js';
import { hashPassword } from '../policy/passwords.js';
import { newApiToken } from '../policy/api-tokens.js';
import { configLabel, EXIT, fail, loadOrExit, type GlobalOptions } from './context.js';
import { loadWithDemo } from './demo.js';
import { table } from './format.js';
import { readSecret } from './prompt.js';

export function appCommands(program: Command, global: () => GlobalOptions): void {
  const app = program.command('app').description('the applications that may send through the relay');

  app
    .command('list')
    .description('each app: how it is recognised, what it may send, its route')
    .option('--json', 'as JSON')
    .action(async (opts: { json?: boolean }) => {
      const loaded = await loadWithDemo(global());
      const { config } = loaded;
      process.stderr.write(`relay365: config ${configLabel(loaded)}\n`);
      const directory = new AppDirectory(config.apps);
      const apps = Object.keys(config.apps).length ? Object.entries(config.apps) : [['local', directory.get('local')!.config] as const];
      if (opts.json) {
        const shown = apps.map(([name, a]) => ({ name, ...a, auth: a.auth ? { user: a.auth.user ?? name } : undefined }));
        return void process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
      }
      const rows = apps.map(([name, a]) => [
        name,
        [a.auth ? `AUTH as ${a.auth.user ?? name}` : '', a.networks.length ? `from ${a.networks.join(', ')}` : ''].filter(Boolean).join('; '),
        a.senders.length ? a.senders.join(', ') : 'any',
        a.route ?? config.routing.default ?? Object.keys(effectiveRoutes(config))[0] ?? '',
      ]);
      process.stdout.write(`${table(['APP', 'RECOGNISED BY', 'SENDERS', 'ROUTE'], rows)}\n`);
    });

  app
    .command('passwd <app>')
    .description('make the password hash for apps.<app>.auth.passwordHash (the password is read from the terminal or stdin)')
    .action(async (name: string) => {
      const { config } = loadOrExit(global());
      if (!hasOwn(config.apps, name)) fail(`no app "${name}" in the config; add apps.${name} first`, EXIT.usage);
      const password = await readSecret(`Password for app ${name}: `);
      if (password.length < 12) fail('the password is shorter than 12 characters; applications store it anyway, so make it long', EXIT.dataError);
      const hash = await hashPassword(password);
      process.stdout.write(`apps:\n  ${name}:\n    auth:\n      passwordHash: ${hash}\n`);
      process.stderr.write(`Put this in the config (relay365 config check validates it); the application logs in as "${own(config.apps, name)?.auth?.user ?? name}".\n`);
    });

  app
    .command('token <app>')
    .description('make an API token for the HTTP submission API: the token is shown once, its hash goes into apps.<app>.apiTokens')
    .action((name: string) => {
      const { config } = loadOrExit(global());
      if (!hasOwn(config.apps, name)) fail(`no app "${name}" in the config; add apps.${name} first`, EXIT.usage);
      const { token, hash } = newApiToken();
      const existing = own(config.apps, name)?.apiTokens ?? [];
      process.stdout.write(`${token}\n`);
      process.stderr.write(`That is app ${name}'s API token (Authorization: Bearer …), shown this once: relay365 keeps only its hash. Add the hash to the config and reload (SIGHUP) or restart:\n`);
      process.stderr.write(`apps:\n  ${name}:\n    apiTokens:\n${[...existing, hash].map((h) => `      - ${h}\n`).join('')}`);
    });
}
