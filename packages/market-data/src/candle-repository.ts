import { InvalidInputError } from '@trade/core';
import { CompiledQuery, type Kysely } from 'kysely';
import type { MarketDataDatabase } from './schema.js';
import { toCandle, type Candle, type CandleRow } from './tick-queries.js';

/** The widths `candles_1m` is read at. */
export const CANDLE_INTERVALS = ['1m', '5m', '1h', '1d'] as const;

/** One of {@link CANDLE_INTERVALS}. */
export type CandleInterval = (typeof CANDLE_INTERVALS)[number];

const INTERVAL_SQL: Record<CandleInterval, string> = {
  '1m': '1 minute',
  '5m': '5 minutes',
  '1h': '1 hour',
  '1d': '1 day',
};

// `$n` milliseconds since the epoch as a timestamptz, exactly.
const atMs = (n: number) => `(timestamptz 'epoch' + $${n}::int8 * interval '1 millisecond')`;
const MINUTE_MS = 60_000;
// Open range ends: 0001-01-01 and 9999-12-31, beyond anything a tick holds.
const MIN_MS = -62_135_596_800_000;
const MAX_MS = 253_402_300_799_999;

/**
 * The upsert of `candles_1m` from the ticks `where` selects: open and close
 * are the prices of the lowest and highest trade id of the minute
 * (DESIGN.md); only candles that changed are written.
 */
const refreshSql = (
  where: string,
) => `insert into candles_1m as c (symbol, bucket, open, high, low, close, volume, trades)
select symbol, bucket,
  (array_agg(price order by trade_id))[1], max(price), min(price),
  (array_agg(price order by trade_id desc))[1], sum(quantity), count(*)
from (
  select symbol, date_bin(interval '1 minute', timestamp, timestamptz 'epoch') as bucket, trade_id, price, quantity
  from tick_data ${where}
) t
group by symbol, bucket
on conflict (symbol, bucket) do update set
  open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
  volume = excluded.volume, trades = excluded.trades
where (c.open, c.high, c.low, c.close, c.volume, c.trades)
  is distinct from (excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume, excluded.trades)`;

/** One symbol's minutes of [from, to). */
const REFRESH = refreshSql(
  `where symbol = $1 and timestamp >= ${atMs(2)} and timestamp < ${atMs(3)}`,
);
/** Every symbol's minutes of [from, to). */
const REFRESH_BETWEEN = refreshSql(`where timestamp >= ${atMs(1)} and timestamp < ${atMs(2)}`);
/** Every minute of every symbol. */
const REFRESH_ALL = refreshSql('');

/**
 * `candles_1m`: one-minute candles of the stored ticks, UTC-aligned, exact
 * decimals, read back at 1m, 5m, 1h or 1d. {@link refresh} recomputes the
 * minutes of a time range from `tick_data`, so a tick stored late or
 * backfilled into a closed minute updates its candle once that range is
 * refreshed.
 *
 * @example
 * ```ts
 * const candles = new CandleRepository(db);
 * await candles.refresh('BTCUSDT', from, to); // after storing ticks of [from, to)
 * await candles.candles('BTCUSDT', '1h', { from, to });
 * ```
 */
export class CandleRepository {
  constructor(private readonly db: Kysely<MarketDataDatabase>) {}

  /**
   * Recomputes from `tick_data` the candles of `symbol` for every minute
   * that overlaps `[fromMs, toMs)`. Returns the minutes written (new or
   * changed).
   */
  async refresh(symbol: string, fromMs: number, toMs: number): Promise<number> {
    const [from, to] = minuteRange(fromMs, toMs);
    if (to <= from) return 0;
    const result = await this.db.executeQuery(CompiledQuery.raw(REFRESH, [symbol, from, to]));
    return Number(result.numAffectedRows ?? 0);
  }

  /**
   * Recomputes from `tick_data` the candles of every symbol for the minutes
   * of `[fromMs, toMs)` (whole minutes): before retention drops a day, say.
   * Returns the minutes written (new or changed).
   */
  async refreshBetween(fromMs: number, toMs: number): Promise<number> {
    const [from, to] = minuteRange(fromMs, toMs);
    if (to <= from) return 0;
    const result = await this.db.executeQuery(CompiledQuery.raw(REFRESH_BETWEEN, [from, to]));
    return Number(result.numAffectedRows ?? 0);
  }

  /**
   * Recomputes every minute of every symbol from the whole of `tick_data`
   * (after a migration, or to repair): a full scan, so minutes of work on
   * years of ticks. Returns the minutes written (new or changed).
   */
  async refreshAll(): Promise<number> {
    const result = await this.db.executeQuery(CompiledQuery.raw(REFRESH_ALL, []));
    return Number(result.numAffectedRows ?? 0);
  }

  /**
   * The candles of `symbol` at `interval` (UTC-aligned) whose start lies in
   * `[from, to)`, oldest first; intervals without trades are absent. Wider
   * candles are made from the minutes: open of the first, close of the
   * last, highest high, lowest low, volumes and trades summed.
   */
  async candles(
    symbol: string,
    interval: CandleInterval,
    range: { readonly from?: number; readonly to?: number } = {},
  ): Promise<Candle[]> {
    const width = INTERVAL_SQL[interval] as string | undefined;
    if (width === undefined) {
      throw new InvalidInputError('interval', interval, CANDLE_INTERVALS.join(', '));
    }
    const { rows } = await this.db.executeQuery<CandleRow>(
      CompiledQuery.raw(
        `select (extract(epoch from b) * 1000)::int8 as bucket_ms,
           (array_agg(open order by bucket))[1] as open, max(high) as high, min(low) as low,
           (array_agg(close order by bucket desc))[1] as close,
           sum(volume) as volume, sum(trades) as trades
         from (
           select date_bin(interval '${width}', bucket, timestamptz 'epoch') as b, *
           from candles_1m
           where symbol = $1 and bucket >= ${atMs(2)} and bucket < ${atMs(3)}
         ) m
         group by b
         order by b`,
        [symbol, Math.floor(range.from ?? MIN_MS), Math.floor(range.to ?? MAX_MS)],
      ),
    );
    return rows.map(toCandle);
  }
}

/** The whole minutes overlapping `[fromMs, toMs)`; throws on anything but integer milliseconds. */
function minuteRange(fromMs: number, toMs: number): [number, number] {
  for (const [field, value] of [
    ['fromMs', fromMs],
    ['toMs', toMs],
  ] as const) {
    if (!Number.isSafeInteger(value)) {
      throw new InvalidInputError(field, value, 'epoch milliseconds (an integer)');
    }
  }
  return [Math.floor(fromMs / MINUTE_MS) * MINUTE_MS, Math.ceil(toMs / MINUTE_MS) * MINUTE_MS];
}
