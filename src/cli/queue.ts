/**
 * `relay365 queue list|show|retry|cancel|delete`: the queue from the command line, on the
 * same store the running relay uses (SQLite in WAL mode takes readers and a writer at once).
 * `list` and `show` speak --json for scripts.
 */
import type { Command } from 'commander';
import { MESSAGE_ID_PATTERN } from '../queue/ids.js';
import { openStore } from '../queue/open.js';
import { State, type Action } from '../queue/states.js';
import type { MessageDetail, Store } from '../queue/store.js';
import { formatReply } from '../transports/smtp-reply.js';
import { EXIT, fail, loadOrExit, type GlobalOptions } from './context.js';
import { ago, clip, iso, size, table } from './format.js';

async function withStore<T>(global: GlobalOptions, work: (store: Store) => Promise<T>): Promise<T> {
  const { config } = loadOrExit(global);
  const store = await openStore(config);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

const STATES = Object.values(State);

export function queueCommands(program: Command, global: () => GlobalOptions): void {
  const queue = program.command('queue').description('look at and act on queued messages');

  queue
    .command('list')
    .description('messages, newest first')
    .option('--state <state...>', `only these states (${STATES.join(', ')})`)
    .option('--app <name>', 'only messages from this app')
    .option('--sender <text>', 'envelope sender contains this')
    .option('--recipient <text>', 'a recipient contains this')
    .option('--before <id>', 'only messages older than this id (paging)')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'one JSON array, for scripts')
    .action(async (opts: { state?: string[]; app?: string; sender?: string; recipient?: string; before?: string; limit: string; json?: boolean }) => {
      const unknown = (opts.state ?? []).filter((s) => !STATES.includes(s as State));
      if (unknown.length) fail(`unknown state ${unknown.map((s) => `"${s}"`).join(', ')}; states are ${STATES.join(', ')}`, EXIT.usage);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) fail(`--limit expects a positive whole number, got "${opts.limit}"`, EXIT.usage);
      const messages = await withStore(global(), (store) =>
        store.list({ states: opts.state as State[] | undefined, app: opts.app, sender: opts.sender, recipient: opts.recipient, before: opts.before, limit }),
      );
      if (opts.json) return void process.stdout.write(`${JSON.stringify(messages, null, 2)}\n`);
      if (!messages.length) return void process.stdout.write('no messages\n');
      const rows = messages.map((m) => [
        m.id,
        m.state,
        ago(m.receivedAt),
        clip(m.mailFrom || '<>', 32),
        clip(m.recipients.length > 1 ? `${m.recipients[0]} +${m.recipients.length - 1}` : (m.recipients[0] ?? ''), 36),
        size(m.size),
        clip(m.lastError ?? '', 70),
      ]);
      process.stdout.write(`${table(['ID', 'STATE', 'RECEIVED', 'FROM', 'TO', 'SIZE', 'LAST ERROR'], rows)}\n`);
    });

  queue
    .command('show <id>')
    .description('one message: envelope, recipients and every attempt')
    .option('--json', 'as JSON, for scripts')
    .action(async (id: string, opts: { json?: boolean }) => {
      const message = await withStore(global(), (store) => store.get(id));
      if (!message) fail(`no message ${id} in the queue`, EXIT.dataError);
      if (opts.json) return void process.stdout.write(`${JSON.stringify(message, null, 2)}\n`);
      process.stdout.write(describe(message));
    });

  const act = (action: Action, verb: string, description: string) =>
    queue
      .command(`${verb} <id...>`)
      .description(description)
      .action(async (ids: string[]) => {
        let failed = 0;
        await withStore(global(), async (store) => {
          for (const id of ids) {
            if (!MESSAGE_ID_PATTERN.test(id)) {
              failed++;
              process.stderr.write(`${id}: not a message id\n`);
              continue;
            }
            const outcome = await store.act(id, action, Date.now(), action === 'retry' ? undefined : `${verb} by an admin`);
            if (outcome.ok) process.stdout.write(`${id}: ${outcome.state ?? 'deleted'}\n`);
            else {
              failed++;
              process.stderr.write(
                outcome.reason === 'not-found' ? `${id}: no such message\n` : `${id}: cannot ${verb} a message that is ${outcome.state}\n`,
              );
            }
          }
        });
        if (failed) process.exit(EXIT.failure);
      });
  act('retry', 'retry', 'try again now (deferred, held or failed messages)');
  act('cancel', 'cancel', 'stop delivering (what is not delivered yet is not delivered)');
  act('delete', 'delete', 'remove from the store, body included');
}

function describe(m: MessageDetail): string {
  const lines = [
    `Message ${m.id}: ${m.state}`,
    `  received   ${iso(m.receivedAt)} (${ago(m.receivedAt)}) on listener ${m.listener} from ${m.clientHelo ?? '?'} [${m.clientAddress}]${m.tls ? ` over ${m.tls}` : ''}`,
    `  sender     <${m.mailFrom}>${m.app ? `  app ${m.app}` : ''}`,
    `  size       ${size(m.size)}  sha256 ${m.sha256}`,
    `  expires    ${iso(m.expiresAt)}`,
  ];
  if (m.nextAttemptAt !== null && m.state !== State.delivered) lines.push(`  next try   ${iso(m.nextAttemptAt)} (${ago(m.nextAttemptAt)})`);
  if (m.leaseOwner) lines.push(`  leased by  ${m.leaseOwner} until ${iso(m.leaseUntil)}`);
  if (m.lastError) lines.push(`  last error ${m.lastError}`);
  lines.push('', 'Recipients:');
  for (const r of m.recipientDetails) {
    lines.push(`  <${r.address}>  ${r.state}${r.route ? ` via ${r.route}` : ''}${r.reply ? `  ${formatReply(r.reply)}` : ''}`);
    if (r.diagnosis && r.state !== State.delivered) lines.push(`      ${r.diagnosis}`);
  }
  lines.push('', m.attempts.length ? 'Attempts:' : 'Attempts: none yet');
  for (const a of m.attempts) {
    const to = m.recipientDetails.find((r) => r.idx === a.recipientIdx)?.address ?? `#${a.recipientIdx}`;
    lines.push(`  #${a.attempt} ${iso(a.startedAt)} ${a.durationMs} ms  ${a.route} (${a.transport}) on ${a.node}  <${to}>  ${a.verdict}`);
    if (a.reply) lines.push(`      upstream: ${formatReply(a.reply)}`);
    if (a.diagnosis) lines.push(`      ${a.diagnosis}`);
    if (a.fix) lines.push(`      fix: ${a.fix}`);
  }
  return `${lines.join('\n')}\n`;
}
