import type { DuckDBConnection } from '@duckdb/node-api';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DECIMAL_TYPE,
  POSTGRES_MS,
  scaleColumn,
  type DecimalStorage,
  type TableLayout,
} from './archived-table.js';
import { decimalTextSql, sqlName, sqlString } from './duckdb-sql.js';

/** The connection's temporary table where one file's rows gather before the COPY. */
export const STAGE = 'archive_stage';

/** A column of the stage (and of the file, after `symbol`), and the PostgreSQL expression filling it. */
interface StageColumn {
  readonly name: string;
  readonly type: string;
  readonly postgres: string;
}

/**
 * In order: the id, `timestamp_ms`, the decimals, the plain columns, then
 * (DECIMAL storage) each decimal's scale as PostgreSQL's `scale()` gives it.
 */
function stageColumns(layout: TableLayout, storage: DecimalStorage): StageColumn[] {
  const column = (name: string, type: string, postgres = sqlName(name)) => ({
    name,
    type,
    postgres,
  });
  return [
    column(layout.id, 'BIGINT'),
    column('timestamp_ms', 'BIGINT', POSTGRES_MS),
    ...layout.decimals.map((c) => column(c, storage === 'decimal' ? DECIMAL_TYPE : 'VARCHAR')),
    ...layout.plain.map((c) => column(c.name, c.type)),
    ...(storage === 'decimal'
      ? layout.decimals.map((c) => column(scaleColumn(c), 'UTINYINT', `scale(${sqlName(c)})`))
      : []),
  ];
}

export async function createStage(
  connection: DuckDBConnection,
  layout: TableLayout,
  storage: DecimalStorage,
): Promise<void> {
  const columns = stageColumns(layout, storage).map((c) => `${sqlName(c.name)} ${c.type}`);
  await connection.run(`CREATE OR REPLACE TEMP TABLE ${STAGE} (${columns.join(', ')})`);
}

/**
 * The PostgreSQL expression giving one row of the stage as one CSV line,
 * the id first. Every value is digits, a decimal point, a sign, `BUY`/`SELL`
 * or `true`/`false`: nothing to quote. One text column is also about twice
 * as fast through node-postgres as six (measured on a million ticks).
 */
export function postgresStageLine(layout: TableLayout, storage: DecimalStorage): string {
  return `concat_ws(',', ${stageColumns(layout, storage)
    .map((c) => c.postgres)
    .join(', ')})`;
}

/**
 * Loads pages of {@link postgresStageLine} lines into the stage through CSV
 * files in `scratchDir`, DuckDB parsing each into the stage's types (decimals
 * exactly: the caller stages DECIMAL only when every value fits). A page
 * loads on DuckDB's threads while the next one is fetched. Returns the rows
 * loaded.
 */
export async function loadStage(
  connection: DuckDBConnection,
  pages: AsyncIterable<string[]>,
  scratchDir: string,
): Promise<number> {
  let loaded = 0;
  let page = 0;
  // Settles with the load's error instead of rejecting: nothing is left
  // unhandled while the next page is fetched.
  let loading: Promise<Error | undefined> = Promise.resolve(undefined);
  try {
    for await (const lines of pages) {
      const file = join(scratchDir, `page-${page++}.csv`);
      await writeFile(file, `${lines.join('\n')}\n`);
      const failure = await loading;
      if (failure !== undefined) throw failure;
      loading = loadCsv(connection, file).then(
        () => undefined,
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      );
      loaded += lines.length;
    }
  } catch (error) {
    await loading;
    throw error;
  }
  const failure = await loading;
  if (failure !== undefined) throw failure;
  return loaded;
}

async function loadCsv(connection: DuckDBConnection, file: string): Promise<void> {
  try {
    await connection.run(
      `COPY ${STAGE} FROM ${sqlString(file)}
       (FORMAT csv, HEADER false, DELIMITER ',', QUOTE '', ESCAPE '', AUTO_DETECT false)`,
    );
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * Adds to the stage the rows of `relation` (rows of an earlier file stored as
 * `from`), converted to the stage's `to` storage. DECIMAL to VARCHAR gives
 * PostgreSQL's text back through the scale; the other way never happens (a
 * VARCHAR file makes the new one VARCHAR).
 */
export async function insertIntoStage(
  connection: DuckDBConnection,
  layout: TableLayout,
  relation: string,
  from: DecimalStorage,
  to: DecimalStorage,
): Promise<void> {
  if (from === 'text' && to === 'decimal') {
    throw new Error('VARCHAR decimals cannot go into a DECIMAL stage');
  }
  const columns = stageColumns(layout, to).map(({ name }) => {
    const isDecimal = layout.decimals.includes(name);
    return isDecimal && from === 'decimal' && to === 'text'
      ? `${decimalTextSql(name)} AS ${sqlName(name)}`
      : sqlName(name);
  });
  await connection.run(`INSERT INTO ${STAGE} SELECT ${columns.join(', ')} FROM ${relation}`);
}
