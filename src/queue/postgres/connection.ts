/**
 * Connections to PostgreSQL: the pool every node keeps, how values come back (bigint as a
 * JavaScript number: every bigint here is a time in milliseconds or a size, far below
 * 2^53), transactions, and the advisory locks the nodes coordinate with. (bytea comes back
 * as hex text that pg decodes natively: pg reads binary results as UTF-8 text, which would
 * corrupt them.)
 */
import pg from 'pg';

const INT8 = 20;

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8 && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * Advisory locks are (class, key) pairs of 32-bit numbers; the class is relay365's own
 * ("R365"), so locks of other applications sharing the database never collide with ours.
 */
export const LOCKS = {
  class: 0x52333635,
  /** Held while a node migrates the schema (session lock: the others wait). */
  migrate: 1,
  /** Held by the node expiring and purging (transaction lock, tried: the others skip it). */
  maintenance: 2,
} as const;

export interface PoolOptions {
  url: string;
  /** Given apart from the URL (store.password), so it can come from the environment. */
  password?: string;
  max: number;
  /** Shown in pg_stat_activity, so a DBA can tell the nodes' connections apart. */
  applicationName: string;
  /**
   * Body chunks are written before their message is committed; they need not wait for their
   * own fsync, because the message's commit flushes the write-ahead log up to itself, which
   * includes every chunk written before it. A crash before that leaves an upload maintenance removes.
   */
  asyncCommit?: boolean;
  onIdleError: (err: Error) => void;
}

export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    ...(options.password !== undefined ? { password: options.password } : {}),
    max: options.max,
    application_name: options.applicationName,
    types,
    // A database that does not answer is an error a client can be told about (452), not a hang.
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    ...(options.asyncCommit ? { options: '-c synchronous_commit=off' } : {}),
  });
  // A connection that breaks while idle (the server restarted) is replaced on the next query.
  pool.on('error', options.onIdleError);
  return pool;
}

/** Runs `work` in one transaction on one connection; rolls back if it throws. */
export async function transaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw err;
  } finally {
    // A connection that could not even roll back is closed rather than given to the next caller.
    client.release(broken);
  }
}
