import { InvalidInputError } from '@trade/core';
import { CompiledQuery, type Kysely } from 'kysely';
import type { MarketDataDatabase } from './schema.js';

/** The tables partitioned by UTC day on `timestamp` (DESIGN.md, "Storage over time"). */
export const PARTITIONED_TABLES = ['tick_data', 'quote_data'] as const;

/** One of {@link PARTITIONED_TABLES}. */
export type PartitionedTable = (typeof PARTITIONED_TABLES)[number];

/** Milliseconds in a UTC day. */
export const DAY_MS = 86_400_000;

/** One daily partition: `day` counts UTC days since the epoch. */
export interface DailyPartition {
  readonly table: PartitionedTable;
  readonly day: number;
  /** The partition's table name, e.g. `tick_data_20261205`. */
  readonly name: string;
}

/** Anything that runs a query: a Kysely instance, a transaction or a connection. */
type Executor = Pick<Kysely<MarketDataDatabase>, 'executeQuery'>;

/** The UTC day (days since the epoch) of `ms` milliseconds since the epoch. */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/** `day` as `YYYY-MM-DD`. */
export function dayText(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** The day of a `YYYY-MM-DD` text; throws {@link InvalidInputError} for anything else. */
export function dayFromText(text: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : Number.NaN;
  if (!Number.isFinite(ms) || dayText(ms / DAY_MS) !== text) {
    throw new InvalidInputError('day', text, 'a UTC day as YYYY-MM-DD');
  }
  return ms / DAY_MS;
}

/** The name of `table`'s partition of `day`: `<table>_YYYYMMDD`. */
export function partitionName(table: PartitionedTable, day: number): string {
  return `${table}_${dayText(day).replaceAll('-', '')}`;
}

const NAME = /^(tick_data|quote_data)_(\d{4})(\d{2})(\d{2})$/;

/**
 * The daily partitions of `table`, oldest first, read from the catalogue
 * (a partition whose name does not follow {@link partitionName} is not
 * ours and is left out).
 */
export async function listPartitions(
  db: Executor,
  table: PartitionedTable,
): Promise<DailyPartition[]> {
  const { rows } = await db.executeQuery<{ name: string }>(
    CompiledQuery.raw(
      `select c.relname as name from pg_inherits i
       join pg_class c on c.oid = i.inhrelid
       where i.inhparent = to_regclass($1)
       order by c.relname`,
      [table],
    ),
  );
  const partitions: DailyPartition[] = [];
  for (const { name } of rows) {
    const match = NAME.exec(name);
    if (match?.[1] !== table) continue;
    partitions.push({ table, name, day: dayFromText(`${match[2]}-${match[3]}-${match[4]}`) });
  }
  return partitions;
}

/**
 * Creates `table`'s partition of `day` unless it exists, on `db`, which
 * must be inside a transaction (the advisory lock serialises processes
 * creating the same partitions). The partition is made as a plain table
 * like its parent and then attached: ATTACH takes a SHARE UPDATE EXCLUSIVE
 * lock on the parent, so inserts into the other days go on meanwhile
 * (`CREATE TABLE ... PARTITION OF` would take ACCESS EXCLUSIVE).
 */
export async function createPartitionInTransaction(
  db: Executor,
  table: PartitionedTable,
  day: number,
): Promise<boolean> {
  const name = partitionName(table, day);
  await db.executeQuery(
    CompiledQuery.raw(`select pg_advisory_xact_lock(hashtext($1))`, [`trade:${table}:partitions`]),
  );
  const { rows } = await db.executeQuery<{ exists: boolean }>(
    CompiledQuery.raw(`select to_regclass($1) is not null as exists`, [name]),
  );
  if (rows[0]?.exists) return false;
  const from = new Date(day * DAY_MS).toISOString();
  const to = new Date((day + 1) * DAY_MS).toISOString();
  await db.executeQuery(CompiledQuery.raw(`create table ${name} (like ${table} including all)`));
  await db.executeQuery(
    CompiledQuery.raw(
      `alter table ${table} attach partition ${name} for values from ('${from}') to ('${to}')`,
    ),
  );
  return true;
}

/**
 * Keeps the daily partitions of one table ahead of the rows: {@link ensure}
 * creates the partitions of the days asked for (and tomorrow's) that do not
 * exist yet, remembering the days it knows, so a batch of known days costs
 * no query. A partition dropped behind its back (retention in another
 * process) is found again by {@link forget}, which the writers call when
 * PostgreSQL answers "no partition found for row".
 *
 * @example
 * ```ts
 * const partitions = new DailyPartitions(db, 'tick_data');
 * await partitions.ensureTimes(batch.map((t) => t.tradeTime));
 * ```
 */
export class DailyPartitions {
  readonly #known = new Set<number>();
  #loaded: Promise<void> | undefined;
  /** The table is a plain one (a schema before migration 0008): nothing to make. */
  #plain = false;

  constructor(
    private readonly db: Kysely<MarketDataDatabase>,
    readonly table: PartitionedTable,
  ) {}

  /** Makes sure the partitions of the days of `times` (ms since the epoch) and of tomorrow exist. */
  async ensureTimes(times: Iterable<number>): Promise<void> {
    let missing: Set<number> | undefined;
    let lastDay = Number.NaN;
    for (const time of times) {
      const day = Math.floor(time / DAY_MS);
      if (day === lastDay) continue;
      lastDay = day;
      if (!this.#known.has(day)) (missing ??= new Set()).add(day);
    }
    const tomorrow = dayOf(Date.now()) + 1;
    if (!this.#known.has(tomorrow)) (missing ??= new Set()).add(tomorrow);
    if (missing) await this.ensure(missing);
  }

  /** Makes sure the partitions of `days` exist. */
  async ensure(days: Iterable<number>): Promise<void> {
    this.#loaded ??= this.#load();
    await this.#loaded;
    if (this.#plain) return;
    for (const day of days) {
      if (this.#known.has(day)) continue;
      if (!Number.isSafeInteger(day)) throw new InvalidInputError('day', day, 'a whole UTC day');
      await this.db
        .transaction()
        .execute((trx) => createPartitionInTransaction(trx, this.table, day));
      this.#known.add(day);
    }
  }

  /**
   * Runs `insert` once the partitions of the days of `times()` exist. A
   * partition dropped meanwhile (retention in another process) makes
   * PostgreSQL refuse the whole statement, nothing written: the catalogue is
   * read again, the partition made, and `insert` runs once more.
   */
  async inserting<R>(times: () => Iterable<number>, insert: () => Promise<R>): Promise<R> {
    await this.ensureTimes(times());
    try {
      return await insert();
    } catch (error) {
      if (!isMissingPartition(error)) throw error;
      this.forget();
      await this.ensureTimes(times());
      return insert();
    }
  }

  /** Forgets what it knows: the next {@link ensure} reads the catalogue again. */
  forget(): void {
    this.#known.clear();
    this.#loaded = undefined;
  }

  async #load(): Promise<void> {
    try {
      const { rows } = await this.db.executeQuery<{ kind: string | null }>(
        CompiledQuery.raw(
          `select relkind::text as kind from pg_class where oid = to_regclass($1)`,
          [this.table],
        ),
      );
      this.#plain = rows[0]?.kind !== 'p';
      for (const partition of await listPartitions(this.db, this.table)) {
        this.#known.add(partition.day);
      }
    } catch (error) {
      this.#loaded = undefined;
      throw error;
    }
  }
}

/**
 * True when PostgreSQL refused rows because no partition holds their day
 * (SQLSTATE 23514 with that message): create the partition and retry,
 * rather than treat the rows as bad.
 */
export function isMissingPartition(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return (
    code === '23514' && typeof message === 'string' && /no partition of relation/.test(message)
  );
}
