import { createTick, type Tick } from '@trade/core';
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

// By path, not as a devDependency: a published package must not name a private one.
export { TcpProxy } from '../../../tests/support/src/index.js';

/** The server the tests use: TEST_DATABASE_URL, or the local PostgreSQL. */
const serverUrl = new URL(
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
);
export const TEST_DATABASE = 'trade_market_data_test';
export const PG_HOST = serverUrl.hostname;
export const PG_PORT = Number(serverUrl.port || 5432);
export const REDIS_URL = new URL(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');

/** Connection settings of the test database, created on first use. */
export async function testDatabaseConfig(overrides: pg.PoolConfig = {}): Promise<pg.PoolConfig> {
  const admin = new pg.Client({ connectionString: serverUrl.href });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [
      TEST_DATABASE,
    ]);
    if (!rowCount) await admin.query(`create database ${TEST_DATABASE}`).catch(ignoreDuplicate);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl.href);
  url.pathname = `/${TEST_DATABASE}`;
  return { connectionString: url.href, ...overrides };
}

function ignoreDuplicate(error: Error & { code?: string }) {
  if (error.code !== '42P04' && error.code !== '23505') throw error;
}

/** Drops and recreates the public schema of the test database: a clean slate for migrations. */
export async function resetTestDatabase(): Promise<void> {
  const client = new pg.Client(await testDatabaseConfig());
  await client.connect();
  try {
    await client.query('drop schema public cascade; create schema public');
  } finally {
    await client.end();
  }
}

let nextId = 1;

/** Valid ticks with consecutive trade ids, one millisecond apart. */
export function makeTicks(
  count: number,
  options: { symbol?: string; startId?: number; startTime?: number } = {},
): Tick[] {
  const symbol = options.symbol ?? 'BTCUSDT';
  const startId = options.startId ?? nextId;
  nextId = Math.max(nextId, startId + count);
  const startTime = options.startTime ?? 1_700_000_000_000;
  return Array.from({ length: count }, (_, i) =>
    createTick({
      symbol,
      tradeId: startId + i,
      price: `${43_000 + (i % 500)}.${String(i % 100).padStart(2, '0')}000000`,
      quantity: `0.${String((i % 9973) + 1).padStart(8, '0')}`,
      isBuyerMaker: i % 3 === 0,
      tradeTime: startTime + i,
      receiveTime: startTime + i + 5,
    }),
  );
}

export async function tempDir(prefix = 'market-data-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Polls `check` until it returns true, or fails after `timeoutMs`. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * A real tmpfs of `sizeBytes` mounted on a fresh directory (root only): a
 * disk that fills up for real. Unmount it in cleanup.
 */
export async function mountTmpfs(
  sizeBytes: number,
): Promise<{ dir: string; unmount: () => Promise<void> }> {
  const dir = await tempDir('market-data-tmpfs-');
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir]);
  return {
    dir,
    unmount: async () => {
      await run('umount', ['-l', dir]);
      await rmdir(dir);
    },
  };
}

async function run(command: string, args: string[]): Promise<void> {
  const { execFile } = await import('node:child_process');
  await new Promise<void>((resolve, reject) =>
    execFile(command, args, (error, _stdout, stderr) =>
      error
        ? reject(new Error(`${command} ${args.join(' ')}: ${stderr || error.message}`))
        : resolve(),
    ),
  );
}
