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
import { textArrayLiteral } from './tick-rows.js';

const SIGNED_DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?$/;

const INSERT = `insert into paper_trades
  (strategy, symbol, side, price, quantity, fee, cash_after, position_after, timestamp)
select st, sy, sd, p, q, f, c, pos, timestamptz 'epoch' + ms * interval '1 millisecond'
from unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[], $6::numeric[],
            $7::numeric[], $8::numeric[], $9::int8[])
  as u(st, sy, sd, p, q, f, c, pos, ms)`;

/** A stored fill: a {@link PaperFill} with its row id. */
export interface StoredPaperFill extends PaperFill {
  readonly id: number;
}

/**
 * `paper_trades`: the paper engine's trade log, one row per fill, written
 * in one statement per call.
 *
 * @example
 * ```ts
 * const engine = createPaperEngine({ fills: new PaperTradeRepository(db), ... });
 * ```
 */
export class PaperTradeRepository implements PaperFillWriter {
  constructor(private readonly db: Kysely<MarketDataDatabase>) {}

  /**
   * Stores every fill, all or none. Throws {@link InvalidInputError} naming
   * the field of the first malformed fill, before writing anything.
   */
  async write(fills: readonly PaperFill[]): Promise<void> {
    if (fills.length === 0) return;
    fills.forEach(checkFill);
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
