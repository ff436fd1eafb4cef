import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { launch } from '../support/app-process.js';
import {
  EXACT,
  compareWithTruth,
  databaseUrl,
  faultScenario,
  settle,
  startApp,
  until,
  type Exchange,
  type RunningApp,
} from './support.js';

// Operators' mistakes and stray events: a second process on the same data
// directory, signals other than SIGTERM, a flood of readiness probes, a
// migration lock held elsewhere. Each ends compared with the ground truth.

const SYMBOLS = [
  'FLTRUSDT',
  'FLTSUSDT',
  'FLTTUSDT',
  'FLTUUSDT',
  'FLTVUSDT',
  'FLTWUSDT',
  'FLTXUSDT',
];

const scenario = faultScenario(SYMBOLS);

/**
 * Pauses the exchange until the app says it received every trade sent, then
 * resumes it: the ids returned are certainly read by the app.
 */
async function acknowledged(exchange: Exchange, run: RunningApp, symbols: readonly string[]) {
  exchange.pause();
  await until(
    'the app to read every trade sent',
    async () => (await run.metric('trading_ticks_received_total')) === exchange.truthCount(),
  );
  return Object.fromEntries(symbols.map((s) => [s, exchange.sim.lastTradeId(s)!]));
}

describe('fault suite: a hostile world', () => {
  it('refuses a second process on the same DATA_DIR, naming it and the holder', async () => {
    const symbols = SYMBOLS.slice(0, 1);
    const exchange = await scenario.exchange(symbols, 1301);
    const dataDir = await scenario.dataDir();
    const first = await startApp(exchange, { symbols, dataDir, databaseUrl: databaseUrl() });
    exchange.run(500);

    const second = launch(['live'], {
      SYMBOLS: symbols.join(','),
      BINANCE_WS_URL: exchange.sim.url,
      BINANCE_REST_URL: exchange.sim.restUrl,
      DATABASE_URL: databaseUrl(),
      DATA_DIR: dataDir,
    });
    expect(await second.exited).toBe(1);
    expect(second.output().stderr).toContain(
      `DATA_DIR ${dataDir} is in use by trading-core pid ${first.app.child.pid}`,
    );
    // It never touched the stream or the spool.
    expect(second.output().stdout).not.toContain('binance: connected');

    const { comparison, exitCode } = await settle(exchange, first, symbols);
    expect(exitCode).toBe(0);
    expect(comparison).toMatchObject(EXACT);
    expect(comparison.stored).toBe(comparison.expected);
    // The lock goes with the process that held it.
    await expect(access(join(dataDir, 'trading-core.lock'))).rejects.toThrow(/ENOENT/);
  }, 120_000);

  it.each([
    ['SIGHUP', 1],
    ['SIGUSR2', 2],
    ['SIGQUIT', 3],
  ] as const)(
    '%s stops gracefully: every tick read is stored, exit 0',
    async (signal, slot) => {
      const symbols = SYMBOLS.slice(slot, slot + 1);
      const exchange = await scenario.exchange(symbols, 1302);
      const dataDir = await scenario.dataDir();
      const run = await startApp(exchange, { symbols, dataDir, databaseUrl: databaseUrl() });
      exchange.run(2_000);
      await until(
        'ticks flowing',
        async () => (await run.metric('trading_ticks_processed_total')) > 1_000,
      );
      const read = await acknowledged(exchange, run, symbols);
      // Mid-stream: the generator goes on while the app stops.
      exchange.run(2_000);
      run.app.child.kill(signal);
      expect(await run.app.exited).toBe(0);
      exchange.pause();
      const stopped = run.app.logs().find((r) => r.msg === 'stopped');
      expect(
        run.app.logs().find((r) => r.msg === 'shutdown requested; a second signal exits at once'),
      ).toMatchObject({ signal });
      const readUpTo = stopped!.readUpTo as Record<string, number>;
      expect(readUpTo[symbols[0]!]).toBeGreaterThanOrEqual(read[symbols[0]!]!);
      const prefix = await compareWithTruth(exchange.sim, symbols, readUpTo);
      expect(prefix).toMatchObject(EXACT);
      expect(prefix.stored).toBe(prefix.expected);
    },
    60_000,
  );

  it('answers a flood of /ready without taking a connection from the writers', async () => {
    const symbols = SYMBOLS.slice(4, 6);
    const exchange = await scenario.exchange(symbols, 1303);
    const dataDir = await scenario.dataDir();
    const run = await startApp(exchange, { symbols, dataDir, databaseUrl: databaseUrl() });
    exchange.run(1_000);
    await until(
      'batches stored',
      async () => (await run.metric('trading_batches_flushed_total')) > 3,
    );
    const waitsBefore = await run.metric('trading_db_pool_waits_total');

    // 3,000 probes at once, three rounds.
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(
        Array.from({ length: 3_000 }, () => fetch(`${run.url}/ready`).then((r) => r.status)),
      );
      expect(new Set(answers)).toEqual(new Set([200]));
    }
    expect(await run.metric('trading_db_pool_waits_total')).toBe(waitsBefore);
    // One connection answers readiness.
    const db = new pg.Client({ connectionString: databaseUrl() });
    await db.connect();
    try {
      const { rows } = await db.query<{ n: string }>(
        `select count(*)::text as n from pg_stat_activity where application_name = 'trading-core ready'`,
      );
      expect(Number(rows[0]!.n)).toBe(1);
    } finally {
      await db.end();
    }

    const { comparison, exitCode } = await settle(exchange, run, symbols);
    expect(exitCode).toBe(0);
    expect(comparison).toMatchObject(EXACT);
    expect(comparison.stored).toBe(comparison.expected);
  }, 120_000);

  it('logs a wait on the migration lock held elsewhere, and stops on SIGTERM while waiting', async () => {
    const holder = new pg.Client({ connectionString: databaseUrl() });
    await holder.connect();
    try {
      await holder.query(`select pg_advisory_lock(hashtext('trading-core migrations'))`);
      const dataDir = await scenario.dataDir();
      const migrate = launch(['migrate'], { DATABASE_URL: databaseUrl(), DATA_DIR: dataDir });
      const waiting = await migrate.waitForLog(/^waiting for the migration lock/);
      const { rows } = await holder.query<{ pid: number }>('select pg_backend_pid() as pid');
      expect(waiting).toMatchObject({ holderPid: rows[0]!.pid });
      migrate.child.kill('SIGTERM');
      expect(await migrate.exited).toBe(0);
      expect(migrate.output().stderr).toContain(
        'stopped during start-up, while waiting for the migration lock',
      );
      expect(migrate.logs().some((r) => r.msg === 'database migrated')).toBe(false);

      // Once the lock is free, the same command goes through.
      await holder.query(`select pg_advisory_unlock(hashtext('trading-core migrations'))`);
      const again = launch(['migrate'], { DATABASE_URL: databaseUrl(), DATA_DIR: dataDir });
      expect(await again.exited).toBe(0);
      expect(again.logs().some((r) => r.msg === 'database migrated')).toBe(true);
    } finally {
      await holder.end();
    }
  }, 60_000);

  it('stores the ticks held behind a gap REST cannot fill at stop, records the gap, and the next start backfills it', async () => {
    const symbols = SYMBOLS.slice(6, 7);
    const symbol = symbols[0]!;
    const exchange = await scenario.exchange(symbols, 1304);
    const { sim } = exchange;
    const dataDir = await scenario.dataDir();
    const options = {
      symbols,
      dataDir,
      databaseUrl: databaseUrl(),
      env: { READY_MAX_GAP_SECONDS: '2' },
    };
    const first = await startApp(exchange, options);
    exchange.run(200);
    await until(
      'ticks flowing',
      async () => (await first.metric('trading_batches_flushed_total')) > 0,
    );

    // REST answers 500 from now on; 30 trades only REST would show.
    sim.failRest(1_000_000, 500, 1);
    const gapFrom = sim.lastTradeId(symbol)! + 1;
    sim.gap(30);
    const gapTo = sim.lastTradeId(symbol)!;
    await until('the gap to be seen', async () => (await first.metric('trading_gaps_open')) === 1);
    await until('/ready to report the gap', async () => {
      const response = await fetch(`${first.url}/ready`);
      return (
        response.status === 503 &&
        (await response.text()).includes(`${symbol} trade ids ${gapFrom}-`)
      );
    });
    exchange.pause();
    expect(await first.stop()).toBe(0);

    // Everything it read is stored but the gap, and the gap is on record.
    const readUpTo = first.app.logs().find((r) => r.msg === 'stopped')!.readUpTo as Record<
      string,
      number
    >;
    expect(readUpTo[symbol]).toBeGreaterThan(gapTo);
    const stored = await compareWithTruth(sim, symbols, readUpTo);
    expect(stored).toMatchObject({ duplicated: 0, mismatched: 0, unknown: 0, lost: 30 });
    expect(stored.lostIds[symbol]).toEqual(Array.from({ length: 30 }, (_, i) => gapFrom + i));
    expect(JSON.parse(await readFile(join(dataDir, 'open-gaps.json'), 'utf8'))).toEqual([
      { symbol, fromId: gapFrom, toId: gapTo },
    ]);

    // REST is back: the next start fetches the gap again.
    sim.failRest(0);
    const second = await startApp(exchange, options);
    const { comparison, exitCode } = await settle(exchange, second, symbols);
    expect(exitCode).toBe(0);
    expect(comparison).toMatchObject(EXACT);
    expect(comparison.stored).toBe(comparison.expected);
    expect(JSON.parse(await readFile(join(dataDir, 'open-gaps.json'), 'utf8'))).toEqual([]);
  }, 120_000);
});
