/**
 * The PostgreSQL schema, as numbered migrations applied in order when a node opens the
 * store. Several nodes may start at once: a session advisory lock makes them take turns,
 * so each migration runs exactly once and a node that waited finds the schema current.
 * A migration is never edited once released; changes come as a new one.
 *
 * Message ids are text in the "C" collation: they sort by arrival byte for byte (paging by
 * id is paging by time), whatever the database's locale says.
 */
import type pg from 'pg';
import { LOCKS } from './connection.js';

export const MIGRATIONS: string[] = [
  /* 1: messages, their bodies in chunks, recipients, attempts */ `
  CREATE TABLE messages (
    id text COLLATE "C" PRIMARY KEY,
    received_at bigint NOT NULL,
    listener text NOT NULL,
    client_address text NOT NULL,
    client_helo text,
    tls text,
    app text,
    mail_from text NOT NULL,
    mail_params text NOT NULL,
    size bigint NOT NULL,
    sha256 text NOT NULL,
    received_header text NOT NULL,
    state text NOT NULL,
    next_attempt_at bigint,
    expires_at bigint NOT NULL,
    lease_owner text,
    lease_until bigint,
    attempt_count integer NOT NULL DEFAULT 0,
    last_error text,
    updated_at bigint NOT NULL
  );
  CREATE INDEX messages_due ON messages (next_attempt_at) WHERE state IN ('queued', 'deferred');
  CREATE INDEX messages_leases ON messages (lease_until) WHERE state = 'sending';
  CREATE INDEX messages_expiry ON messages (expires_at) WHERE state IN ('queued', 'deferred', 'held');
  CREATE INDEX messages_final ON messages (updated_at) WHERE state IN ('delivered', 'failed', 'cancelled');
  CREATE INDEX messages_state ON messages (state, id);
  CREATE INDEX messages_app ON messages (app, id);

  -- Bodies in chunks of at most CHUNK_BYTES, written as they stream in (before the message
  -- row exists, hence no foreign key) and read back one chunk at a time. EXTERNAL: stored
  -- out of line without compression, which mostly base64 mail would not repay.
  CREATE TABLE body_chunks (
    message_id text COLLATE "C" NOT NULL,
    seq integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (message_id, seq)
  );
  ALTER TABLE body_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
  -- Bodies being written whose message is not committed yet: what a crash leaves behind
  -- is found here and removed by maintenance.
  CREATE TABLE body_uploads (
    message_id text COLLATE "C" PRIMARY KEY,
    started_at bigint NOT NULL
  );

  CREATE TABLE recipients (
    message_id text COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    idx integer NOT NULL,
    address text NOT NULL,
    params text NOT NULL,
    state text NOT NULL,
    route text,
    retry_at bigint,
    reply_code integer,
    reply_enhanced text,
    reply_text text,
    verdict text,
    diagnosis text,
    updated_at bigint NOT NULL,
    PRIMARY KEY (message_id, idx)
  );

  CREATE TABLE attempts (
    id bigserial PRIMARY KEY,
    message_id text COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    recipient_idx integer NOT NULL,
    started_at bigint NOT NULL,
    duration_ms integer NOT NULL,
    node text NOT NULL,
    route text NOT NULL,
    transport text NOT NULL,
    verdict text NOT NULL,
    reply_code integer,
    reply_enhanced text,
    reply_text text,
    diagnosis text,
    fix text
  );
  CREATE INDEX attempts_message ON attempts (message_id, id);
  `,
  /* 2: route states, the sending log behind per-mailbox budgets, nodes, shared tokens */ `
  CREATE TABLE routes (
    name text PRIMARY KEY,
    state text NOT NULL,
    reason text,
    fix text,
    since bigint,
    probe_at bigint,
    last_success_at bigint,
    last_failure_at bigint,
    last_error text,
    updated_at bigint NOT NULL
  );

  CREATE TABLE sends (
    id bigserial PRIMARY KEY,
    key text NOT NULL,
    at bigint NOT NULL,
    recipients integer NOT NULL
  );
  CREATE INDEX sends_key_at ON sends (key, at);
  CREATE INDEX sends_at ON sends (at);

  CREATE TABLE nodes (
    name text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    version text NOT NULL,
    started_at bigint NOT NULL,
    heartbeat_at bigint NOT NULL,
    stopped_at bigint
  );

  -- App-only access tokens one node fetched for all (value: opaque, as the provider gives it).
  CREATE TABLE access_tokens (
    key text PRIMARY KEY,
    value text,
    expires_at bigint,
    updated_at bigint NOT NULL
  );

  -- Delegated sign-ins: each route's sealed msal-node token cache, versioned (compare-and-set).
  CREATE TABLE token_caches (
    route text PRIMARY KEY,
    data text NOT NULL,
    version integer NOT NULL,
    updated_at bigint NOT NULL
  );
  `,
  /* 3: the admin console: sessions and API tokens (hashes only), and the route filter of its message list */ `
  CREATE TABLE admin_sessions (
    id text PRIMARY KEY,
    "user" text NOT NULL,
    csrf text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
  );
  CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);
  CREATE TABLE api_tokens (
    id text PRIMARY KEY,
    name text NOT NULL,
    hash text NOT NULL UNIQUE,
    created_at bigint NOT NULL,
    last_used_at bigint,
    revoked_at bigint
  );
  CREATE INDEX recipients_route ON recipients (route, message_id);
  `,
  /* 4: what a message is (a DSN, an admin notification, or normal mail) and which recipients' DSNs were dealt with */ `
  ALTER TABLE messages ADD COLUMN kind text NOT NULL DEFAULT 'normal';
  ALTER TABLE recipients ADD COLUMN reported text;
  ALTER TABLE recipients ADD COLUMN warned_at bigint;
  -- Failures from before DSNs existed are not reported now, years late.
  UPDATE recipients SET reported = 'before-dsn' WHERE state IN ('failed', 'delivered', 'cancelled');
  CREATE INDEX messages_kind ON messages (kind, id) WHERE kind <> 'normal';
  CREATE INDEX recipients_unreported ON recipients (message_id, idx) WHERE reported IS NULL AND state IN ('failed', 'deferred', 'held');
  CREATE INDEX recipients_success_asked ON recipients (message_id, idx) WHERE reported IS NULL AND state = 'delivered' AND params LIKE '%SUCCESS%';
  `,
  /* 5: Idempotency-Key of the HTTP submission API: each key's claim and first answer, until it expires */ `
  CREATE TABLE idempotency_keys (
    key text PRIMARY KEY,
    fingerprint text NOT NULL,
    message_id text NOT NULL,
    status integer,
    body text,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
  );
  CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
  `,
  /* 6: when each admin notification was last sent, so that nodes sharing a store send it once per interval */ `
  CREATE TABLE notification_slots (
    key text PRIMARY KEY,
    sent_at bigint NOT NULL
  );
  `,
  /* 7: the connections each mailbox has open, counted for the whole cluster (Exchange Online allows 3 per mailbox) */ `
  CREATE TABLE mailbox_connections (
    key text NOT NULL,
    slot integer NOT NULL,
    node text NOT NULL,
    taken_at bigint NOT NULL,
    PRIMARY KEY (key, slot)
  );
  CREATE INDEX mailbox_connections_node ON mailbox_connections (node);
  `,
  /* 8: failed sign-ins (SMTP AUTH, the console) per address or user, counted for every node */ `
  CREATE TABLE sign_in_failures (
    key text PRIMARY KEY,
    count integer NOT NULL,
    first_at bigint NOT NULL,
    locked_until bigint NOT NULL
  );
  `,
  /* 9: nodes that found a mailbox's connections all taken, so that the nodes holding them share */ `
  CREATE TABLE mailbox_waits (
    key text NOT NULL,
    node text NOT NULL,
    at bigint NOT NULL,
    PRIMARY KEY (key, node)
  );
  `,
  /* 10: sign-in attempts counted before the password is checked (pending), a user's slow-down
     measured from its latest attempt, and the addresses each user signed in from (exempt from
     the user's slow-down) */ `
  ALTER TABLE sign_in_failures ADD COLUMN pending integer NOT NULL DEFAULT 0;
  ALTER TABLE sign_in_failures ADD COLUMN last_at bigint NOT NULL DEFAULT 0;
  CREATE TABLE sign_in_trust (
    user_key text NOT NULL,
    address_key text NOT NULL,
    until bigint NOT NULL,
    PRIMARY KEY (user_key, address_key)
  );
  CREATE INDEX sign_in_trust_until ON sign_in_trust (until);
  `,
  /* 11: API tokens get an owner, a role and an expiry; tokens made before keep the admin role they had, made by an unrecorded CLI user, for 90 more days */ `
  ALTER TABLE api_tokens ADD COLUMN owner text NOT NULL DEFAULT 'cli:unrecorded';
  ALTER TABLE api_tokens ADD COLUMN role text NOT NULL DEFAULT 'admin';
  ALTER TABLE api_tokens ADD COLUMN expires_at bigint NOT NULL DEFAULT 0;
  UPDATE api_tokens SET expires_at = (extract(epoch FROM now()) * 1000)::bigint + 7776000000;
  `,
  /* 12: the Message-ID a message is delivered with (to match Microsoft's non-delivery reports to it), recipients
     bounced after delivery, and which node reads each route's bounces and how far it has read */ `
  ALTER TABLE messages ADD COLUMN message_id_header text;
  CREATE INDEX messages_message_id_header ON messages (message_id_header) WHERE message_id_header IS NOT NULL;
  ALTER TABLE recipients ADD COLUMN bounced_at bigint;
  DROP INDEX recipients_unreported;
  CREATE INDEX recipients_unreported ON recipients (message_id, idx) WHERE reported IS NULL AND state IN ('failed', 'bounced', 'deferred', 'held');
  DROP INDEX messages_final;
  CREATE INDEX messages_final ON messages (updated_at) WHERE state IN ('delivered', 'failed', 'bounced', 'cancelled');
  CREATE TABLE bounce_readers (
    route text PRIMARY KEY,
    node text NOT NULL,
    lease_until bigint NOT NULL,
    watermark text,
    problem text
  );
  `,
  /* 13: the Subject as read at the door (the console's queue shows it), and the message a DSN or notification reports on */ `
  ALTER TABLE messages ADD COLUMN subject text;
  ALTER TABLE messages ADD COLUMN about text COLLATE "C";
  CREATE INDEX messages_about ON messages (about) WHERE about IS NOT NULL;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Whether relay365 ever created its tables here (a command that only reads creates none). */
export async function hasSchema(pool: pg.Pool): Promise<boolean> {
  const { rows } = await pool.query<{ found: string | null }>("SELECT to_regclass('schema_version')::text AS found");
  return rows[0]?.found != null;
}

export async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  let failed: Error | undefined;
  try {
    // Waits while another node migrates. The lock belongs to this session: released below, or
    // with the connection, which is closed rather than reused when anything failed.
    await client.query('SELECT pg_advisory_lock($1, $2)', [LOCKS.class, LOCKS.migrate]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)');
    const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_version');
    const current = rows[0]?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new Error(`the store's schema is version ${current}, newer than this relay365 knows (${MIGRATIONS.length}); upgrade relay365 on this node`);
    }
    for (let version = current + 1; version <= MIGRATIONS.length; version++) {
      await client.query('BEGIN');
      await client.query(MIGRATIONS[version - 1] as string);
      await client.query('INSERT INTO schema_version (version) VALUES ($1)', [version]);
      await client.query('COMMIT');
    }
    await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCKS.class, LOCKS.migrate]);
  } catch (err) {
    failed = err as Error;
    throw err;
  } finally {
    client.release(failed);
  }
}
