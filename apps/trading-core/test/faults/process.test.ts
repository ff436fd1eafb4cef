import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  EXACT,
  compareWithTruth,
  databaseUrl,
  faultScenario,
  settle,
  sleep,
  startApp,
  storedCount,
  storedMax,
  until,
} from './support.js';

// The app process stopped mid-stream, gracefully or not, and started again
// on the same data directory and database.

const SYMBOLS = ['FLTIUSDT', 'FLTJUSDT', 'FLTKUSDT', 'FLTLUSDT', 'FLTMUSDT', 'FLTNUSDT'];

const scenario = faultScenario(SYMBOLS);

const ERROR_LEVEL = 50;

describe('fault suite: stopping the app', () => {
  it('SIGTERM mid-stream stores every tick it acknowledged reading and exits 0; a restart resumes after them', async () => {
    const symbols = SYMBOLS.slice(0, 2);
    const exchange = await scenario.exchange(symbols, 505);
    const dataDir = await scenario.dataDir();
    const options = { symbols, dataDir, databaseUrl: databaseUrl() };
    const first = await startApp(exchange, options);
    exchange.run(2_000);
    await until(
      'ticks flowing',
      async () => (await first.metric('trading_ticks_processed_total')) > 2_000,
    );
    // A point the app has certainly read up to: it says it received every trade sent so far.
    exchange.pause();
    await until(
      'the app to read every trade sent',
      async () => (await first.metric('trading_ticks_received_total')) === exchange.truthCount(),
    );
    const acknowledged = Object.fromEntries(symbols.map((s) => [s, exchange.sim.lastTradeId(s)!]));

    // Mid-stream: the generator goes on while the app stops.
    exchange.run(2_000);
    await sleep(100);
    expect(await first.stop()).toBe(0);
    const logs = first.app.logs();
    const stopped = logs.find((r) => r.msg === 'stopped');
    expect(stopped).toMatchObject({ spooled: 0 });
    expect(logs.filter((r) => Number(r.level) >= ERROR_LEVEL)).toEqual([]);
    // It read at least what it had acknowledged, and tick_data is exactly the
    // ground truth up to what it says it read: no hole, nothing beyond.
    const readUpTo = stopped!.readUpTo as Record<string, number>;
    for (const symbol of symbols)
      expect(readUpTo[symbol]).toBeGreaterThanOrEqual(acknowledged[symbol]!);
    const prefix = await compareWithTruth(exchange.sim, symbols, readUpTo);
    expect(prefix).toMatchObject(EXACT);
    expect(prefix.stored).toBe(prefix.expected);
    const last = await storedMax(symbols);
    expect(last).toEqual(readUpTo);
    const segments = (await readdir(join(dataDir, 'spool'))).filter((f) => f.endsWith('.spool'));
    expect(segments).toEqual([]);

    // Trades keep coming while it is down; the restart resumes from the last stored ids.
    await sleep(1_000);
    const second = await startApp(exchange, options);
    const started = second.app.logs().find((r) => String(r.msg).startsWith('metrics served on'));
    expect(started).toMatchObject({ resumeFrom: last });
    await sleep(1_000);
    const backfilled = await second.metric('trading_ticks_backfilled_total');
    const unrecovered = await second.metric('trading_ticks_unrecovered_total');

    const { comparison, exitCode } = await settle(exchange, second, symbols);
    expect(exitCode).toBe(0);
    expect(comparison).toMatchObject(EXACT);
    expect(comparison.stored).toBe(comparison.expected);
    expect(backfilled).toBeGreaterThan(0);
    expect(unrecovered).toBe(0);
  }, 120_000);

  it('after SIGKILL mid-stream, the spool and the REST backfill on restart recover every tick', async () => {
    const symbols = SYMBOLS.slice(2, 4);
    const exchange = await scenario.exchange(symbols, 606);
    const dataDir = await scenario.dataDir();
    const options = { symbols, dataDir, databaseUrl: databaseUrl() };
    const first = await startApp(exchange, options);
    exchange.run(2_000);
    await until(
      'batches stored',
      async () => (await first.metric('trading_batches_flushed_total')) >= 3,
    );

    first.app.child.kill('SIGKILL');
    await first.app.exited;
    expect(first.app.child.signalCode).toBe('SIGKILL');
    const storedAtKill = await storedCount(symbols);
    await sleep(1_000);

    const second = await startApp(exchange, options);
    const started = second.app.logs().find((r) => String(r.msg).startsWith('metrics served on'));
    expect(Object.keys(started!.resumeFrom as object).sort()).toEqual([...symbols].sort());
    await sleep(1_000);
    const backfilled = await second.metric('trading_ticks_backfilled_total');
    const unrecovered = await second.metric('trading_ticks_unrecovered_total');

    const { comparison, exitCode } = await settle(exchange, second, symbols);
    expect(exitCode).toBe(0);
    expect(comparison).toMatchObject(EXACT);
    expect(comparison.stored).toBe(comparison.expected);
    expect(comparison.stored).toBeGreaterThan(storedAtKill);
    // At least what was generated while no app ran came back over REST.
    expect(backfilled).toBeGreaterThan(0);
    expect(unrecovered).toBe(0);
  }, 120_000);

  it('resumes within RESUME_MAX_TRADES: older missed trades are counted as unrecovered', async () => {
    const symbols = SYMBOLS.slice(4, 6);
    const exchange = await scenario.exchange(symbols, 707);
    const dataDir = await scenario.dataDir();
    const options = { symbols, dataDir, databaseUrl: databaseUrl() };
    const first = await startApp(exchange, options);
    exchange.run(500);
    await sleep(1_000);
    const { comparison: before, exitCode } = await settle(exchange, first, symbols);
    expect(exitCode).toBe(0);
    expect(before).toMatchObject(EXACT);
    const lastStored = await storedMax(symbols);

    // 600 trades per symbol while the app is down; it may recover the newest 100.
    exchange.sim.generate(600);
    const second = await startApp(exchange, { ...options, env: { RESUME_MAX_TRADES: '100' } });
    await until(
      'the newest 100 trades of each symbol',
      async () => (await storedCount(symbols)) === before.stored + 200,
    );
    const backfilled = await second.metric('trading_ticks_backfilled_total');
    const unrecovered = await second.metric('trading_ticks_unrecovered_total');
    expect(await second.stop()).toBe(0);

    const after = await compareWithTruth(exchange.sim, symbols);
    expect(after).toMatchObject({ duplicated: 0, mismatched: 0, unknown: 0, lost: 1_000 });
    // Exactly the 500 oldest trades of each outage are missing; the newest 100 are stored.
    for (const symbol of symbols) {
      const firstLost = lastStored[symbol]! + 1;
      expect(after.lostIds[symbol]).toEqual(Array.from({ length: 500 }, (_, i) => firstLost + i));
    }
    expect(backfilled).toBe(200);
    expect(unrecovered).toBe(1_000);
  }, 120_000);
});
