import { CompiledQuery, type Kysely } from 'kysely';
import { DailyPartitions, type PartitionedTable } from './daily-partitions.js';
import type { MarketDataDatabase } from './schema.js';
import { isDataError } from './tick-insert.js';

/** A row the database would not take, and why. */
export interface RefusedRow<T> {
  readonly row: T;
  readonly reason: string;
}

/** The two forms of one batch insert into a table unique on `(symbol, <id>)`. */
export interface KeyedStatements<T> {
  /** A plain `INSERT` of the rows `parameters` encodes. */
  readonly insertNew: string;
  /** The same statement with `ON CONFLICT (symbol, <id>) DO NOTHING`. */
  readonly insertSkippingStored: string;
  parameters(rows: readonly T[]): unknown[];
  /** For a table partitioned by day: which, and the time (ms) each row is filed under. */
  readonly partitioned?: { readonly table: PartitionedTable; timeOf(row: T): number };
}

const UNIQUE_VIOLATION = '23505';

/**
 * The write strategy of the tick repository for any table unique on
 * `(symbol, <id>)`: a batch (in key order, without repeats) goes in as a
 * plain `INSERT`, cheaper than the speculative insertion of `ON CONFLICT`;
 * when that meets a stored row it writes nothing and the batch goes again
 * with `ON CONFLICT DO NOTHING`, as do the batches after it until one holds
 * nothing already stored. Rows the database refuses (SQLSTATE class 22 or
 * 23) are isolated by halving the statement; connection errors are thrown.
 */
export class KeyedInserter<T> {
  /** The last batch met stored rows: the next one is likely a replay too. */
  #expectStoredRows = false;
  readonly #partitions: DailyPartitions | undefined;

  constructor(
    private readonly db: Kysely<MarketDataDatabase>,
    private readonly statements: KeyedStatements<T>,
  ) {
    const table = statements.partitioned?.table;
    this.#partitions = table === undefined ? undefined : new DailyPartitions(db, table);
  }

  /**
   * Writes `rows` (in key order, no repeats); returns how many were new.
   * Refused rows go to `refused`. In a partitioned table, the partitions of
   * the rows' days are made first; one dropped meanwhile is made again and
   * the rows go once more.
   */
  async insert(rows: readonly T[], refused: RefusedRow<T>[]): Promise<number> {
    if (rows.length === 0) return 0;
    const partitions = this.#partitions;
    if (partitions === undefined) return this.#insert(rows, refused);
    const partitioned = this.statements.partitioned!;
    return partitions.inserting(
      () => rows.map((row) => partitioned.timeOf(row)),
      () => this.#insert(rows, refused),
    );
  }

  async #insert(rows: readonly T[], refused: RefusedRow<T>[]): Promise<number> {
    if (!this.#expectStoredRows) {
      const inserted = await this.#insertNew(rows);
      if (inserted !== undefined) return inserted;
    }
    const before = refused.length;
    const inserted = await this.#insertIsolatingBadRows(rows, refused);
    this.#expectStoredRows = inserted < rows.length - (refused.length - before);
    return inserted;
  }

  /** The plain insert; `undefined` when a row was stored already or refused (nothing written). */
  async #insertNew(rows: readonly T[]): Promise<number | undefined> {
    try {
      const result = await this.db.executeQuery(
        CompiledQuery.raw(this.statements.insertNew, this.statements.parameters(rows)),
      );
      return Number(result.numAffectedRows ?? 0);
    } catch (error) {
      if (!isDataError(error)) throw error;
      if ((error as { code?: unknown }).code === UNIQUE_VIOLATION) this.#expectStoredRows = true;
      return undefined;
    }
  }

  async #insertIsolatingBadRows(rows: readonly T[], refused: RefusedRow<T>[]): Promise<number> {
    if (rows.length === 0) return 0;
    try {
      const result = await this.db.executeQuery(
        CompiledQuery.raw(this.statements.insertSkippingStored, this.statements.parameters(rows)),
      );
      return Number(result.numAffectedRows ?? 0);
    } catch (error) {
      if (!isDataError(error)) throw error;
      if (rows.length === 1) {
        refused.push({ row: rows[0]!, reason: (error as Error).message });
        return 0;
      }
      const half = rows.length >> 1;
      return (
        (await this.#insertIsolatingBadRows(rows.slice(0, half), refused)) +
        (await this.#insertIsolatingBadRows(rows.slice(half), refused))
      );
    }
  }
}

/**
 * `rows` in key order, symbol then id, each (symbol, id) once: the first
 * occurrence is kept, as `ON CONFLICT DO NOTHING` would keep it. Linear
 * when each symbol's ids already ascend, as the exchange sends them.
 */
export function inKeyOrder<T>(
  rows: readonly T[],
  symbolOf: (row: T) => string,
  idOf: (row: T) => number,
): T[] {
  const bySymbol = new Map<string, T[]>();
  for (const row of rows) {
    const list = bySymbol.get(symbolOf(row));
    if (list) list.push(row);
    else bySymbol.set(symbolOf(row), [row]);
  }
  // Code-unit order: the order of the column's "C" collation for these symbols.
  const ordered: T[] = [];
  for (const symbol of [...bySymbol.keys()].sort()) {
    const list = bySymbol.get(symbol)!;
    if (!idsAscend(list, idOf)) list.sort((a, b) => idOf(a) - idOf(b)); // stable: first stays first
    let previous = Number.NaN;
    for (const row of list) {
      if (idOf(row) !== previous) ordered.push(row);
      previous = idOf(row);
    }
  }
  return ordered;
}

function idsAscend<T>(rows: readonly T[], idOf: (row: T) => number): boolean {
  for (let i = 1; i < rows.length; i++) if (idOf(rows[i]!) < idOf(rows[i - 1]!)) return false;
  return true;
}
