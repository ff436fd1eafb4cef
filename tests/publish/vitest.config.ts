import { defineConfig } from 'vitest/config';

// One slow file: it starts a registry, publishes the libraries twice and runs an
// npm install whose third-party packages come through the registry's uplink.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
