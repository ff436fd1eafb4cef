import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { Kysely } from 'kysely';
import { mkdir, mkdtemp, open, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { MarketDataDatabase } from '../schema.js';
import { ArchiveCheckError } from './archive-check-error.js';
import { fileExists, tempFileBeside } from './archive-paths.js';
import type { DecimalStorage, TableLayout } from './archived-table.js';
import { decimalStorageOf, sqlName, sqlString } from './duckdb-sql.js';
import { postgresLines } from './postgres-pages.js';
import {
  combineAggregates,
  duckdbAggregates,
  firstMismatch,
  postgresSummary,
  type Aggregates,
} from './row-checks.js';
import {
  createStage,
  insertIntoStage,
  loadStage,
  postgresStageLine,
  STAGE,
} from './stage-table.js';

/** One symbol's rows of one table on one UTC day, and the file they go to. */
export interface SymbolDay {
  readonly layout: TableLayout;
  readonly day: string;
  readonly symbol: string;
  /** `[dayStart, dayEnd)` as ISO instants. */
  readonly dayStart: string;
  readonly dayEnd: string;
  /** The final name, `<dir>/<table>/<day>/<SYMBOL>.parquet`. */
  readonly file: string;
}

export interface SymbolDayWriteOptions {
  readonly pageSize: number;
  /** Test seam: runs on the temporary file between its write and its check. */
  readonly beforeCheck?: ((file: string) => void | Promise<void>) | undefined;
}

/** What one written file holds. */
export interface WrittenFile {
  readonly rows: number;
  readonly bytes: number;
  readonly storage: DecimalStorage;
}

const PARQUET_OPTIONS =
  'FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION V2, ROW_GROUP_SIZE 1000000';

/**
 * Writes `target`'s rows, with those of an earlier file of the same day and
 * symbol that PostgreSQL no longer has (PostgreSQL's row wins a shared id),
 * to a temporary file beside the final name; reads it back on a fresh
 * connection and checks it against PostgreSQL's aggregates plus the kept
 * rows' own; then fsyncs it and renames it into place. Anything short of
 * that leaves no new file, and the earlier one as it was. `undefined` when
 * PostgreSQL has no row of it (nothing is written).
 */
export async function writeSymbolDay(
  db: Kysely<MarketDataDatabase>,
  duckdb: DuckDBInstance,
  target: SymbolDay,
  options: SymbolDayWriteOptions,
): Promise<WrittenFile | undefined> {
  const { layout, symbol, dayStart, dayEnd, file } = target;
  const connection = await duckdb.connect();
  try {
    const earlier = await earlierStorage(connection, target);
    // One snapshot for the aggregates and the rows: a row committed meanwhile
    // is in both or in neither.
    const staged = await db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        const summary = await postgresSummary(trx, layout, symbol, dayStart, dayEnd);
        if (summary.aggregates.get('count') === '0') return undefined;
        const storage: DecimalStorage =
          summary.fitsDecimal && earlier !== 'text' ? 'decimal' : 'text';
        await createStage(connection, layout, storage);
        const line = postgresStageLine(layout, storage);
        const pages = postgresLines(trx, layout, line, symbol, dayStart, dayEnd, options.pageSize);
        const scratch = await mkdtemp(join(tmpdir(), 'trade-archive-'));
        try {
          await loadStage(connection, pages, scratch);
        } finally {
          await rm(scratch, { recursive: true, force: true });
        }
        return { storage, expected: summary.aggregates };
      });
    if (staged === undefined) return undefined;
    const { storage } = staged;
    let expected = staged.expected;
    if (earlier !== undefined) {
      const kept = await keepEarlierRows(connection, target, earlier, storage);
      expected = combineAggregates(layout, expected, kept);
    }
    await mkdir(dirname(file), { recursive: true });
    const temp = tempFileBeside(file);
    try {
      await connection.run(
        `COPY (SELECT ${sqlString(symbol)} AS symbol, * FROM ${STAGE}
           ORDER BY timestamp_ms, ${sqlName(layout.id)})
         TO ${sqlString(temp)} (${PARQUET_OPTIONS})`,
      );
      await connection.run(`DROP TABLE ${STAGE}`);
      await options.beforeCheck?.(temp);
      await checkFile(duckdb, target, temp, storage, expected);
      await fsync(temp);
      await rename(temp, file);
      await fsync(dirname(file));
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return { rows: Number(expected.get('count')), bytes: (await stat(file)).size, storage };
  } finally {
    connection.closeSync();
  }
}

/** How the day's earlier file of this symbol stores its decimals; `undefined` when there is none. */
async function earlierStorage(
  connection: DuckDBConnection,
  target: SymbolDay,
): Promise<DecimalStorage | undefined> {
  if (!(await fileExists(target.file))) return undefined;
  try {
    return await decimalStorageOf(connection, target.layout, target.file);
  } catch (cause) {
    throw new ArchiveCheckError(placeOf(target, target.file), 'read existing file', { cause });
  }
}

/**
 * Adds to the stage the earlier file's rows whose id PostgreSQL no longer
 * has, and returns their aggregates, read from that file.
 */
async function keepEarlierRows(
  connection: DuckDBConnection,
  target: SymbolDay,
  earlier: DecimalStorage,
  storage: DecimalStorage,
): Promise<Aggregates> {
  const id = sqlName(target.layout.id);
  const kept = `(SELECT * FROM read_parquet(${sqlString(target.file)}) AS earlier
    WHERE NOT EXISTS (SELECT 1 FROM ${STAGE} AS fresh WHERE fresh.${id} = earlier.${id})) AS kept`;
  try {
    const aggregates = await duckdbAggregates(connection, target.layout, earlier, kept);
    await insertIntoStage(connection, target.layout, kept, earlier, storage);
    return aggregates;
  } catch (cause) {
    throw new ArchiveCheckError(placeOf(target, target.file), 'read existing file', { cause });
  }
}

/** Reads `temp` back on a connection of its own and compares its aggregates with `expected`. */
async function checkFile(
  duckdb: DuckDBInstance,
  target: SymbolDay,
  temp: string,
  storage: DecimalStorage,
  expected: Aggregates,
): Promise<void> {
  const where = placeOf(target, temp);
  const connection = await duckdb.connect();
  try {
    let actual: Aggregates;
    try {
      const found = await decimalStorageOf(connection, target.layout, temp);
      if (found !== storage) throw new Error(`decimals stored as ${found}, written as ${storage}`);
      actual = await duckdbAggregates(
        connection,
        target.layout,
        storage,
        `read_parquet(${sqlString(temp)})`,
      );
    } catch (cause) {
      throw new ArchiveCheckError(where, 'read', { cause });
    }
    const mismatch = firstMismatch(expected, actual);
    if (mismatch !== undefined) throw new ArchiveCheckError(where, mismatch.check, mismatch);
  } finally {
    connection.closeSync();
  }
}

function placeOf(target: SymbolDay, file: string) {
  return { table: target.layout.table, day: target.day, symbol: target.symbol, file };
}

async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
