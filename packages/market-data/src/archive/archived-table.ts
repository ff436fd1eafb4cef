/** The tables {@link ParquetArchive} writes to Parquet: ticks and quotes. */
export type ArchivedTable = 'tick_data' | 'quote_data';

/** A column copied into the file as it is, besides the key, the time and the decimals. */
export interface PlainColumn {
  readonly name: string;
  readonly type: 'VARCHAR' | 'BOOLEAN';
}

/** A row count checked besides the sums: rows where `where` holds (SQL both databases read alike). */
export interface CountedColumn {
  readonly check: string;
  readonly where: string;
}

/**
 * How one archived table lies in PostgreSQL and in its Parquet files. Every
 * file holds one symbol's rows of one UTC day: `symbol`, the id (INT64),
 * `timestamp_ms` (INT64 milliseconds since the epoch, UTC), the decimals,
 * then the plain columns; decimals are DECIMAL(18,8) each with a
 * `<column>_scale` (the digits PostgreSQL keeps after the point, so the
 * exact text comes back), or VARCHAR when a value does not fit DECIMAL(18,8).
 */
export interface TableLayout {
  readonly table: ArchivedTable;
  /** The key within a symbol, as named in PostgreSQL and in the file. */
  readonly id: 'trade_id' | 'update_id';
  /** The `numeric` columns. */
  readonly decimals: readonly string[];
  readonly plain: readonly PlainColumn[];
  readonly counts: readonly CountedColumn[];
}

export const TICK_LAYOUT: TableLayout = {
  table: 'tick_data',
  id: 'trade_id',
  decimals: ['price', 'quantity'],
  plain: [
    { name: 'side', type: 'VARCHAR' },
    { name: 'is_buyer_maker', type: 'BOOLEAN' },
  ],
  counts: [
    { check: 'count of is_buyer_maker', where: 'is_buyer_maker' },
    { check: "count of side 'BUY'", where: "side = 'BUY'" },
  ],
};

export const QUOTE_LAYOUT: TableLayout = {
  table: 'quote_data',
  id: 'update_id',
  decimals: ['bid_price', 'bid_qty', 'ask_price', 'ask_qty'],
  plain: [],
  counts: [],
};

const LAYOUTS: Record<ArchivedTable, TableLayout> = {
  tick_data: TICK_LAYOUT,
  quote_data: QUOTE_LAYOUT,
};

/** The layout of `table`; anything else is not an archived table. */
export function layoutOf(table: ArchivedTable): TableLayout | undefined {
  return Object.hasOwn(LAYOUTS, table) ? LAYOUTS[table] : undefined;
}

/** The file column holding the scale of decimal column `column`. */
export const scaleColumn = (column: string): string => `${column}_scale`;

/** Whether a file's decimals are DECIMAL(18,8) with scales, or exact VARCHAR text. */
export type DecimalStorage = 'decimal' | 'text';

/** DECIMAL(18,8): what a value must fit (scale at most 8, magnitude below 1e10) to be stored so. */
export const DECIMAL_TYPE = 'DECIMAL(18,8)';
export const DECIMAL_SCALE = 8;

/** A row's time in PostgreSQL as the files keep it: whole milliseconds, floored as the readers do. */
export const POSTGRES_MS = `floor(extract(epoch from "timestamp") * 1000)::int8`;
