/**
 * `relay365 config show|check|schema`. `show` prints the effective configuration (file,
 * environment and defaults merged) with secrets masked and what the admin set marked,
 * like `postconf -n` beside `postconf`; durations and sizes as written (5d, 35MB), while
 * `--json`, for programs, gives them as the relay uses them (milliseconds, bytes).
 */
import type { Command } from 'commander';
import { Document, isScalar, isCollection } from 'yaml';
import { asWritten } from '../config/as-written.js';
import { configJsonSchema } from '../config/load.js';
import { maskSecrets } from '../config/secrets.js';
import { maskStoreUrl } from '../config/store-url.js';
import { EXIT, loadOrExit, type GlobalOptions } from './context.js';

export function configCommands(program: Command, global: () => GlobalOptions): void {
  const config = program.command('config').description('the configuration: show it, check it, get its JSON Schema');

  config
    .command('show')
    .description('the effective configuration, secrets masked, durations and sizes as written (5d, 35MB); "# set" marks what the file or environment set')
    .option('--json', 'as JSON, with durations in milliseconds and sizes in bytes (as the relay uses them)')
    .action((opts: { json?: boolean }) => {
      const loaded = loadOrExit(global());
      const masked = maskSecrets(loaded.config);
      // The store's URL may carry the database password.
      if (masked.store.url) masked.store.url = maskStoreUrl(masked.store.url);
      if (opts.json) return void process.stdout.write(`${JSON.stringify(masked, null, 2)}\n`);
      const doc = new Document(asWritten(masked, loaded.input));
      for (const path of leafPaths(loaded.input)) {
        const node = doc.getIn(path, true);
        const override = loaded.overrides.find((o) => o.path.join('.') === path.join('.'));
        const mark = override ? ` set by ${override.variable}` : ' set';
        if (isScalar(node) || isCollection(node)) node.comment = mark;
      }
      const source = loaded.file ? `# from ${loaded.file}` : '# no config file: defaults';
      process.stdout.write(`${source}${loaded.overrides.length ? ' and the environment' : ''}\n${doc.toString()}`);
    });

  config
    .command('check')
    .description('validate the configuration (exit 0 when it is good, 78 when not)')
    .action(() => {
      const loaded = loadOrExit(global());
      // Plain-text secrets in the file and placeholder ids are among the loader's warnings, which start-up logs too.
      for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
      process.stdout.write(`${loaded.file ?? 'defaults'}: configuration is valid\n`);
      process.exitCode = EXIT.ok;
    });

  config
    .command('schema')
    .description('the JSON Schema of relay365.yaml, for editors (yaml-language-server)')
    .action(() => {
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}

function leafPaths(value: unknown, path: string[] = []): string[][] {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([k, v]) => leafPaths(v, [...path, k]));
  }
  return path.length ? [path] : [];
}
