#!/usr/bin/env node
/**
 * The relay365 command. Every admin verb is a subcommand; `relay365 --help` lists them.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { appCommands } from './app.js';
import { authCommands } from './auth.js';
import { configCommands } from './config.js';
import { nodeCommands } from './nodes.js';
import { queueCommands } from './queue.js';
import { routeCommands } from './route.js';
import { secretCommands } from './secret.js';
import { runSandbox } from './sandbox.js';
import { sendTest } from './send-test.js';
import { serve } from './serve.js';
import type { GlobalOptions } from './context.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('relay365')
  .description('The relay business applications point at to get their mail into Microsoft 365.')
  .version(pkg.version)
  .option('-c, --config <file>', 'config file (default: relay365.yaml, or $RELAY365_CONFIG)')
  .showHelpAfterError();

const global = () => program.opts<GlobalOptions>();

program
  .command('serve')
  .description('run the relay: SMTP listeners, queue and delivery')
  .action(() => serve(global()));

queueCommands(program, global);
routeCommands(program, global);
nodeCommands(program, global);
appCommands(program, global);
configCommands(program, global);
authCommands(program, global);
secretCommands(program, global);

program
  .command('send-test')
  .description("submit a test message through the relay's own SMTP listener")
  .requiredOption('--to <address>', 'recipient')
  .option('--from <address>', 'sender (default: relay365@<node name>)')
  .option('--subject <text>', 'subject')
  .option('--listener <name>', 'which listener to submit to (default: the first)')
  .action((opts: { to: string; from?: string; subject?: string; listener?: string }) => sendTest(global(), opts));

program
  .command('sandbox')
  .description('run the Microsoft 365 sandbox (a local stand-in for Entra ID and Exchange Online)')
  .allowUnknownOption()
  .helpOption(false)
  .argument('[args...]', 'sandbox options; see relay365 sandbox --help')
  .action((args: string[]) => runSandbox(args));

await program.parseAsync(process.argv);
