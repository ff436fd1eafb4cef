import type { Options } from 'tsup';

/**
 * The one build shape every library shares: ESM + CJS + declarations, Node 20,
 * dependencies never bundled (tsup leaves `dependencies`/`peerDependencies` external).
 */
export function libraryConfig(overrides: Options = {}): Options {
  return {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    platform: 'node',
    target: 'node20',
    splitting: false,
    treeshake: true,
    ...overrides,
  };
}
