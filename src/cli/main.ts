#!/usr/bin/env node
/**
 * The relay365 command. Every admin verb is a subcommand; `relay365 --help` lists them.
 */
import { basename } from 'node:path';
import { Command } from 'commander';
import { appCommands } from './app.js';
import { adminCommands } from './admin.js';
import { authCommands } from './auth.js';
import { configCommands } from './config.js';
import { doctorCommand } from './doctor.js';
import { nodeCommands } from './nodes.js';
import { queueCommands } from './queue.js';
import { routeCommands } from './route.js';
import { secretCommands } from './secret.js';
import { runSandbox } from './sandbox.js';
import { sendTest } from './send-test.js';
import { serve } from './serve.js';
import { sendmail } from './sendmail.js';
import { initCommand } from './init.js';
import { setupCommand } from './setup.js';
import { relayVersion } from '../version.js';
import type { GlobalOptions } from './context.js';


const program = new Command('relay365')
  .description('The relay business applications point at to get their mail into Microsoft 365.')
  .version(relayVersion())
  .option('-c, --config <file>', 'config file (default: $RELAY365_CONFIG, else ./relay365.yaml, else /etc/relay365/relay365.yaml)')
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
adminCommands(program, global);
configCommands(program, global);
authCommands(program, global);
secretCommands(program, global);
doctorCommand(program, global);
setupCommand(program, global);

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

program
  .command('sendmail')
  .description('sendmail-compatible submission for cron and scripts (-t, -i, -f, -F; also installable as a `sendmail` symlink)')
  .allowUnknownOption()
  .helpOption(false)
  .argument('[args...]', 'sendmail flags and recipients');

initCommand(program);

// sendmail's flags (-oi, -fADDR, -F NAME) are not commander's: as `sendmail` (a symlink) or
// `relay365 [-c FILE] sendmail …`, the arguments go to it untouched.
const args = process.argv.slice(2);
const sendmailAt = args[0] === 'sendmail' ? 1 : /^(-c|--config)$/.test(args[0] ?? '') && args[2] === 'sendmail' ? 3 : 0;
if (basename(process.argv[1] ?? '') === 'sendmail') await sendmail(args);
else if (sendmailAt) await sendmail(args.slice(sendmailAt), sendmailAt === 3 ? args[1] : undefined);
else await program.parseAsync(process.argv);
