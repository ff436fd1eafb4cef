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

/**
 * `quote_data`: one row per best bid/ask update (Binance bookTicker), unique
 * on `(symbol, update_id)`. `timestamp` is the receive time.
 */
export interface QuoteDataTable {
  symbol: string;
  update_id: ColumnType<string, string | number | bigint, never>;
  bid_price: ColumnType<string, string, never>;
  bid_qty: ColumnType<string, string, never>;
  ask_price: ColumnType<string, string, never>;
  ask_qty: ColumnType<string, string, never>;
  timestamp: ColumnType<Date, Date | string, never>;
}

/** `candles_1m`: one-minute candles of `tick_data`, unique `(symbol, bucket)`, exact decimals. */
export interface Candles1mTable {
  symbol: string;
  bucket: ColumnType<Date, Date | string, never>;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  trades: number;
}

/** `symbol_rules`: each symbol's exchange rules as `exchangeInfo` last gave them, exact strings. */
export interface SymbolRulesTable {
  symbol: string;
  tick_size: string;
  step_size: string;
  min_qty: string;
  min_notional: string;
  updated_at: ColumnType<Date, Date | string, Date | string>;
}

/**
 * `book_snapshots`: the top levels of an order book at one update id,
 * unique on `(symbol, update_id)`. `bids` and `asks` are jsonb arrays of
 * `["price", "qty"]` exact strings, best first.
 */
export interface BookSnapshotsTable {
  symbol: string;
  update_id: ColumnType<string, string | number | bigint, never>;
  timestamp: ColumnType<Date, Date | string, never>;
  bids: ColumnType<[string, string][], string, never>;
  asks: ColumnType<[string, string][], string, never>;
}

/** The tables the migrations of this package create, for `Kysely<MarketDataDatabase>`. */
export interface MarketDataDatabase {
  tick_data: TickDataTable;
  paper_trades: PaperTradesTable;
  quote_data: QuoteDataTable;
  book_snapshots: BookSnapshotsTable;
  symbol_rules: SymbolRulesTable;
  candles_1m: Candles1mTable;
}
