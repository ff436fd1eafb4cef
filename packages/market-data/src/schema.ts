import type { Side } from '@trade/core';
import type { ColumnType, Generated } from 'kysely';

/**
 * `tick_data`: one row per trade, unique on `(symbol, trade_id)`.
 * `bigint` and `numeric` columns read back as strings (exact), `timestamp`
 * is the trade time.
 */
export interface TickDataTable {
  symbol: string;
  trade_id: ColumnType<string, string | number | bigint, never>;
  price: ColumnType<string, string, never>;
  quantity: ColumnType<string, string, never>;
  side: Side;
  is_buyer_maker: boolean;
  timestamp: ColumnType<Date, Date | string, never>;
}

/** `paper_trades`: one row per simulated fill of the paper engine. */
export interface PaperTradesTable {
  id: Generated<string>;
  strategy: string;
  symbol: string;
  side: Side;
  price: string;
  quantity: string;
  fee: string;
  cash_after: string;
  position_after: string;
  timestamp: ColumnType<Date, Date | string, never>;
}

/** The tables the migrations of this package create, for `Kysely<MarketDataDatabase>`. */
export interface MarketDataDatabase {
  tick_data: TickDataTable;
  paper_trades: PaperTradesTable;
}
