/**
 * The PostgreSQL store passes the same contract as SQLite (store-contract.ts), each test on a
 * database of its own in the run's throwaway PostgreSQL (test/helpers/postgres-global.ts).
 */
import { freshDatabase, openPostgresStore } from '../helpers/postgres.js';
import { storeContract } from './store-contract.js';

storeContract('PostgreSQL', async () => {
  const url = await freshDatabase();
  return { store: await openPostgresStore(url), sibling: () => openPostgresStore(url) };
});
