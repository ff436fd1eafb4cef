import type { DuckDBInstance } from '@duckdb/node-api';
import { TradeError } from '@trade/core';
import type { TableLayout } from './archived-table.js';
import { decimalStorageOf, decimalTextSql, sqlName, sqlString } from './duckdb-sql.js';

/** One archived row: the id and time, the decimals as PostgreSQL's exact text, the plain columns. */
export interface ArchivedRow {
  readonly id: number;
  readonly ms: number;
  /** By column name: decimal text, or the plain column's value. */
  readonly values: Readonly<Record<string, string | boolean | null>>;
}

/**
 * The rows of the day files `files` (oldest day first) with `timestamp_ms`
 * in `[fromMs, toMs)` (either end may be infinite), in (time, id) order,
 * streamed a DuckDB chunk at a time: memory bounded by one chunk. Each file
 * is read on a connection of its own, closed when the caller stops.
 */
export async function* archivedRows(
  duckdb: DuckDBInstance,
  layout: TableLayout,
  files: readonly string[],
  fromMs: number,
  toMs: number,
): AsyncGenerator<ArchivedRow> {
  let previous: { ms: number; id: number } | undefined;
  for (const file of files) {
    const connection = await duckdb.connect();
    try {
      const storage = await decimalStorageOf(connection, layout, file);
      const columns = [
        sqlName(layout.id),
        'timestamp_ms',
        ...layout.decimals.map((c) => (storage === 'decimal' ? decimalTextSql(c) : sqlName(c))),
        ...layout.plain.map((c) => sqlName(c.name)),
      ];
      const bounds = [
        Number.isFinite(fromMs) ? `timestamp_ms >= ${Math.floor(fromMs)}` : 'true',
        Number.isFinite(toMs) ? `timestamp_ms < ${Math.floor(toMs)}` : 'true',
      ];
      // No ORDER BY: the writer sorted the file, and DuckDB keeps a file's
      // order (preserve_insertion_order), so rows stream without a sort
      // holding the day in memory. The order is checked as they pass.
      const result = await connection.stream(
        `SELECT ${columns.join(', ')} FROM read_parquet(${sqlString(file)})
         WHERE ${bounds.join(' AND ')}`,
      );
      for (;;) {
        const chunk = await result.fetchChunk();
        if (chunk === null || chunk.rowCount === 0) break;
        for (const cells of chunk.getRows()) {
          const row = toRow(layout, cells);
          if (previous !== undefined && !isAfter(row, previous)) {
            throw new TradeError(
              `archived file ${file} is out of (time, ${layout.id}) order at ${layout.id} ${row.id}`,
            );
          }
          previous = row;
          yield row;
        }
      }
    } finally {
      connection.closeSync();
    }
  }
}

function toRow(layout: TableLayout, cells: readonly unknown[]): ArchivedRow {
  const values: Record<string, string | boolean | null> = {};
  let i = 2;
  for (const column of layout.decimals) values[column] = cells[i++] as string;
  for (const { name } of layout.plain) values[name] = cells[i++] as string | boolean | null;
  return { id: Number(cells[0]), ms: Number(cells[1]), values };
}

function isAfter(row: ArchivedRow, previous: { ms: number; id: number }): boolean {
  return row.ms > previous.ms || (row.ms === previous.ms && row.id > previous.id);
}
