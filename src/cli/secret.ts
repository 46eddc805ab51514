/**
 * `relay365 secret encrypt`: turns a secret into the `enc:v1:…` value relay365.yaml can hold in
 * its place (AES-256-GCM with the master key, created on first use). The secret is read from
 * stdin — typed without echo on a terminal, or piped — and only the encrypted value is printed:
 *
 *   relay365 secret encrypt                      # type it; nothing is shown
 *   printf %s "$SECRET" | relay365 secret encrypt
 *
 * There is deliberately no `decrypt`: a secret, once in the config, is read only by the relay.
 */
import type { Command } from 'commander';
import { openMasterKey } from '../config/master-key.js';
import { ConfigError } from '../config/problems.js';
import { encryptSecret } from '../config/secret-refs.js';
import { EXIT, fail, loadOrExit, reportConfigError, type GlobalOptions } from './context.js';

/** Reads one line from the terminal without echoing it. */
function readHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.resume();
  input.setEncoding('utf8');
  let typed = '';
  return new Promise((resolve, reject) => {
    const done = (result: () => void) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      result();
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done(() => resolve(typed));
        if (ch === '\u0003') return done(() => reject(new Error('cancelled')));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    input.on('data', onData);
  });
}

async function readPiped(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One trailing newline is the shell's (echo), not the secret's.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function secretCommands(program: Command, global: () => GlobalOptions): void {
  const secret = program.command('secret').description('secrets at rest: encrypt a secret for relay365.yaml with the master key');

  secret
    .command('encrypt')
    .description('read a secret from stdin (no echo on a terminal) and print its enc:v1: value for relay365.yaml')
    .action(async () => {
      const { config } = loadOrExit(global());
      let key;
      try {
        key = openMasterKey({ env: process.env, keyFile: config.secrets.keyFile });
      } catch (e) {
        if (e instanceof ConfigError) reportConfigError(e);
        throw e;
      }
      if (key.created) process.stderr.write(`relay365: created the master key file ${config.secrets.keyFile} (mode 0600, key id ${key.keyId}); every node that reads this config needs the same key\n`);
      let value: string;
      try {
        value = process.stdin.isTTY ? await readHidden('Secret (not shown): ') : await readPiped();
      } catch {
        fail('cancelled; nothing was encrypted', EXIT.usage);
      }
      if (value === '') fail('no secret on stdin; nothing was encrypted', EXIT.usage);
      process.stdout.write(`${encryptSecret(key, value)}\n`);
      process.stderr.write(`relay365: encrypted with the master key from ${key.source} (key id ${key.keyId}); put the value in place of the secret in relay365.yaml\n`);
    });
}
