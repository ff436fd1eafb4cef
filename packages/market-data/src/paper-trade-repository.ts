import {
  InvalidInputError,
  isDecimalString,
  isSide,
  type PaperFill,
  type PaperFillWriter,
  type Side,
} from '@trade/core';
import { CompiledQuery, type Kysely } from 'kysely';
import type { MarketDataDatabase } from './schema.js';
import { isDataError } from './tick-repository.js';
import { textArrayLiteral } from './tick-rows.js';

const SIGNED_DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?$/;

const INSERT = `insert into paper_trades
  (strategy, symbol, side, price, quantity, fee, cash_after, position_after, timestamp)
select st, sy, sd, p, q, f, c, pos, timestamptz 'epoch' + ms * interval '1 millisecond'
from unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[], $6::numeric[],
            $7::numeric[], $8::numeric[], $9::int8[])
  as u(st, sy, sd, p, q, f, c, pos, ms)`;

/** A fill that cannot be stored, and why: set aside, never retried. */
export interface RefusedPaperFill {
  readonly fill: PaperFill;
  /** The field that was wrong (`invalid price: ...`) or the database's message. */
  readonly reason: string;
}

/**
 * What {@link PaperTradeRepository.writeFills} did. `refused` is the shape the
 * paper engine's fill log reads from any `PaperFillWriter` (its
 * `PaperFillWriteOutcome`): those fills are counted and dropped, not retried.
 */
export interface PaperFillWriteResult {
  /** Rows written. */
  readonly written: number;
  /** Fills refused; the others were written regardless. */
  readonly refused: readonly RefusedPaperFill[];
}

/** A stored fill: a {@link PaperFill} with its row id. */
export interface StoredPaperFill extends PaperFill {
  readonly id: number;
}

/**
 * `paper_trades`: the paper engine's trade log, one row per fill, written
 * in one statement per call. A fill that fails validation, or that the
 * database refuses with a data or constraint error (SQLSTATE class 22 or
 * 23), is set aside and reported; the others are written regardless, in
 * order: the statement is split in halves until the bad rows are isolated.
 *
 * @example
 * ```ts
 * const engine = new PaperEngine({ strategy, fillWriter: new PaperTradeRepository(db) });
 * ```
 */
export class PaperTradeRepository implements PaperFillWriter {
  constructor(private readonly db: Kysely<MarketDataDatabase>) {}

  /**
   * The `PaperFillWriter` contract: {@link writeFills}, whose result this
   * resolves with although the contract types it `void`. The paper
   * engine's fill log reads its `refused` (a fill there is counted in
   * `trading_paper_fills_refused_total` and dropped, not retried).
   */
  write(fills: readonly PaperFill[]): Promise<void> {
    return this.writeFills(fills) as Promise<unknown> as Promise<void>;
  }

  /**
   * Stores the fills in order, one statement for a batch the database
   * takes whole. Malformed fills (by field, {@link InvalidInputError}'s
   * message as the reason) and fills the database refuses come back in
   * `refused`; the rest are stored. Connection errors are thrown, with
   * nothing written by the failing statement.
   *
   * @example
   * ```ts
   * const { refused } = await repository.writeFills(fills);
   * for (const { fill, reason } of refused) logger.error({ fill, reason }, 'fill refused');
   * ```
   */
  async writeFills(fills: readonly PaperFill[]): Promise<PaperFillWriteResult> {
    const refused: RefusedPaperFill[] = [];
    const valid: PaperFill[] = [];
    for (const fill of fills) {
      try {
        checkFill(fill);
        valid.push(fill);
      } catch (error) {
        if (!InvalidInputError.isInstance(error)) throw error;
        refused.push({ fill, reason: error.message });
      }
    }
    const written = await this.#insertIsolatingBadRows(valid, refused);
    return { written, refused };
  }

  async #insertIsolatingBadRows(
    fills: readonly PaperFill[],
    refused: RefusedPaperFill[],
  ): Promise<number> {
    if (fills.length === 0) return 0;
    try {
      await this.#insert(fills);
      return fills.length;
    } catch (error) {
      if (!isDataError(error)) throw error;
      if (fills.length === 1) {
        refused.push({ fill: fills[0]!, reason: (error as Error).message });
        return 0;
      }
      const half = fills.length >> 1;
      return (
        (await this.#insertIsolatingBadRows(fills.slice(0, half), refused)) +
        (await this.#insertIsolatingBadRows(fills.slice(half), refused))
      );
    }
  }

  async #insert(fills: readonly PaperFill[]): Promise<void> {
    const column = (pick: (f: PaperFill) => string | number) => fills.map((f) => String(pick(f)));
    await this.db.executeQuery(
      CompiledQuery.raw(INSERT, [
        textArrayLiteral(column((f) => f.strategy)),
        textArrayLiteral(column((f) => f.symbol)),
        textArrayLiteral(column((f) => f.side)),
        `{${column((f) => f.price).join(',')}}`,
        `{${column((f) => f.quantity).join(',')}}`,
        `{${column((f) => f.fee).join(',')}}`,
        `{${column((f) => f.cashAfter).join(',')}}`,
        `{${column((f) => f.positionAfter).join(',')}}`,
        `{${column((f) => f.timestamp).join(',')}}`,
      ]),
    );
  }

  /** Stored fills in the order they were written, optionally of one strategy and/or symbol. */
  async fills(filter: { strategy?: string; symbol?: string } = {}): Promise<StoredPaperFill[]> {
    const { rows } = await this.db.executeQuery<{
      id: string;
      strategy: string;
      symbol: string;
      side: Side;
      price: string;
      quantity: string;
      fee: string;
      cash_after: string;
      position_after: string;
      ms: string;
    }>(
      CompiledQuery.raw(
        `select id, strategy, symbol, side, price, quantity, fee, cash_after, position_after,
           (extract(epoch from timestamp) * 1000)::int8 as ms
         from paper_trades
         where ($1::text is null or strategy = $1) and ($2::text is null or symbol = $2)
         order by id`,
        [filter.strategy ?? null, filter.symbol ?? null],
      ),
    );
    return rows.map((r) => ({
      id: Number(r.id),
      strategy: r.strategy,
      symbol: r.symbol,
      side: r.side,
      price: r.price,
      quantity: r.quantity,
      fee: r.fee,
      cashAfter: r.cash_after,
      positionAfter: r.position_after,
      timestamp: Number(r.ms),
    }));
  }
}

function checkFill(fill: PaperFill): void {
  if (typeof fill.strategy !== 'string' || fill.strategy === '') {
    throw new InvalidInputError('strategy', fill.strategy, 'a non-empty string');
  }
  if (typeof fill.symbol !== 'string' || fill.symbol === '') {
    throw new InvalidInputError('symbol', fill.symbol, 'a non-empty string');
  }
  if (!isSide(fill.side)) throw new InvalidInputError('side', fill.side, "'BUY' or 'SELL'");
  for (const field of ['price', 'quantity', 'fee'] as const) {
    if (!isDecimalString(fill[field])) {
      throw new InvalidInputError(field, fill[field], 'a non-negative decimal string');
    }
  }
  for (const field of ['cashAfter', 'positionAfter'] as const) {
    if (
      typeof fill[field] !== 'string' ||
      !SIGNED_DECIMAL.test(fill[field]) ||
      fill[field].length > 64
    ) {
      throw new InvalidInputError(field, fill[field], 'a decimal string');
    }
  }
  if (!Number.isSafeInteger(fill.timestamp) || fill.timestamp < 0) {
    throw new InvalidInputError('timestamp', fill.timestamp, 'milliseconds since the epoch');
  }
}
