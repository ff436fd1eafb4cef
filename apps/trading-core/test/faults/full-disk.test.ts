import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
// The spool's reader is internal to the package: read from its source.
import { TickSpool } from '../../../../packages/market-data/src/tick-spool.js';
import {
  EXACT,
  PG_HOST,
  PG_PORT,
  databaseUrl,
  faultScenario,
  settle,
  sleep,
  startApp,
  until,
  type RunningApp,
} from './support.js';

// The database down and the spool's disk full at once (a real tmpfs of
// 256 KiB mounted on DATA_DIR/spool): the app must block ingest instead of
// buffering without bound, say so, and lose nothing it does not name.

const SYMBOLS = ['FDSKAUSDT', 'FDSKBUSDT', 'FDSKCUSDT', 'FDSKDUSDT'];
const scenario = faultScenario(SYMBOLS);
const run = promisify(execFile);

const SPOOL_DISK_BYTES = 256 * 1024;
// Small enough that the memory bound is reached within seconds at the test's rate.
const MAX_BUFFERED_TICKS = '2000';

/** DATA_DIR/spool on its own tmpfs; unmounted after the test. */
async function fullSpoolDisk(dataDir: string): Promise<string> {
  const dir = join(dataDir, 'spool');
  await mkdir(dir);
  await run('mount', ['-t', 'tmpfs', '-o', `size=${SPOOL_DISK_BYTES}`, 'tmpfs', dir]);
  scenario.release(async () => {
    await run('umount', ['-l', dir]);
    await rmdir(dir).catch(() => undefined);
  });
  return dir;
}

/** `symbol:tradeId` of every row stored for `symbols`. */
async function storedIds(symbols: readonly string[]): Promise<Set<string>> {
  const db = new pg.Client({ connectionString: databaseUrl() });
  await db.connect();
  try {
    const { rows } = await db.query<{ symbol: string; trade_id: string }>(
      'select symbol, trade_id::text as trade_id from tick_data where symbol = any($1)',
      [symbols],
    );
    return new Set(rows.map((r) => `${r.symbol}:${r.trade_id}`));
  } finally {
    await db.end();
  }
}

/** `symbol:tradeId` of every tick in the spool, read from a copy (the spool is left as is). */
async function spooledIds(spoolDir: string): Promise<Set<string>> {
  const copy = await mkdtemp(join(tmpdir(), 'spool-copy-'));
  scenario.release(() => rm(copy, { recursive: true, force: true }));
  await cp(spoolDir, copy, { recursive: true });
  const spool = await TickSpool.open(copy);
  const ids = new Set<string>();
  for (let ticks = await spool.next(); ticks; ticks = await spool.next()) {
    for (const tick of ticks) ids.add(`${tick.symbol}:${tick.tradeId}`);
    await spool.ack();
  }
  await spool.close();
  return ids;
}

async function readyBody(app: RunningApp): Promise<{ status: number; body: string }> {
  const response = await fetch(`${app.url}/ready`);
  return { status: response.status, body: await response.text() };
}

/** Starts the app with its database behind a proxy, generates trades, then cuts the database. */
async function blockIngest(symbols: readonly string[], seed: number) {
  const exchange = await scenario.exchange(symbols, seed);
  const dataDir = await scenario.dataDir();
  const spoolDir = await fullSpoolDisk(dataDir);
  const proxy = scenario.proxy(PG_PORT, PG_HOST);
  const port = await proxy.start();
  const url = databaseUrl(port, '127.0.0.1');
  const app = await startApp(exchange, {
    symbols,
    dataDir,
    databaseUrl: url,
    env: { MAX_BUFFERED_TICKS },
  });
  exchange.run(1000);
  await until('a first batch', async () => (await app.metric('trading_batches_flushed_total')) > 0);
  await proxy.stop();
  await until('/ready to say ingest is blocked', async () =>
    (await readyBody(app)).body.includes('ingest blocked'),
  );
  return { exchange, dataDir, spoolDir, proxy, url, app };
}

describe('fault suite: the database down and the disk full', () => {
  it('blocks ingest (bounded files, /ready and trading_ingest_blocked say why), then stores every trade once the database is back', async () => {
    const symbols = SYMBOLS.slice(0, 2);
    const { exchange, spoolDir, proxy, app } = await blockIngest(symbols, 1401);

    const ready = await readyBody(app);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatch(/ingest blocked: the spool cannot be written \(.*ENOSPC/);
    expect(await app.metric('trading_ingest_blocked')).toBe(1);
    expect(await app.metric('trading_spool_append_failures_total')).toBeGreaterThan(0);
    // Failed appends reuse their segment: no trail of empty files on the full disk.
    const segments = (await readdir(spoolDir)).filter((name) => name.endsWith('.spool'));
    expect(segments.length).toBeLessThanOrEqual(
      Math.ceil(SPOOL_DISK_BYTES / (16 * 1024)) + 1, // far below one file per append
    );

    // Blocked, the app holds no more than its bound (MAX_BUFFERED_TICKS and the batches
    // being sealed, twice over) however long the stream goes on.
    for (let i = 0; i < 10; i++) {
      expect(await app.metric('trading_batch_buffer_size')).toBeLessThanOrEqual(
        2 * (Number(MAX_BUFFERED_TICKS) + 5000),
      );
      await sleep(200);
    }
    await proxy.start();
    // The backlog the client held floods in behind the spool, which is replayed in order:
    // the small disk may fill, and ingest block, again for a moment while it catches up.
    await until('the spool to drain', async () => (await app.metric('trading_spool_ticks')) === 0);
    await until(
      '/ready and trading_ingest_blocked to say ingest goes on',
      async () =>
        (await readyBody(app)).status === 200 && (await app.metric('trading_ingest_blocked')) === 0,
    );

    const { comparison, exitCode } = await settle(exchange, app, symbols);
    expect(exitCode).toBe(0);
    expect(comparison).toMatchObject(EXACT);
    expect(comparison.stored).toBe(comparison.expected);
  }, 150_000);

  it('stopped while blocked, exits 1 naming the lost ranges; the next start fetches them again over REST', async () => {
    const symbols = SYMBOLS.slice(2, 4);
    const { exchange, dataDir, spoolDir, proxy, url, app } = await blockIngest(symbols, 1402);
    exchange.pause();

    const exitCode = await app.stop();
    expect(exitCode).toBe(1);
    const lostLog = app.app
      .logs()
      .find((l) => /ticks could be neither stored nor spooled/.test(String(l.msg)));
    expect(lostLog).toBeDefined();
    const lost = lostLog!.lost as { symbol: string; fromId: number; toId: number; count: number }[];
    expect(lostLog!.lostTicks).toBeGreaterThan(0);
    expect(lost.reduce((sum, range) => sum + range.count, 0)).toBe(lostLog!.lostTicks);
    await proxy.start();
    // Every trade read and not stored is in the spool (kept for the next start) or named as
    // lost, and every named trade is missing: the names are exact, not an estimate.
    const readUpTo = app.app.logs().find((l) => l.msg === 'stopped')!.readUpTo as Record<
      string,
      number
    >;
    const stored = await storedIds(symbols);
    const spooled = await spooledIds(spoolDir);
    for (const symbol of symbols) {
      const named = new Set(
        lost
          .filter((r) => r.symbol === symbol)
          .flatMap((r) => Array.from({ length: r.count }, (_, i) => r.fromId + i)),
      );
      const missing = exchange.sim
        .truth(symbol)
        .filter((t) => t.id <= readUpTo[symbol]! && !stored.has(`${symbol}:${t.id}`))
        .map((t) => t.id);
      expect(missing.filter((id) => !named.has(id) && !spooled.has(`${symbol}:${id}`))).toEqual([]);
      expect([...named].filter((id) => stored.has(`${symbol}:${id}`))).toEqual([]);
    }
    expect(lost.every((range) => symbols.includes(range.symbol))).toBe(true);
    const recorded = JSON.parse(await readFile(join(dataDir, 'open-gaps.json'), 'utf8')) as {
      symbol: string;
      fromId: number;
      toId: number;
    }[];
    const key = (r: { symbol: string; fromId: number; toId: number }) =>
      `${r.symbol}:${r.fromId}-${r.toId}`;
    expect(recorded.map(key)).toEqual(expect.arrayContaining(lost.map(key)));

    const next = await startApp(exchange, { symbols, dataDir, databaseUrl: url });
    exchange.run(200);
    const { comparison, exitCode: nextExit } = await settle(exchange, next, symbols);
    expect(nextExit).toBe(0);
    expect(comparison).toMatchObject(EXACT);
    expect(comparison.stored).toBe(comparison.expected);
  }, 180_000);
});
