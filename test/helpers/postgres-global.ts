/**
 * vitest globalSetup: one throwaway PostgreSQL server for the whole run (bench/postgres-server.ts),
 * started before any test file and stopped after the last. Test files reach it through
 * test/helpers/postgres.ts, each test with a database of its own. Without PostgreSQL's server
 * binaries the run fails here, saying what to install: the PostgreSQL store is tested by
 * `npm test`, never skipped.
 */
import type { TestProject } from 'vitest/node';
import { startThrowawayPostgres } from '../../bench/postgres-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The throwaway server's URL template: postgres://postgres@127.0.0.1:<port>/ + a database name. */
    postgresBase: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startThrowawayPostgres();
  project.provide('postgresBase', server.url(''));
  return () => server.stop();
}
