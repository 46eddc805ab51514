/**
 * The SQLite schema, as numbered migrations applied in order on open. A migration is
 * never edited once released; changes come as a new one.
 */
import type Database from 'better-sqlite3';

export const MIGRATIONS: string[] = [
  /* 1: messages, bodies, recipients, attempts */ `
  CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL,
    listener TEXT NOT NULL,
    client_address TEXT NOT NULL,
    client_helo TEXT,
    tls TEXT,
    app TEXT,
    mail_from TEXT NOT NULL,
    mail_params TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    body_file TEXT,
    received_header TEXT NOT NULL,
    state TEXT NOT NULL,
    next_attempt_at INTEGER,
    expires_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    attempt_count INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX messages_due ON messages (next_attempt_at) WHERE state IN ('queued', 'deferred');
  CREATE INDEX messages_leases ON messages (lease_until) WHERE state = 'sending';
  CREATE INDEX messages_expiry ON messages (expires_at) WHERE state IN ('queued', 'deferred', 'held');
  CREATE INDEX messages_final ON messages (updated_at) WHERE state IN ('delivered', 'failed', 'cancelled');
  CREATE INDEX messages_state ON messages (state, id);
  CREATE INDEX messages_app ON messages (app, id);

  CREATE TABLE bodies (
    message_id TEXT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    data BLOB NOT NULL
  );

  CREATE TABLE recipients (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    address TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    route TEXT,
    retry_at INTEGER,
    reply_code INTEGER,
    reply_enhanced TEXT,
    reply_text TEXT,
    verdict TEXT,
    diagnosis TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, idx)
  );

  CREATE TABLE attempts (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    recipient_idx INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    node TEXT NOT NULL,
    route TEXT NOT NULL,
    transport TEXT NOT NULL,
    verdict TEXT NOT NULL,
    reply_code INTEGER,
    reply_enhanced TEXT,
    reply_text TEXT,
    diagnosis TEXT,
    fix TEXT
  );
  CREATE INDEX attempts_message ON attempts (message_id, id);
  `,
  /* 2: route states and the sending log behind per-mailbox budgets */ `
  CREATE TABLE routes (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    reason TEXT,
    fix TEXT,
    since INTEGER,
    probe_at INTEGER,
    last_success_at INTEGER,
    last_failure_at INTEGER,
    last_error TEXT,
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE sends (
    key TEXT NOT NULL,
    at INTEGER NOT NULL,
    recipients INTEGER NOT NULL
  );
  CREATE INDEX sends_key_at ON sends (key, at);
  `,
  /* 3: delegated sign-ins: each route's msal-node token cache, sealed (see StoredTokenCache) */ `
  CREATE TABLE token_caches (
    route TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
  /* 4: the nodes using the store (heartbeats) and app-only access tokens shared through it */ `
  CREATE TABLE nodes (
    name TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    version TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    stopped_at INTEGER
  );
  CREATE TABLE access_tokens (
    key TEXT PRIMARY KEY,
    value TEXT,
    expires_at INTEGER,
    updated_at INTEGER NOT NULL
  );
  `,
  /* 5: the admin console: sessions and API tokens (hashes only), and the route filter of its message list */ `
  CREATE TABLE admin_sessions (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);
  CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
  );
  CREATE INDEX recipients_route ON recipients (route, message_id);
  `,
  /* 6: what a message is (a DSN, an admin notification, or normal mail) and which recipients' DSNs were dealt with */ `
  ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'normal';
  ALTER TABLE recipients ADD COLUMN reported TEXT;
  ALTER TABLE recipients ADD COLUMN warned_at INTEGER;
  -- Failures from before DSNs existed are not reported now, years late.
  UPDATE recipients SET reported = 'before-dsn' WHERE state IN ('failed', 'delivered', 'cancelled');
  CREATE INDEX messages_kind ON messages (kind, id) WHERE kind <> 'normal';
  CREATE INDEX recipients_unreported ON recipients (message_id, idx) WHERE reported IS NULL AND state IN ('failed', 'deferred', 'held');
  CREATE INDEX recipients_success_asked ON recipients (message_id, idx) WHERE reported IS NULL AND state = 'delivered' AND params LIKE '%SUCCESS%';
  `,
  /* 7: Idempotency-Key of the HTTP submission API: each key's claim and first answer, until it expires */ `
  CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    message_id TEXT NOT NULL,
    status INTEGER,
    body TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
  `,
  /* 8: when each admin notification was last sent, so that nodes sharing a store send it once per interval */ `
  CREATE TABLE notification_slots (
    key TEXT PRIMARY KEY,
    sent_at INTEGER NOT NULL
  );
  `,
  /* 9: the connections each mailbox has open, counted for every node sharing the store (Exchange Online allows 3 per mailbox) */ `
  CREATE TABLE mailbox_connections (
    key TEXT NOT NULL,
    slot INTEGER NOT NULL,
    node TEXT NOT NULL,
    taken_at INTEGER NOT NULL,
    PRIMARY KEY (key, slot)
  );
  CREATE INDEX mailbox_connections_node ON mailbox_connections (node);
  `,
  /* 10: failed sign-ins (SMTP AUTH, the console) per address or user, counted for every node sharing the store */ `
  CREATE TABLE sign_in_failures (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    locked_until INTEGER NOT NULL
  );
  `,
  /* 11: nodes that found a mailbox's connections all taken, so that the nodes holding them share */ `
  CREATE TABLE mailbox_waits (
    key TEXT NOT NULL,
    node TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (key, node)
  );
  `,
  /* 12: sign-in attempts counted before the password is checked (pending), a user's slow-down
     measured from its latest attempt, and the addresses each user signed in from (exempt from
     the user's slow-down) */ `
  ALTER TABLE sign_in_failures ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE sign_in_failures ADD COLUMN last_at INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE sign_in_trust (
    user_key TEXT NOT NULL,
    address_key TEXT NOT NULL,
    until INTEGER NOT NULL,
    PRIMARY KEY (user_key, address_key)
  );
  CREATE INDEX sign_in_trust_until ON sign_in_trust (until);
  `,
  /* 13: API tokens get an owner, a role and an expiry; tokens made before keep the admin role they had, made by an unrecorded CLI user, for 90 more days */ `
  ALTER TABLE api_tokens ADD COLUMN owner TEXT NOT NULL DEFAULT 'cli:unrecorded';
  ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';
  ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
  UPDATE api_tokens SET expires_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 7776000000;
  `,
  /* 14: the Message-ID a message is delivered with (to match Microsoft's non-delivery reports to it), recipients
     bounced after delivery, and which node reads each route's bounces and how far it has read */ `
  ALTER TABLE messages ADD COLUMN message_id_header TEXT;
  CREATE INDEX messages_message_id_header ON messages (message_id_header) WHERE message_id_header IS NOT NULL;
  ALTER TABLE recipients ADD COLUMN bounced_at INTEGER;
  DROP INDEX recipients_unreported;
  CREATE INDEX recipients_unreported ON recipients (message_id, idx) WHERE reported IS NULL AND state IN ('failed', 'bounced', 'deferred', 'held');
  DROP INDEX messages_final;
  CREATE INDEX messages_final ON messages (updated_at) WHERE state IN ('delivered', 'failed', 'bounced', 'cancelled');
  CREATE TABLE bounce_readers (
    route TEXT PRIMARY KEY,
    node TEXT NOT NULL,
    lease_until INTEGER NOT NULL,
    watermark TEXT,
    problem TEXT
  );
  `,
  /* 15: the Subject as read at the door (the console's queue shows it), and the message a DSN or notification reports on */ `
  ALTER TABLE messages ADD COLUMN subject TEXT;
  ALTER TABLE messages ADD COLUMN about TEXT;
  CREATE INDEX messages_about ON messages (about) WHERE about IS NOT NULL;
  `,
];

export function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare('SELECT max(version) AS version FROM schema_version').get() as { version: number | null };
  const current = row.version ?? 0;
  if (current > MIGRATIONS.length) {
    throw new Error(`the store's schema is version ${current}, newer than this relay365 knows (${MIGRATIONS.length}); upgrade relay365`);
  }
  for (let version = current + 1; version <= MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version - 1] as string);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(version);
    }).immediate();
  }
}
