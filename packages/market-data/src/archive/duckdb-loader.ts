import { TradeError } from '@trade/core';
import type * as DuckDB from '@duckdb/node-api';

/** The `@duckdb/node-api` module, loaded on first use. */
export type DuckDBModule = typeof DuckDB;

const PACKAGE = '@duckdb/node-api';

/**
 * Loads `@duckdb/node-api`, an optional peer dependency: only the archive
 * needs it, and its native binary is large. Throws a {@link TradeError}
 * saying how to install it when it is missing or its binary will not load.
 * `importModule` is the import itself, replaceable to test the failure.
 */
export async function loadDuckDB(
  importModule: () => Promise<DuckDBModule> = () => import('@duckdb/node-api'),
): Promise<DuckDBModule> {
  try {
    return await importModule();
  } catch (cause) {
    const missing = isModuleNotFound(cause);
    throw new TradeError(
      missing
        ? `the Parquet archive needs the optional peer dependency ${PACKAGE}, which is not installed: add it with \`pnpm add ${PACKAGE}\``
        : `the Parquet archive could not load ${PACKAGE} (is its native binary installed for this platform?): ${
            cause instanceof Error ? cause.message : String(cause)
          }`,
      { cause },
    );
  }
}

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    error instanceof Error &&
    error.message.includes(PACKAGE)
  );
}
