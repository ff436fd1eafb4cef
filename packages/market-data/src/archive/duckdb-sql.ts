import type { DuckDBConnection } from '@duckdb/node-api';
import {
  DECIMAL_SCALE,
  scaleColumn,
  type DecimalStorage,
  type TableLayout,
} from './archived-table.js';

/** `text` as a DuckDB string literal (COPY and read_parquet take no parameters for paths). */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** A column name as a quoted identifier. */
export function sqlName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * The exact text PostgreSQL prints for a DECIMAL(18,8) `column` whose value
 * had `<column>_scale` digits after the point: DuckDB's 8-digit text cut back
 * to that many (and the point dropped at 0).
 */
export function decimalTextSql(column: string): string {
  const text = `CAST(${sqlName(column)} AS VARCHAR)`;
  const scale = sqlName(scaleColumn(column));
  return `CASE WHEN ${scale} = 0 THEN split_part(${text}, '.', 1)
    ELSE left(${text}, length(${text}) - ${DECIMAL_SCALE} + ${scale}) END`;
}

/** The scale of a VARCHAR decimal `column`, as PostgreSQL's `scale()` gives it. */
export function textScaleSql(column: string): string {
  const name = sqlName(column);
  return `CASE WHEN strpos(${name}, '.') = 0 THEN 0 ELSE length(${name}) - strpos(${name}, '.') END`;
}

/**
 * How the archive file `file` stores its decimals, from its schema; throws
 * when a column the layout needs is missing or of another type.
 */
export async function decimalStorageOf(
  connection: DuckDBConnection,
  layout: TableLayout,
  file: string,
): Promise<DecimalStorage> {
  const reader = await connection.runAndReadAll(
    `DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`,
  );
  const types = new Map<string, string>();
  for (const [name, type] of reader.getRows()) {
    if (typeof name === 'string' && typeof type === 'string') types.set(name, type);
  }
  const first = types.get(layout.decimals[0]!);
  const storage: DecimalStorage = first === 'VARCHAR' ? 'text' : 'decimal';
  const expected = new Map<string, string>([
    [layout.id, 'BIGINT'],
    ['timestamp_ms', 'BIGINT'],
    ...layout.plain.map((c) => [c.name, c.type] as const),
  ]);
  for (const column of layout.decimals) {
    if (storage === 'text') expected.set(column, 'VARCHAR');
    else {
      expected.set(column, 'DECIMAL(18,8)');
      expected.set(scaleColumn(column), 'UTINYINT');
    }
  }
  for (const [column, type] of expected) {
    if (types.get(column) !== type) {
      throw new Error(
        `${file}: column ${column} is ${types.get(column) ?? 'missing'}, expected ${type}`,
      );
    }
  }
  return storage;
}
