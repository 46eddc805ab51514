/**
 * Every SQL statement of the SQLite store, in one place (prepared once on open).
 * The hot queries name their partial index (INDEXED BY): without statistics the planner
 * prefers the state index and sorts every due message on each claim, which grows with the
 * backlog.
 */
const PENDING = `('queued', 'deferred')`;

export const SQL = {
  insertMessage: `INSERT INTO messages (id, received_at, listener, client_address, client_helo, tls, app, mail_from, mail_params,
      size, sha256, body_file, received_header, state, next_attempt_at, expires_at, lease_owner, lease_until, updated_at, message_id_header, subject)
    VALUES (@id, @received_at, @listener, @client_address, @client_helo, @tls, @app, @mail_from, @mail_params,
      @size, @sha256, @body_file, @received_header, @state, @next_attempt_at, @expires_at, @lease_owner, @lease_until, @updated_at, @message_id_header, @subject)`,
  insertBody: `INSERT INTO bodies (message_id, data) VALUES (?, ?)`,
  insertRecipient: `INSERT INTO recipients (message_id, idx, address, params, state, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
  setKind: `UPDATE messages SET kind = ?, about = ? WHERE id = ?`,
  oldestWaiting: `SELECT min(received_at) AS at FROM messages WHERE state IN ('queued', 'deferred', 'held')`,
  markReported: `UPDATE recipients SET reported = 'reported', warned_at = coalesce(warned_at, ?) WHERE message_id = ? AND idx = ? AND reported IS NULL`,
  markWarned: `UPDATE recipients SET warned_at = ? WHERE message_id = ? AND idx = ? AND warned_at IS NULL AND reported IS NULL`,
  /** Recipients that may be owed a DSN (Store.dueReports): failed or waiting since before ?, then delivered with NOTIFY=SUCCESS. */
  selectDueReports: `SELECT * FROM (SELECT r.message_id, r.idx, r.state FROM recipients r INDEXED BY recipients_unreported
        JOIN messages m ON m.id = r.message_id
        WHERE r.reported IS NULL AND r.state IN ('failed', 'bounced', 'deferred', 'held') AND (r.state IN ('failed', 'bounced') OR (r.warned_at IS NULL AND m.received_at < ?))
        ORDER BY r.message_id LIMIT ?)
    UNION ALL SELECT * FROM (SELECT r.message_id, r.idx, r.state FROM recipients r INDEXED BY recipients_success_asked
        WHERE r.reported IS NULL AND r.state = 'delivered' AND r.params LIKE '%SUCCESS%' ORDER BY r.message_id LIMIT ?)`,
  selectBodyFile: `SELECT body_file FROM messages WHERE id = ?`,
  selectBody: `SELECT data FROM bodies WHERE message_id = ?`,

  selectDue: `SELECT * FROM messages INDEXED BY messages_due WHERE state IN ${PENDING} AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`,
  selectExpiredLeases: `SELECT * FROM messages INDEXED BY messages_leases WHERE state = 'sending' AND lease_until < ? ORDER BY lease_until LIMIT ?`,
  lease: `UPDATE messages SET state = 'sending', lease_owner = ?, lease_until = ?, updated_at = ? WHERE id = ?`,
  releaseLeases: `UPDATE messages SET state = 'queued', next_attempt_at = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
    WHERE state = 'sending' AND lease_owner = ? RETURNING id`,
  renewLease: `UPDATE messages SET lease_until = ? WHERE id = ? AND state = 'sending' AND lease_owner = ?`,

  insertAttempt: `INSERT INTO attempts (message_id, attempt, recipient_idx, started_at, duration_ms, node, route, transport, verdict,
      reply_code, reply_enhanced, reply_text, diagnosis, fix)
    VALUES (@message_id, @attempt, @recipient_idx, @started_at, @duration_ms, @node, @route, @transport, @verdict,
      @reply_code, @reply_enhanced, @reply_text, @diagnosis, @fix)`,
  updateRecipient: `UPDATE recipients SET state = @state, route = @route, retry_at = @retry_at, reply_code = @reply_code,
      reply_enhanced = @reply_enhanced, reply_text = @reply_text, verdict = @verdict, diagnosis = @diagnosis, updated_at = @updated_at
    WHERE message_id = @message_id AND idx = @idx`,
  finishMessage: `UPDATE messages SET state = @state, next_attempt_at = @next_attempt_at, attempt_count = attempt_count + @attempted,
      last_error = @last_error, lease_owner = NULL, lease_until = NULL, updated_at = @updated_at
    WHERE id = @id`,
  nextWake: `SELECT (SELECT min(next_attempt_at) FROM messages INDEXED BY messages_due WHERE state IN ${PENDING}) AS due,
      (SELECT min(lease_until) FROM messages INDEXED BY messages_leases WHERE state = 'sending') AS lease`,

  selectExpired: `SELECT * FROM messages INDEXED BY messages_expiry WHERE state IN ('queued', 'deferred', 'held') AND expires_at <= ?`,
  expireRecipients: `UPDATE recipients SET state = 'failed', verdict = 'permanent', diagnosis = ?, retry_at = NULL, updated_at = ?
    WHERE message_id = ? AND state IN ('queued', 'deferred', 'held')`,
  setState: `UPDATE messages SET state = ?, next_attempt_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
    WHERE id = ?`,
  selectPurgeable: `SELECT id, body_file FROM messages INDEXED BY messages_final WHERE state IN ('delivered', 'failed', 'bounced', 'cancelled') AND updated_at < ?`,
  deleteMessage: `DELETE FROM messages WHERE id = ?`,

  selectMessage: `SELECT * FROM messages WHERE id = ?`,
  selectNotices: `SELECT id, kind, state, received_at FROM messages WHERE about = ? ORDER BY id`,
  selectRecipients: `SELECT * FROM recipients WHERE message_id = ? ORDER BY idx`,
  moveRecipient: `UPDATE recipients SET state = ?, diagnosis = coalesce(?, diagnosis), retry_at = NULL, updated_at = ?
    WHERE message_id = ? AND idx = ?`,
  selectAttempts: `SELECT * FROM attempts WHERE message_id = ? ORDER BY id`,
  selectHeld: `SELECT id FROM messages WHERE state = 'held' ORDER BY id LIMIT ?`,
  selectHeldOnRoute: `SELECT DISTINCT m.id FROM messages m JOIN recipients r ON r.message_id = m.id
    WHERE m.state = 'held' AND r.state = 'held' AND r.route = ? ORDER BY m.id LIMIT ?`,
  countByState: `SELECT state, count(*) AS n FROM messages GROUP BY state`,
} as const;
