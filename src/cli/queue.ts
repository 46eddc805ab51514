/**
 * `relay365 queue list|show|retry|cancel|delete`: the queue from the command line, on the
 * same store the running relay uses (SQLite in WAL mode takes readers and a writer at once).
 * `list` and `show` speak --json for scripts.
 */
import type { Command } from 'commander';
import { actOn, bounceNote } from '../admin/message-views.js';
import { effectiveRoutes } from '../delivery/router.js';
import { loadWithDemo } from './demo.js';
import { State } from '../queue/states.js';
import type { MessageDetail, MessageKind } from '../queue/store.js';
import { formatReply } from '../transports/smtp-reply.js';
import { EXIT, fail, loadOrExit, withStore, type GlobalOptions } from './context.js';
import { ago, clip, iso, size, table } from './format.js';

const STATES = Object.values(State);
const KINDS: readonly MessageKind[] = ['normal', 'dsn', 'notification'];

export function queueCommands(program: Command, global: () => GlobalOptions): void {
  const queue = program.command('queue').description('look at and act on queued messages');

  queue
    .command('list')
    .description('messages, newest first')
    .option('--state <state...>', `only these states (${STATES.join(', ')})`)
    .option('--app <name>', 'only messages from this app')
    .option('--kind <kind>', `only ${KINDS.join(', ')} messages (dsn: bounces relay365 wrote to senders; notification: mail to the admins)`)
    .option('--sender <text>', 'envelope sender contains this')
    .option('--recipient <text>', 'a recipient contains this')
    .option('--before <id>', 'only messages older than this id (paging)')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'one JSON array, for scripts')
    .action(async (opts: { state?: string[]; app?: string; kind?: string; sender?: string; recipient?: string; before?: string; limit: string; json?: boolean }) => {
      if (opts.kind !== undefined && !KINDS.includes(opts.kind as MessageKind)) fail(`unknown kind "${opts.kind}"; kinds are ${KINDS.join(', ')}`, EXIT.usage);
      const kind = opts.kind as MessageKind | undefined;
      const unknown = (opts.state ?? []).filter((s) => !STATES.includes(s as State));
      if (unknown.length) fail(`unknown state ${unknown.map((s) => `"${s}"`).join(', ')}; states are ${STATES.join(', ')}`, EXIT.usage);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) fail(`--limit expects a positive whole number, got "${opts.limit}"`, EXIT.usage);
      const messages = await withStore(loadOrExit(global()), { create: false }, (store) =>
        store.list({ states: opts.state as State[] | undefined, app: opts.app, ...(kind ? { kind } : {}), sender: opts.sender, recipient: opts.recipient, before: opts.before, limit }),
      );
      if (opts.json) return void process.stdout.write(`${JSON.stringify(messages, null, 2)}\n`);
      if (!messages.length) return void process.stdout.write('no messages\n');
      const rows = messages.map((m) => [
        m.id,
        m.kind === 'normal' ? m.state : `${m.state} (${m.kind})`,
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
      const loaded = await loadWithDemo(global());
      const found = await withStore(loaded, { create: false }, async (store) => {
        const message = await store.get(id);
        return message ? { message, note: bounceNote(message, effectiveRoutes(loaded.config), await store.bounceReaders()) } : null;
      });
      if (!found) fail(`no message ${id} in the queue`, EXIT.dataError);
      if (opts.json) return void process.stdout.write(`${JSON.stringify({ ...found.message, bounceNote: found.note }, null, 2)}\n`);
      process.stdout.write(describe(found.message, found.note));
    });

  const act = (action: 'retry' | 'cancel' | 'delete', description: string) =>
    queue
      .command(`${action} <id...>`)
      .description(description)
      .action(async (ids: string[]) => {
        // The same actions, and words, as the console's (admin/message-views.ts).
        // No store, no message to act on: it is not created here either.
        const results = await withStore(loadOrExit(global()), { create: false }, (store) => actOn(store, ids, action, 'an admin'));
        for (const r of results) {
          if (r.ok) process.stdout.write(`${r.id}: ${r.state ?? 'deleted'}\n`);
          else process.stderr.write(`${r.id}: ${r.error}\n`);
        }
        if (results.some((r) => !r.ok)) process.exit(EXIT.failure);
      });
  act('retry', 'try again now (deferred, held or failed messages)');
  act('cancel', 'stop delivering (what is not delivered yet is not delivered)');
  act('delete', 'remove from the store, body included');
}

function describe(m: MessageDetail, note: string | null): string {
  const lines = [
    `Message ${m.id}: ${m.state}${m.kind !== 'normal' ? ` — ${m.kind === 'dsn' ? 'a DSN relay365 wrote to a sender' : 'a notification to the admins'}` : ''}`,
    `  kind       ${m.kind}`,
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
    if (r.bouncedAt !== null) lines.push(`      bounced ${iso(r.bouncedAt)}: Microsoft 365's non-delivery report says the above`);
    if (r.diagnosis && r.state !== State.delivered) lines.push(`      ${r.diagnosis}`);
  }
  if (note) lines.push('', `Note: ${note}`);
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
