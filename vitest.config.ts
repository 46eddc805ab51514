import { defineConfig } from 'vitest/config';

// Tests start real servers on loopback and real child processes: forks isolate them,
// and a generous timeout covers the crash and expiry scenarios (which wait on leases).
// globalSetup starts one throwaway PostgreSQL for the run (the PostgreSQL store's tests).
//
// Two projects, run one after the other (groupOrder): every test, then the secret-leak scan
// (test/secrets/leak-scan.final.ts), which reads the relay logs and CLI output the whole run
// collected (test/secrets/leak-sink.ts) and fails on any secret or token in them.
export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'relay365',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/helpers/postgres-global.ts', 'test/secrets/leak-dir.global.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'leak-scan',
          include: ['test/secrets/leak-scan.final.ts'],
          globalSetup: ['test/secrets/leak-dir.global.ts'],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
