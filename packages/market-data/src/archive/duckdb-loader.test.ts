import { TradeError } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { loadDuckDB } from './duckdb-loader.js';

const failing = (error: Error & { code?: string }) => () => Promise.reject(error);

describe('loadDuckDB', () => {
  it('loads @duckdb/node-api', async () => {
    const duckdb = await loadDuckDB();
    expect(typeof duckdb.DuckDBInstance.create).toBe('function');
  });

  it('says how to install it when it is missing', async () => {
    const missing = Object.assign(new Error("Cannot find package '@duckdb/node-api'"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    const error: unknown = await loadDuckDB(failing(missing)).catch((e: unknown) => e);
    expect(TradeError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(
      /optional peer dependency @duckdb\/node-api, which is not installed: add it with `pnpm add @duckdb\/node-api`/,
    );
    expect((error as Error).cause).toBe(missing);
  });

  it('names the cause when the native binary will not load', async () => {
    const broken = Object.assign(
      new Error("Cannot find module '@duckdb/node-bindings-linux-x64/duckdb.node'"),
      { code: 'MODULE_NOT_FOUND' },
    );
    await expect(loadDuckDB(failing(broken))).rejects.toThrow(
      /could not load @duckdb\/node-api .*node-bindings-linux-x64/,
    );
  });
});
