import { InvalidInputError, TradeError, sideFromBuyerMaker, type Tick } from '@trade/core';
import { CompiledQuery, type Kysely } from 'kysely';
import type { MarketDataDatabase } from './schema.js';
import { inKeyOrder, textArrayLiteral, tickArrays, tickProblem } from './tick-rows.js';

/** A tick the database would not take, and why. */
export interface RejectedTick {
  readonly tick: Tick;
  /** The field that was wrong (`invalid price`...) or the database's message. */
  readonly reason: string;
}

/** What one {@link TickRepository.insertTicks} call did with its ticks. */
export interface InsertTicksResult {
  /** Rows written. */
  readonly inserted: number;
  /** Ticks already stored (same symbol and trade id), or repeated within the batch. */
  readonly duplicates: number;
  /** Ticks refused; the rest of the batch was stored regardless. */
  readonly rejected: readonly RejectedTick[];
}

/** Options of {@link TickRepository.insertTicks}. */
export interface InsertTicksOptions {
  /**
   * For writers working side by side: the batch is inserted at once, in a
   * transaction whose COMMIT waits until this settles (the previous batch
   * stored or spooled), so batches become durable in the order they were
   * given. Without it the insert commits as soon as it is done. Each writer
   * holds a connection while it waits: use it with a PostgreSQL pool of
   * more connections than writers, not with PGlite's single connection.
   */
  commitAfter?: PromiseLike<unknown>;
  /**
   * Bounds the waits the repository itself does. When it fires before the
   * insert has started, or while the transaction waits for `commitAfter`,
   * the transaction is rolled back, its connection goes back to the pool,
   * and `insertTicks` rejects with a retryable {@link TradeError}: a batch
   * waiting on a slow predecessor never holds a transaction open past it.
   * A statement already running is not interrupted: the driver bounds those
   * (the pool's `statement_timeout` and `query_timeout`, see
   * {@link createPostgresDb}).
   *
   * @example
   * ```ts
   * await repository.insertTicks(batch, {
   *   commitAfter: previousBatchDurable,
   *   signal: AbortSignal.timeout(30_000),
   * });
   * ```
   */
  signal?: AbortSignal;
}

/** Where the market-data service writes batches: {@link TickRepository} or a test double. */
export interface TickWriter {
  insertTicks(ticks: readonly Tick[], options?: InsertTicksOptions): Promise<InsertTicksResult>;
}

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

interface TickRow {
  symbol: string;
  trade_id: string;
  price: string;
  quantity: string;
  is_buyer_maker: boolean;
  /** Trade time in microseconds since the epoch: exact, and the keyset of {@link TickRepository.ticks}. */
  us: string;
}

// Side is Binance's rule: SELL when the buyer is the maker.
// Rows new to the table: a plain insert, 1.4x (one writer) to 1.6x (two) the
// rate of the speculative insertion that ON CONFLICT does for every row.
const INSERT_NEW = `insert into tick_data (symbol, trade_id, price, quantity, side, is_buyer_maker, timestamp)
select s, i, p, q, case when m then 'SELL' else 'BUY' end, m,
  timestamptz 'epoch' + ($7::int8 + dt) * interval '1 millisecond'
from unnest($1::text[], $2::int8[], $3::numeric[], $4::numeric[], $5::bool[], $6::int8[])
  as u(s, i, p, q, m, dt)`;
// Rows some of which may be stored already (replays, reconnect overlaps).
const INSERT_SKIPPING_STORED = `${INSERT_NEW}
on conflict (symbol, trade_id) do nothing`;
const UNIQUE_VIOLATION = '23505';

const TICK_COLUMNS = `symbol, trade_id, price, quantity, is_buyer_maker,
  (extract(epoch from timestamp) * 1000000)::int8 as us`;

// `$n` milliseconds since the epoch as a timestamptz, exactly.
const atMs = (n: number) => `(timestamptz 'epoch' + $${n}::int8 * interval '1 millisecond')`;
// Open range ends: 0001-01-01 and 9999-12-31, beyond anything a tick holds.
const MIN_MS = -62_135_596_800_000;
const MAX_MS = 253_402_300_799_999;

/**
 * `tick_data` through Kysely, on PostgreSQL or PGlite alike.
 *
 * Writes are one statement per batch whatever its size: the columns travel
 * as six array parameters expanded by `unnest`, so the 65,535-parameter
 * limit never applies. Each (symbol, trade id) is stored once: a batch goes
 * in key order with its repeats removed, as a plain `INSERT`; when that
 * meets a row already stored, the batch is written again with
 * `ON CONFLICT (symbol, trade_id) DO NOTHING`, and so are the batches after
 * it until one holds nothing already stored. Replays are harmless either way.
 *
 * @example
 * ```ts
 * const repository = new TickRepository(db);
 * await repository.insertTicks(ticks);
 * for await (const tick of repository.ticks('BTCUSDT', { from: Date.parse('2024-01-01') })) {
 *   strategy.onTick(tick);
 * }
 * ```
 */
export class TickRepository implements TickWriter {
  /** The last batch met stored rows: the next one is likely a replay too. */
  #expectStoredRows = false;

  constructor(private readonly db: Kysely<MarketDataDatabase>) {}

  /**
   * Stores `ticks`, each (symbol, trade id) once. A tick that fails
   * validation, or that the database refuses with a data or constraint
   * error, comes back in `rejected` and the others are stored regardless:
   * the statement is split in halves until the bad rows are isolated.
   * Connection errors are thrown, with nothing or everything written; so is
   * a retryable {@link TradeError} when `options.signal` fires while the
   * insert waits (nothing written then).
   */
  async insertTicks(
    ticks: readonly Tick[],
    options: InsertTicksOptions = {},
  ): Promise<InsertTicksResult> {
    if (options.signal?.aborted) throw abortedWhileWaiting(options.signal);
    const rejected: RejectedTick[] = [];
    const valid: Tick[] = [];
    for (const tick of ticks) {
      const problem = tickProblem(tick);
      if (problem === undefined) valid.push(tick);
      else rejected.push({ tick, reason: `invalid ${problem}` });
    }
    const rows = inKeyOrder(valid);
    const before = rejected.length;
    const inserted = await this.#store(rows, rejected, options.commitAfter, options.signal);
    const refusedByDb = rejected.length - before;
    return { inserted, duplicates: valid.length - refusedByDb - inserted, rejected };
  }

  async #store(
    rows: readonly Tick[],
    rejected: RejectedTick[],
    commitAfter: PromiseLike<unknown> | undefined,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    if (rows.length > 0 && !this.#expectStoredRows) {
      const inserted = commitAfter
        ? await this.#insertNewCommittingAfter(rows, commitAfter, signal)
        : await this.#insertNew(this.db, rows);
      if (inserted !== undefined) return inserted;
    }
    // Some rows are stored already, or some are refused: statement by
    // statement, once the batches before this one are durable (no
    // connection is held while waiting here).
    if (commitAfter) await settledUnlessAborted(commitAfter, signal);
    const before = rejected.length;
    const inserted = await this.#insertIsolatingBadRows(rows, rejected);
    this.#expectStoredRows = inserted < rows.length - (rejected.length - before);
    return inserted;
  }

  /** The plain insert; `undefined` when a row was stored already or refused (nothing written). */
  async #insertNew(
    db: Pick<Kysely<MarketDataDatabase>, 'executeQuery'>,
    rows: readonly Tick[],
  ): Promise<number | undefined> {
    try {
      const result = await db.executeQuery(CompiledQuery.raw(INSERT_NEW, tickArrays(rows)));
      return Number(result.numAffectedRows ?? 0);
    } catch (error) {
      if (!isDataError(error)) throw error;
      if ((error as { code?: unknown }).code === UNIQUE_VIOLATION) this.#expectStoredRows = true;
      return undefined;
    }
  }

  /**
   * {@link #insertNew} in a transaction that commits once `commitAfter`
   * settles, or rolls back when `signal` fires first: the connection then
   * goes back to the pool rather than waiting, idle in transaction.
   */
  #insertNewCommittingAfter(
    rows: readonly Tick[],
    commitAfter: PromiseLike<unknown>,
    signal: AbortSignal | undefined,
  ): Promise<number | undefined> {
    return this.db.connection().execute(async (connection) => {
      await connection.executeQuery(CompiledQuery.raw('begin'));
      let inserted: number | undefined;
      try {
        inserted = await this.#insertNew(connection, rows);
        if (inserted !== undefined) await settledUnlessAborted(commitAfter, signal);
      } catch (error) {
        await connection.executeQuery(CompiledQuery.raw('rollback')).catch(() => undefined);
        throw error;
      }
      await connection.executeQuery(
        CompiledQuery.raw(inserted === undefined ? 'rollback' : 'commit'),
      );
      return inserted;
    });
  }

  async #insertIsolatingBadRows(ticks: readonly Tick[], rejected: RejectedTick[]): Promise<number> {
    if (ticks.length === 0) return 0;
    try {
      const result = await this.db.executeQuery(
        CompiledQuery.raw(INSERT_SKIPPING_STORED, tickArrays(ticks)),
      );
      return Number(result.numAffectedRows ?? 0);
    } catch (error) {
      if (!isDataError(error)) throw error;
      if (ticks.length === 1) {
        rejected.push({ tick: ticks[0]!, reason: (error as Error).message });
        return 0;
      }
      const half = ticks.length >> 1;
      return (
        (await this.#insertIsolatingBadRows(ticks.slice(0, half), rejected)) +
        (await this.#insertIsolatingBadRows(ticks.slice(half), rejected))
      );
    }
  }

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
    const { rows } = await this.db.executeQuery<{
      bucket_ms: string;
      open: string;
      high: string;
      low: string;
      close: string;
      volume: string;
      trades: string;
    }>(
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
    return rows.map((r) => ({
      openTime: Number(r.bucket_ms),
      open: r.open,
      high: r.high,
      low: r.low,
      close: r.close,
      volume: r.volume,
      trades: Number(r.trades),
    }));
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

/**
 * Waits for `promise` to settle (a rejection passes through), or rejects
 * with a retryable error as soon as `signal` fires.
 */
function settledUnlessAborted(
  promise: PromiseLike<unknown>,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  if (!signal) return Promise.resolve(promise);
  if (signal.aborted) return Promise.reject(abortedWhileWaiting(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortedWhileWaiting(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    void Promise.resolve(promise)
      .then(resolve, reject)
      .finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function abortedWhileWaiting(signal: AbortSignal): TradeError {
  return new TradeError('tick insert aborted by its signal before committing; nothing written', {
    isRetryable: true,
    cause: signal.reason,
  });
}

/**
 * True for errors caused by the rows themselves (SQLSTATE classes 22, data
 * exception, and 23, integrity constraint violation): retrying the same rows
 * cannot help, isolating them can.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
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
