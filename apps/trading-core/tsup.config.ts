import { defineConfig } from 'tsup';
import { libraryConfig } from '../../tsup.base.js';

// An executable, not a library: ESM only, no declarations, a shebang.
export default defineConfig(
  libraryConfig({
    entry: ['src/cli.ts'],
    format: ['esm'],
    dts: false,
    banner: { js: '#!/usr/bin/env node' },
  }),
);
