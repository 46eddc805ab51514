/**
 * Every SQL statement of the PostgreSQL store, in one place. The hot ones (accepting,
 * claiming, finishing attempts) are single statements over arrays, so a batch of
 * messages costs one round trip and one commit; they carry a name, so each connection
 * plans them once.
 */
const PENDING = `('queued', 'deferred')`;
const FINAL = `('delivered', 'failed', 'bounced', 'cancelled')`;

/** Messages and their recipients for a batch of accepts; body chunks are added per batch (see acceptWithBodies). */
const ACCEPT_HEAD = `WITH m AS (
    INSERT INTO messages (id, received_at, listener, client_address, client_helo, tls, app, mail_from, mail_params, size, sha256,
      received_header, state, next_attempt_at, expires_at, lease_owner, lease_until, updated_at, message_id_header, subject)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
      $10::bigint[], $11::text[], $12::text[], $13::text[], $14::bigint[], $15::bigint[], $16::text[], $17::bigint[], $18::bigint[], $19::text[], $26::text[])
    RETURNING id
  ), r AS (
    INSERT INTO recipients (message_id, idx, address, params, state, updated_at)
    SELECT * FROM unnest($20::text[], $21::integer[], $22::text[], $23::text[], $24::text[], $25::bigint[])
    RETURNING 1
  ), u AS (
    DELETE FROM body_uploads WHERE message_id = ANY($1::text[]) RETURNING 1
  )`;
export const ACCEPT_PARAMS = 26;

/**
 * The accept statement for a batch whose bodies' last chunks are `tails` rows of VALUES:
 * bytea goes as a binary parameter each (an array of bytea would travel as hex text).
 */
export function acceptWithBodies(tails: number): string {
  const values = Array.from({ length: tails }, (_, i) => {
    const p = ACCEPT_PARAMS + i * 3;
    return `($${p + 1}::text, $${p + 2}::integer, $${p + 3}::bytea)`;
  });
  const bodies = tails ? `, b AS (INSERT INTO body_chunks (message_id, seq, data) VALUES ${values.join(', ')} RETURNING 1)` : '';
  return `${ACCEPT_HEAD}${bodies} SELECT count(*)::integer AS n FROM m`;
}

export const SQL = {
  setKind: `UPDATE messages SET kind = $1, about = $3 WHERE id = $2`,
  oldestWaiting: `SELECT min(received_at) AS at FROM messages WHERE state IN ('queued', 'deferred', 'held')`,
  markReports: `UPDATE recipients r SET reported = CASE WHEN x.mark = 'final' THEN 'reported' ELSE r.reported END,
      warned_at = coalesce(r.warned_at, $1::bigint)
    FROM unnest($2::text[], $3::integer[], $4::text[]) AS x(message_id, idx, mark)
    WHERE r.message_id = x.message_id AND r.idx = x.idx AND r.reported IS NULL AND (x.mark = 'final' OR r.warned_at IS NULL)
    RETURNING r.idx`,
  /** Recipients that may be owed a DSN (Store.dueReports): failed or waiting since before $1, then delivered with NOTIFY=SUCCESS. */
  selectDueReports: `(SELECT r.message_id, r.idx, r.state FROM recipients r JOIN messages m ON m.id = r.message_id
        WHERE r.reported IS NULL AND r.state IN ('failed', 'bounced', 'deferred', 'held') AND (r.state IN ('failed', 'bounced') OR (r.warned_at IS NULL AND m.received_at < $1::bigint))
        ORDER BY r.message_id LIMIT $2)
    UNION ALL (SELECT r.message_id, r.idx, r.state FROM recipients r
        WHERE r.reported IS NULL AND r.state = 'delivered' AND r.params LIKE '%SUCCESS%' ORDER BY r.message_id LIMIT $2)`,
  insertChunk: `INSERT INTO body_chunks (message_id, seq, data) VALUES ($1, $2, $3)`,
  startUpload: `INSERT INTO body_uploads (message_id, started_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
  abandonUpload: `WITH c AS (DELETE FROM body_chunks WHERE message_id = $1) DELETE FROM body_uploads WHERE message_id = $1`,
  /** How many chunks a body has, and the first (for most messages, the whole body): one round trip. */
  bodyStart: `SELECT (SELECT count(*)::integer FROM body_chunks c WHERE c.message_id = m.id) AS chunks,
      (SELECT data FROM body_chunks c WHERE c.message_id = m.id AND c.seq = 0) AS first
    FROM messages m WHERE m.id = $1`,
  bodyChunk: `SELECT data FROM body_chunks WHERE message_id = $1 AND seq = $2`,

  /**
   * Due messages first, then messages whose lease expired (a node died delivering them), each
   * row locked with SKIP LOCKED so nodes claiming at once take different messages; leased,
   * and returned with their recipients, in one statement.
   */
  claim: `WITH due AS (
      SELECT id, false AS recovered FROM messages WHERE state IN ${PENDING} AND next_attempt_at <= $1
      ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED
    ), expired AS (
      SELECT id, true AS recovered FROM messages WHERE state = 'sending' AND lease_until < $1
      ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED
    ), picked AS (
      SELECT * FROM due UNION ALL SELECT * FROM expired LIMIT $2
    ), claimed AS (
      UPDATE messages m SET state = 'sending', lease_owner = $3, lease_until = $4, updated_at = $1
      FROM picked WHERE m.id = picked.id
      RETURNING m.id, m.received_at, m.expires_at, m.mail_from, m.mail_params, m.app, m.size, m.received_header, m.attempt_count, picked.recovered
    )
    SELECT c.*, (SELECT json_agg(json_build_object('idx', r.idx, 'address', r.address, 'params', r.params, 'state', r.state) ORDER BY r.idx)
      FROM recipients r WHERE r.message_id = c.id) AS recipients
    FROM claimed c`,
  releaseLeases: `UPDATE messages SET state = 'queued', next_attempt_at = $1, lease_owner = NULL, lease_until = NULL, updated_at = $1
    WHERE state = 'sending' AND lease_owner = $2 RETURNING id`,
  renewLeases: `UPDATE messages SET lease_until = $1 WHERE id = ANY($2::text[]) AND state = 'sending' AND lease_owner = $3 RETURNING id`,

  /** A batch of finished attempts: messages, then (only for messages still there) recipients and attempt rows. */
  finish: `WITH f AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::integer[], $6::bigint[])
        AS f(id, state, next_attempt_at, last_error, attempted, updated_at)
    ), m AS (
      UPDATE messages SET state = f.state, next_attempt_at = f.next_attempt_at, attempt_count = attempt_count + f.attempted,
        last_error = f.last_error, lease_owner = NULL, lease_until = NULL, updated_at = f.updated_at
      FROM f WHERE messages.id = f.id RETURNING messages.id
    ), r AS (
      UPDATE recipients SET state = x.state, route = x.route, retry_at = x.retry_at, reply_code = x.reply_code,
        reply_enhanced = x.reply_enhanced, reply_text = x.reply_text, verdict = x.verdict, diagnosis = x.diagnosis, updated_at = x.updated_at
      FROM unnest($7::text[], $8::integer[], $9::text[], $10::text[], $11::bigint[], $12::integer[], $13::text[], $14::text[], $15::text[],
          $16::text[], $17::bigint[])
        AS x(message_id, idx, state, route, retry_at, reply_code, reply_enhanced, reply_text, verdict, diagnosis, updated_at)
      WHERE recipients.message_id = x.message_id AND recipients.idx = x.idx AND x.message_id IN (SELECT id FROM m)
      RETURNING 1
    ), a AS (
      INSERT INTO attempts (message_id, attempt, recipient_idx, started_at, duration_ms, node, route, transport, verdict,
        reply_code, reply_enhanced, reply_text, diagnosis, fix)
      SELECT y.* FROM unnest($18::text[], $19::integer[], $20::integer[], $21::bigint[], $22::integer[], $23::text[], $24::text[], $25::text[],
          $26::text[], $27::integer[], $28::text[], $29::text[], $30::text[], $31::text[])
        AS y(message_id, attempt, recipient_idx, started_at, duration_ms, node, route, transport, verdict,
          reply_code, reply_enhanced, reply_text, diagnosis, fix)
      WHERE y.message_id IN (SELECT id FROM m)
      RETURNING 1
    )
    SELECT count(*)::integer AS n FROM m`,
  nextWake: `SELECT (SELECT min(next_attempt_at) FROM messages WHERE state IN ${PENDING}) AS due,
      (SELECT min(lease_until) FROM messages WHERE state = 'sending') AS lease`,

  /** Maintenance: one node at a time holds this transaction lock; the others skip their turn. */
  tryMaintenanceLock: `SELECT pg_try_advisory_xact_lock($1, $2) AS locked`,
  selectExpired: `SELECT id, last_error FROM messages WHERE state IN ('queued', 'deferred', 'held') AND expires_at <= $1
    ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
  expireRecipients: `UPDATE recipients SET state = 'failed', verdict = 'permanent', diagnosis = x.reason, retry_at = NULL, updated_at = $1
    FROM unnest($2::text[], $3::text[]) AS x(id, reason)
    WHERE recipients.message_id = x.id AND recipients.state IN ('queued', 'deferred', 'held')`,
  expireMessages: `UPDATE messages SET state = 'failed', next_attempt_at = NULL, last_error = x.reason, lease_owner = NULL, lease_until = NULL, updated_at = $1
    FROM unnest($2::text[], $3::text[]) AS x(id, reason) WHERE messages.id = x.id`,
  purgeMessages: `WITH gone AS (
      DELETE FROM messages WHERE id IN (
        SELECT id FROM messages WHERE state IN ${FINAL} AND updated_at < $1 ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING id
    ), chunks AS (DELETE FROM body_chunks WHERE message_id IN (SELECT id FROM gone))
    SELECT count(*)::integer AS n FROM gone`,
  purgeUploads: `WITH gone AS (DELETE FROM body_uploads WHERE started_at < $1 RETURNING message_id)
    DELETE FROM body_chunks WHERE message_id IN (SELECT message_id FROM gone)`,

  selectMessage: `SELECT * FROM messages WHERE id = $1`,
  selectNotices: `SELECT id, kind, state, received_at FROM messages WHERE about = $1 ORDER BY id`,
  lockMessage: `SELECT * FROM messages WHERE id = $1 FOR UPDATE`,
  selectRecipients: `SELECT * FROM recipients WHERE message_id = $1 ORDER BY idx`,
  selectAttempts: `SELECT * FROM attempts WHERE message_id = $1 ORDER BY id`,
  moveRecipient: `UPDATE recipients SET state = $1, diagnosis = coalesce($2, diagnosis), retry_at = NULL, updated_at = $3
    WHERE message_id = $4 AND idx = $5`,
  setState: `UPDATE messages SET state = $1, next_attempt_at = $2, last_error = $3, lease_owner = NULL, lease_until = NULL, updated_at = $4
    WHERE id = $5`,
  deleteMessage: `WITH c AS (DELETE FROM body_chunks WHERE message_id = $1) DELETE FROM messages WHERE id = $1`,
  selectHeld: `SELECT id FROM messages WHERE state = 'held' ORDER BY id LIMIT $1`,
  selectHeldOnRoute: `SELECT DISTINCT m.id FROM messages m JOIN recipients r ON r.message_id = m.id
    WHERE m.state = 'held' AND r.state = 'held' AND r.route = $1 ORDER BY m.id LIMIT $2`,
  countByState: `SELECT state, count(*)::integer AS n FROM messages GROUP BY state`,

  routes: `SELECT * FROM routes ORDER BY name`,
  setRouteState: `INSERT INTO routes (name, state, reason, fix, since, probe_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $5)
    ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state, reason = EXCLUDED.reason, fix = EXCLUDED.fix, probe_at = EXCLUDED.probe_at,
      updated_at = EXCLUDED.updated_at, since = CASE WHEN routes.state = EXCLUDED.state THEN routes.since ELSE EXCLUDED.since END`,
  routeSuccess: `INSERT INTO routes (name, state, last_success_at, updated_at) VALUES ($1, 'active', $2, $2)
    ON CONFLICT (name) DO UPDATE SET last_success_at = EXCLUDED.last_success_at, updated_at = EXCLUDED.updated_at`,
  routeFailure: `INSERT INTO routes (name, state, last_failure_at, last_error, updated_at) VALUES ($1, 'active', $2, $3, $2)
    ON CONFLICT (name) DO UPDATE SET last_failure_at = EXCLUDED.last_failure_at, last_error = EXCLUDED.last_error, updated_at = EXCLUDED.updated_at`,
  claimProbe: `UPDATE routes SET probe_at = $1 WHERE name = $2 AND state = 'held' AND probe_at IS NOT NULL AND probe_at <= $3 RETURNING name`,

  /** A mailbox's budget is changed by one node at a time: a transaction lock on its key (hashed into the lock's 32 bits). */
  lockBudget: `SELECT pg_advisory_xact_lock($1, hashtext($2))`,
  budgetUsed: `SELECT count(*) FILTER (WHERE at > $2)::integer AS sent, coalesce(sum(recipients), 0)::bigint AS used
    FROM sends WHERE key = $1 AND at > least($2, $3)`,
  nthSend: `SELECT at FROM sends WHERE key = $1 AND at > $2 ORDER BY at, id OFFSET $3 LIMIT 1`,
  /** The send whose sliding out of the day window frees room for `recipients` more ($3 used, $4 wanted, $5 the limit). */
  recipientsFreeAt: `SELECT at FROM (
      SELECT at, sum(recipients) OVER (ORDER BY at, id ROWS UNBOUNDED PRECEDING) AS freed FROM sends WHERE key = $1 AND at > $2
    ) s WHERE $3 - freed + $4 <= $5 ORDER BY at LIMIT 1`,
  insertSend: `INSERT INTO sends (key, at, recipients) VALUES ($1, $2, $3) RETURNING id`,
  settleSend: `UPDATE sends SET at = greatest(at, $1) WHERE id = $2`,
  purgeSends: `DELETE FROM sends WHERE at < $1`,

  heartbeat: `INSERT INTO nodes (name, host, pid, version, started_at, heartbeat_at, stopped_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)
    ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, version = EXCLUDED.version,
      started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at, stopped_at = NULL`,
  nodeStopped: `UPDATE nodes SET heartbeat_at = $2, stopped_at = $2 WHERE name = $1`,
  nodes: `SELECT n.*, (SELECT count(*)::integer FROM messages m WHERE m.state = 'sending' AND m.lease_owner = n.name) AS delivering
    FROM nodes n ORDER BY n.name`,
  purgeNodes: `DELETE FROM nodes WHERE heartbeat_at < $1`,
  /** Connection slots of nodes gone from the nodes table (they count for nobody already). */
  purgeConnections: `DELETE FROM mailbox_connections c WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.name = c.node)`,
  purgeWaits: `DELETE FROM mailbox_waits WHERE at < $1`,
  purgeSignInFailures: `DELETE FROM sign_in_failures WHERE locked_until < $1 AND last_at < $1 AND first_at < $1`,
  purgeSignInTrust: `DELETE FROM sign_in_trust WHERE until < $1`,

  accessToken: `SELECT value, expires_at FROM access_tokens WHERE key = $1 AND value IS NOT NULL`,
  ensureAccessToken: `INSERT INTO access_tokens (key, updated_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
  lockAccessToken: `SELECT value, expires_at FROM access_tokens WHERE key = $1 FOR UPDATE`,
  putAccessToken: `UPDATE access_tokens SET value = $2, expires_at = $3, updated_at = $4 WHERE key = $1`,
  forgetAccessToken: `UPDATE access_tokens SET value = NULL, expires_at = NULL WHERE key = $1 AND value = $2`,
  purgeAccessTokens: `DELETE FROM access_tokens WHERE coalesce(expires_at, updated_at) < $1`,

  loadTokenCache: `SELECT route, data, version, updated_at FROM token_caches WHERE route = $1`,
  insertTokenCache: `INSERT INTO token_caches (route, data, version, updated_at) VALUES ($1, $2, 1, $3) ON CONFLICT (route) DO NOTHING RETURNING version`,
  updateTokenCache: `UPDATE token_caches SET data = $1, version = version + 1, updated_at = $2 WHERE route = $3 AND version = $4 RETURNING version`,
  deleteTokenCache: `DELETE FROM token_caches WHERE route = $1`,
} as const;
