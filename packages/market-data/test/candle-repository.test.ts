import { createTick, type Tick } from '@trade/core';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CandleRepository,
  TickRepository,
  type Candle,
  type CandleInterval,
} from '../src/index.js';
import { openBackend, type Backend, type BackendName } from './backends.js';

// candles_1m against an independent computation from the ticks themselves:
// open = price of the lowest trade id of the bucket, close = of the highest,
// high/low, exact volume (8-decimal fixed point in BigInt), trade count.

const T0 = Date.UTC(2026, 11, 4, 23, 57, 0); // four minutes before a UTC day ends
const SCALE = 100_000_000n;

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Ticks of `symbol` over about 8 minutes, ids rising, times not quite in id order. */
function makeTicks(symbol: string, count: number, seed: number): Tick[] {
  const random = seeded(seed);
  let price = 4_325_000; // in cents
  return Array.from({ length: count }, (_, i) => {
    price += Math.round((random() - 0.5) * 20);
    return createTick({
      symbol,
      tradeId: 1_000 + i,
      price: `${Math.floor(price / 100)}.${String(price % 100).padStart(2, '0')}000000`,
      quantity: `0.${String(Math.floor(random() * 99_999_999) + 1).padStart(8, '0')}`,
      isBuyerMaker: random() < 0.5,
      // Mostly rising, sometimes a few ms back: a later id may carry an earlier time.
      tradeTime: T0 + Math.floor(i * 250 + random() * 40 - 20),
    });
  });
}

const toFixed = (units: bigint) => `${units / SCALE}.${String(units % SCALE).padStart(8, '0')}`;
const units = (decimal: string) => {
  const [int, frac = ''] = decimal.split('.');
  return BigInt(int!) * SCALE + BigInt((frac + '00000000').slice(0, 8));
};

/** The candles of `ticks` at `widthMs`, computed here without the database. */
function expected(ticks: readonly Tick[], widthMs: number) {
  const buckets = new Map<number, Tick[]>();
  for (const tick of ticks) {
    const start = Math.floor(tick.tradeTime / widthMs) * widthMs;
    buckets.set(start, [...(buckets.get(start) ?? []), tick]);
  }
  return [...buckets.keys()]
    .sort((a, b) => a - b)
    .map((start) => {
      const list = [...buckets.get(start)!].sort((a, b) => a.tradeId - b.tradeId);
      const prices = list.map((t) => units(t.price));
      return {
        openTime: start,
        open: toFixed(prices[0]!),
        high: toFixed(prices.reduce((a, b) => (b > a ? b : a))),
        low: toFixed(prices.reduce((a, b) => (b < a ? b : a))),
        close: toFixed(prices.at(-1)!),
        volume: toFixed(list.reduce((sum, t) => sum + units(t.quantity), 0n)),
        trades: list.length,
      };
    });
}

/** Numeric text as PostgreSQL writes it, made comparable: the same value, 8 decimals. */
const normalized = (candle: Candle) => ({
  ...candle,
  open: toFixed(units(candle.open)),
  high: toFixed(units(candle.high)),
  low: toFixed(units(candle.low)),
  close: toFixed(units(candle.close)),
  volume: toFixed(units(candle.volume)),
});

const WIDTH: Record<CandleInterval, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
};

describe.each<BackendName>(['postgresql', 'pglite'])('candles_1m on %s', (name) => {
  let backend: Backend;
  let ticks: TickRepository;
  let candles: CandleRepository;

  beforeAll(async () => {
    backend = await openBackend(name);
    ticks = new TickRepository(backend.db);
    candles = new CandleRepository(backend.db);
  });
  afterAll(async () => backend?.close());
  beforeEach(async () => {
    await backend.truncate();
    await sql`truncate candles_1m`.execute(backend.db);
  });

  it('equals the candles computed from the ticks, at every width, UTC-aligned', async () => {
    const all = makeTicks('CNDAUSDT', 2_000, 1);
    await ticks.insertTicks(all);
    const written = await candles.refresh('CNDAUSDT', T0 - 60_000, T0 + 3_600_000);
    expect(written).toBe(expected(all, 60_000).length);
    for (const interval of ['1m', '5m', '1h', '1d'] as const) {
      const got = await candles.candles('CNDAUSDT', interval);
      expect(got.map(normalized), interval).toEqual(expected(all, WIDTH[interval]));
    }
    // Ticks cross midnight UTC: two daily candles.
    expect(await candles.candles('CNDAUSDT', '1d')).toHaveLength(2);
    // A range of bucket starts.
    const mid = await candles.candles('CNDAUSDT', '1m', { from: T0 + 60_000, to: T0 + 180_000 });
    expect(mid.map((c) => c.openTime)).toEqual([T0 + 60_000, T0 + 120_000]);
  });

  it('a tick backfilled into a closed minute updates its candle once the range is refreshed; nothing else changes', async () => {
    const all = makeTicks('CNDBUSDT', 1_200, 2);
    const late = all.splice(300, 1)[0]!; // a tick of the second minute, stored late
    await ticks.insertTicks(all);
    await candles.refresh('CNDBUSDT', T0, T0 + 600_000);
    const before = await candles.candles('CNDBUSDT', '1m');
    expect(before.map(normalized)).toEqual(expected(all, 60_000));

    await ticks.insertTicks([late]);
    expect(await candles.refresh('CNDBUSDT', late.tradeTime, late.tradeTime + 1)).toBe(1);
    const after = await candles.candles('CNDBUSDT', '1m');
    expect(after.map(normalized)).toEqual(expected([...all, late], 60_000));
    const changed = after.filter((c, i) => JSON.stringify(c) !== JSON.stringify(before[i]));
    expect(changed.map((c) => c.openTime)).toEqual([Math.floor(late.tradeTime / 60_000) * 60_000]);
    expect(changed[0]!.trades).toBe(
      before.find((c) => c.openTime === changed[0]!.openTime)!.trades + 1,
    );
    // Refreshing again writes nothing: every candle is already true.
    expect(await candles.refresh('CNDBUSDT', T0, T0 + 600_000)).toBe(0);
  });

  it('refreshAll builds the minutes of every symbol from the whole table', async () => {
    const a = makeTicks('CNDAUSDT', 500, 3);
    const b = makeTicks('CNDBUSDT', 700, 4);
    await ticks.insertTicks([...a, ...b]);
    expect(await candles.refreshAll()).toBe(
      expected(a, 60_000).length + expected(b, 60_000).length,
    );
    expect((await candles.candles('CNDBUSDT', '5m')).map(normalized)).toEqual(expected(b, 300_000));
    expect(await candles.refreshAll()).toBe(0);
  });

  it('refuses an unknown interval and a range that is not epoch milliseconds', async () => {
    await expect(candles.candles('CNDAUSDT', '2m' as CandleInterval)).rejects.toThrow(/interval/);
    await expect(candles.refresh('CNDAUSDT', Number.NaN, 0)).rejects.toThrow(/fromMs/);
  });
});
