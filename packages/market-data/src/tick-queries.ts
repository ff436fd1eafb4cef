import { InvalidInputError, sideFromBuyerMaker, type Tick } from '@trade/core';
import { CompiledQuery, type Kysely } from 'kysely';
import type { MarketDataDatabase } from './schema.js';
import { textArrayLiteral } from './tick-rows.js';

/** A time range in epoch milliseconds or Dates: `from` inclusive, `to` exclusive. */
export interface TimeRange {
  from?: number | Date;
  to?: number | Date;
}

/** Options of {@link TickRepository.ticks}. */
export interface TickStreamOptions extends TimeRange {
  /** Rows fetched per round trip. Default 5000. */
  pageSize?: number;
}

/** Options of {@link TickRepository.candles}. */
export interface CandleOptions extends TimeRange {
  /** Candle width in milliseconds, e.g. `60_000`. Candles align on the epoch. */
  intervalMs: number;
}

/** One OHLC candle; prices and volume are exact decimal strings. */
export interface Candle {
  /** Start of the interval, epoch milliseconds. */
  readonly openTime: number;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly close: string;
  /** Sum of quantities. */
  readonly volume: string;
  /** Number of trades in the interval. */
  readonly trades: number;
}

/** A candle as the queries select it: `bucket_ms` and the OHLCV columns, as text. */
export interface CandleRow {
  bucket_ms: string;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  trades: string;
}

/** A {@link CandleRow} as a {@link Candle}: times and counts as numbers, decimals as exact strings. */
export function toCandle(r: CandleRow): Candle {
  return {
    openTime: Number(r.bucket_ms),
    open: r.open,
    high: r.high,
    low: r.low,
    close: r.close,
    volume: r.volume,
    trades: Number(r.trades),
  };
}

interface TickRow {
  symbol: string;
  trade_id: string;
  price: string;
  quantity: string;
  is_buyer_maker: boolean;
  /** Trade time in microseconds since the epoch: exact, and the keyset of {@link TickRepository.ticks}. */
  us: string;
}

const TICK_COLUMNS = `symbol, trade_id, price, quantity, is_buyer_maker,
  (extract(epoch from timestamp) * 1000000)::int8 as us`;

// `$n` milliseconds since the epoch as a timestamptz, exactly.
const atMs = (n: number) => `(timestamptz 'epoch' + $${n}::int8 * interval '1 millisecond')`;
// Open range ends: 0001-01-01 and 9999-12-31, beyond anything a tick holds.
const MIN_MS = -62_135_596_800_000;
const MAX_MS = 253_402_300_799_999;

/** The read path of {@link TickRepository}: ticks, candles and counts from `tick_data`. */
export class TickQueries {
  constructor(private readonly db: Kysely<MarketDataDatabase>) {}

  /**
   * Every tick of `symbol` in `range`, oldest first, fetched `pageSize` rows
   * at a time (keyset pagination on `(timestamp, trade_id)`): no row cap, no
   * transaction held open, memory bounded by one page.
   */
  async *ticks(symbol: string, options: TickStreamOptions = {}): AsyncGenerator<Tick> {
    const pageSize = options.pageSize ?? 5000;
    const from = toMs(options.from, 'from') ?? MIN_MS;
    const to = toMs(options.to, 'to') ?? MAX_MS;
    const page = `select ${TICK_COLUMNS} from tick_data
      where symbol = $1 and timestamp >= ${atMs(2)} and timestamp < ${atMs(3)}
        and (timestamp, trade_id) > (timestamptz 'epoch' + $4::int8 * interval '1 microsecond', $5::int8)
      order by timestamp, trade_id
      limit $6`;
    let afterUs = String(BigInt(from) * 1000n - 1n);
    let afterId = '-1';
    for (;;) {
      const { rows } = await this.db.executeQuery<TickRow>(
        CompiledQuery.raw(page, [symbol, from, to, afterUs, afterId, pageSize]),
      );
      for (const row of rows) yield toTick(row);
      if (rows.length < pageSize) return;
      const last = rows[rows.length - 1]!;
      afterUs = String(last.us);
      afterId = String(last.trade_id);
    }
  }

  /** The newest `count` ticks of `symbol`, newest first. */
  async latestTicks(symbol: string, count: number): Promise<Tick[]> {
    const { rows } = await this.db.executeQuery<TickRow>(
      CompiledQuery.raw(
        `select ${TICK_COLUMNS} from tick_data where symbol = $1
         order by timestamp desc, trade_id desc limit $2`,
        [symbol, Math.max(0, Math.floor(count))],
      ),
    );
    return rows.map(toTick);
  }

  /**
   * OHLC candles of `symbol`, `intervalMs` wide and aligned on the epoch,
   * oldest first; intervals without trades are absent.
   */
  async candles(symbol: string, options: CandleOptions): Promise<Candle[]> {
    const { intervalMs } = options;
    if (!Number.isSafeInteger(intervalMs) || intervalMs <= 0) {
      throw new InvalidInputError('intervalMs', intervalMs, 'a positive integer of milliseconds');
    }
    const { rows } = await this.db.executeQuery<CandleRow>(
      CompiledQuery.raw(
        `select (extract(epoch from bucket) * 1000)::int8 as bucket_ms,
           (array_agg(price order by timestamp, trade_id))[1] as open,
           max(price) as high,
           min(price) as low,
           (array_agg(price order by timestamp desc, trade_id desc))[1] as close,
           sum(quantity) as volume,
           count(*) as trades
         from (
           select date_bin($4::int8 * interval '1 millisecond', timestamp, timestamptz 'epoch') as bucket,
             timestamp, trade_id, price, quantity
           from tick_data
           where symbol = $1 and timestamp >= ${atMs(2)} and timestamp < ${atMs(3)}
         ) t
         group by bucket
         order by bucket`,
        [
          symbol,
          toMs(options.from, 'from') ?? MIN_MS,
          toMs(options.to, 'to') ?? MAX_MS,
          intervalMs,
        ],
      ),
    );
    return rows.map(toCandle);
  }

  /**
   * The highest stored trade id of each symbol that has any: where to resume
   * the exchange stream. One index lookup per symbol.
   */
  async latestTradeIds(symbols: readonly string[]): Promise<Map<string, number>> {
    const { rows } = await this.db.executeQuery<{ symbol: string; trade_id: string | null }>(
      CompiledQuery.raw(
        `select s.symbol,
           (select trade_id from tick_data t where t.symbol = s.symbol order by trade_id desc limit 1) as trade_id
         from unnest($1::text[]) as s(symbol)`,
        [textArrayLiteral(symbols)],
      ),
    );
    const latest = new Map<string, number>();
    for (const row of rows) if (row.trade_id !== null) latest.set(row.symbol, Number(row.trade_id));
    return latest;
  }

  /** How many ticks are stored, for one symbol or all. */
  async countTicks(symbol?: string): Promise<number> {
    const { rows } = await this.db.executeQuery<{ n: string }>(
      symbol === undefined
        ? CompiledQuery.raw('select count(*) as n from tick_data')
        : CompiledQuery.raw('select count(*) as n from tick_data where symbol = $1', [symbol]),
    );
    return Number(rows[0]?.n ?? 0);
  }
}

function toTick(row: TickRow): Tick {
  const tradeTime = Math.floor(Number(row.us) / 1000);
  return {
    symbol: row.symbol,
    tradeId: Number(row.trade_id),
    price: row.price,
    quantity: row.quantity,
    side: sideFromBuyerMaker(row.is_buyer_maker),
    isBuyerMaker: row.is_buyer_maker,
    tradeTime,
    // Not stored: the trade time stands in for it.
    receiveTime: tradeTime,
  };
}

function toMs(value: number | Date | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'number' ? value : value.getTime();
  if (!Number.isFinite(ms))
    throw new InvalidInputError(field, value, 'epoch milliseconds or a valid Date');
  return Math.floor(ms);
}
