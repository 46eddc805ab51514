import { defineConfig } from 'vitest/config';

// Tests start real servers on loopback and real child processes: forks isolate them,
// and a generous timeout covers the crash and expiry scenarios (which wait on leases).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
});
