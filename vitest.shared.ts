import { defineConfig } from 'vitest/config';

/**
 * Every package's tests in two projects run by one `vitest run`:
 * - `unit`: `src/**\/*.test.ts`, beside the code, fast and self-contained;
 * - `integration`: `test/**\/*.test.ts`, real PostgreSQL, Redis, sockets and
 *   promtool, with longer timeouts and files run one at a time.
 */
export function packageTestConfig() {
  return defineConfig({
    test: {
      projects: [
        {
          extends: true,
          test: {
            name: 'unit',
            include: ['src/**/*.test.ts'],
          },
        },
        {
          extends: true,
          test: {
            name: 'integration',
            include: ['test/**/*.test.ts'],
            testTimeout: 60_000,
            hookTimeout: 60_000,
            fileParallelism: false,
          },
        },
      ],
    },
  });
}
