/**
 * npm run bench -- console-list — the admin API's message list over a big store.
 *
 * What it measures. It seeds a SQLite store (the relay's own schema and indexes, WAL) with
 * N messages (default 1,000,000: states 90 % delivered, 5 % failed, 3 % deferred, 2 % held;
 * five apps; two routes; arrival spread over the last five days; one recipient each), starts
 * the admin server on it (127.0.0.1, port 0, an API token), and times GET /api/messages over
 * real HTTP — the whole path: auth, the SQL, JSON — for the pages an admin asks for:
 *   first page            no filter, 50 newest
 *   failed + app          state=failed&app=sap (the SOST view of one application's errors)
 *   deferred + route      state=deferred&route=m365
 *   deferred or held      state=deferred,held (two states: what needs attention)
 *   time window           one hour, three days back
 *   deep page             state=delivered, 2000 pages in (keyset: the cursor of page 2000)
 *   sender substring      sender=billing (a LIKE over every id from the newest: the slow kind)
 * Each query runs 3 times to warm up, then 25 times; it reports the median and p95 in ms.
 * The target (issue 7): a filtered list page under 100 ms with 1,000,000 messages.
 *
 * How to run it (after `npx tsc -p tsconfig.json`; `npm run bench` builds first):
 *   npm run bench -- console-list                 1,000,000 messages (seeding takes a minute or two)
 *   npm run bench -- console-list --messages 100000
 *   npm run bench -- console-list --dir /var/tmp  where the temporary store goes
 *   npm run bench -- console-list --json          one JSON object, for scripts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pino from 'pino';
import { startAdmin } from '../src/admin/server.js';
import { newApiToken, sha256 } from '../src/admin/secrets.js';
import { configSchema } from '../src/config/schema.js';
import { newMessageId } from '../src/queue/ids.js';
import { SqliteStore } from '../src/queue/sqlite/store.js';

const APPS = ['sap', 'erp', 'scanner', 'dms', 'cron'];
const DAY = 86_400_000;

function stateFor(i: number): string {
  const r = i % 100;
  return r < 90 ? 'delivered' : r < 95 ? 'failed' : r < 98 ? 'deferred' : 'held';
}

/** Rows straight into the relay's schema, in batches of one transaction (accepting them one by one would take hours). */
function seed(path: string, count: number, now: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const message = db.prepare(`INSERT INTO messages (id, received_at, listener, client_address, client_helo, tls, app, mail_from, mail_params, size, sha256,
      body_file, received_header, state, next_attempt_at, expires_at, attempt_count, last_error, updated_at)
    VALUES (?, ?, 'default', '10.0.0.5', 'app.example', NULL, ?, ?, '{}', 2048, '', NULL, '', ?, ?, ?, 1, ?, ?)`);
  const recipient = db.prepare(`INSERT INTO recipients (message_id, idx, address, params, state, route, updated_at) VALUES (?, 0, ?, '{}', ?, ?, ?)`);
  const body = db.prepare(`INSERT INTO bodies (message_id, data) VALUES (?, ?)`);
  const span = 5 * DAY;
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const at = now - span + Math.floor((i / count) * span);
      const id = newMessageId(at);
      const state = stateFor(i);
      const app = APPS[i % APPS.length] as string;
      const sender = i % 7 === 0 ? `billing${i % 13}@contoso.example` : `${app}@contoso.example`;
      message.run(id, at, app, sender, state, state === 'deferred' ? now + 60_000 : null, at + 5 * DAY, state === 'failed' ? '550 5.1.1 User unknown' : null, at + 1000);
      recipient.run(id, `user${i % 5000}@fabrikam.example`, state, i % 3 === 0 ? 'smarthost' : 'm365', at + 1000);
      body.run(id, Buffer.from('Subject: bench\r\n\r\nx\r\n'));
    }
  });
  for (let i = 0; i < count; i += 50_000) batch(i, Math.min(count, i + 50_000));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.exec('ANALYZE');
  db.close();
}

async function time(url: string, token: string, runs = 25): Promise<{ medianMs: number; p95Ms: number; rows: number }> {
  const once = async () => {
    const started = performance.now();
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { messages?: unknown[]; detail?: string };
    if (!res.ok) throw new Error(`${url}: ${res.status} ${body.detail ?? ''}`);
    return { ms: performance.now() - started, rows: body.messages?.length ?? 0 };
  };
  for (let i = 0; i < 3; i++) await once();
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await once());
  const sorted = results.map((r) => r.ms).sort((a, b) => a - b);
  return { medianMs: sorted[Math.floor(runs / 2)] as number, p95Ms: sorted[Math.ceil(runs * 0.95) - 1] as number, rows: results[0]?.rows ?? 0 };
}

export async function runConsoleList(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { messages: { type: 'string', default: '1000000' }, dir: { type: 'string' }, json: { type: 'boolean', default: false } } });
  const count = Number(values.messages);
  if (!Number.isInteger(count) || count < 1000) {
    process.stderr.write(`bench: --messages expects a whole number of at least 1000, got "${values.messages}"\n`);
    return 64;
  }
  const dir = mkdtempSync(join(values.dir ?? tmpdir(), 'relay365-bench-console-'));
  const path = join(dir, 'relay365.db');
  try {
    new SqliteStore({ path, spool: join(dir, 'spool'), inlineLimit: 256 * 1024 }).close(); // the schema and its indexes
    const now = Date.now();
    const seedStarted = performance.now();
    seed(path, count, now);
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    if (!values.json) process.stdout.write(`seeded ${count.toLocaleString('en')} messages in ${seedSeconds.toFixed(1)} s\n`);

    const store = new SqliteStore({ path, spool: join(dir, 'spool'), inlineLimit: 256 * 1024 });
    const token = newApiToken();
    await store.createApiToken({ id: 'bench', name: 'bench', hash: sha256(token), owner: 'cli:bench', role: 'read-only', createdAt: now, expiresAt: now + 86_400_000 });
    const config = configSchema.parse({ node: { name: 'bench' }, store: { path }, admin: { port: 0 } });
    const admin = await startAdmin({ config, store, log: pino({ level: 'silent' }), listeners: () => new Map(), listening: () => true });
    try {
      const base = `${admin.url}api/messages`;
      const walkPages = Math.min(200, Math.floor((count * 0.9) / 500) - 1); // 2000 pages of 50 deep, or as deep as a small store goes
      const deepCursor = await (async () => {
        let cursor = '';
        // Walked in pages of 500 to get there sooner; the timed request is then a page of 50 from that cursor.
        const res = await fetch(`${base}?state=delivered&limit=500${cursor}`, { headers: { authorization: `Bearer ${token}` } });
        let page = (await res.json()) as { nextCursor: string | null };
        for (let i = 1; i < walkPages && page.nextCursor; i++) {
          cursor = `&cursor=${page.nextCursor}`;
          page = (await (await fetch(`${base}?state=delivered&limit=500${cursor}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { nextCursor: string | null };
        }
        return page.nextCursor ?? '';
      })();
      const hourStart = new Date(now - 3 * DAY).toISOString();
      const hourEnd = new Date(now - 3 * DAY + 3_600_000).toISOString();
      const queries: [string, string][] = [
        ['first page', `${base}?limit=50`],
        ['failed + app', `${base}?state=failed&app=sap&limit=50`],
        ['deferred + route', `${base}?state=deferred&route=m365&limit=50`],
        ['deferred or held', `${base}?state=deferred,held&limit=50`],
        ['time window (1 h)', `${base}?since=${hourStart}&until=${hourEnd}&limit=50`],
        [`deep page (#${walkPages * 10 + 1})`, `${base}?state=delivered&limit=50&cursor=${deepCursor}`],
        ['sender substring', `${base}?sender=billing&limit=50`],
      ];
      const results: Record<string, { medianMs: number; p95Ms: number; rows: number }> = {};
      for (const [name, url] of queries) results[name] = await time(url, token);
      const filtered = Object.entries(results).filter(([n]) => n !== 'first page' && n !== 'sender substring').map(([, r]) => r.medianMs);
      const ok = Math.max(...filtered) < 100;
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ messages: count, seedSeconds, results, targetMs: 100, ok }, null, 2)}\n`);
      } else {
        process.stdout.write(`\nGET /api/messages over HTTP, ${count.toLocaleString('en')} messages in SQLite (median / p95 of 25 runs)\n`);
        for (const [name, r] of Object.entries(results)) process.stdout.write(`  ${name.padEnd(20)} ${r.medianMs.toFixed(1).padStart(7)} ms  ${r.p95Ms.toFixed(1).padStart(7)} ms  (${r.rows} rows)\n`);
        process.stdout.write(`\n  filtered pages: slowest median ${Math.max(...filtered).toFixed(1)} ms — target < 100 ms: ${ok ? 'met' : 'MISSED'}\n`);
      }
      return 0;
    } finally {
      await admin.stop();
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
