import { TradeError } from '@trade/core';
import { CompiledQuery, type Kysely } from 'kysely';
import { createPartitionInTransaction, dayOf, type PartitionedTable } from './daily-partitions.js';
import type { MarketDataDatabase } from './schema.js';

/** What turning one table into a partitioned one needs to know about it. */
interface TableLayout {
  readonly table: PartitionedTable;
  /** Column definitions, as in `create table`. */
  readonly columns: string;
  /** The column names, in order. */
  readonly names: string;
  /** The unpartitioned table's unique constraint. */
  readonly oldKey: string;
  /** Its id column: the key becomes (symbol, id, timestamp). */
  readonly id: string;
  /** Decimal columns whose sums must survive the copy. */
  readonly sums: readonly string[];
}

export const TICK_DATA_LAYOUT: TableLayout = {
  table: 'tick_data',
  columns: `symbol text collate "C" not null, trade_id bigint not null, price numeric not null,
    quantity numeric not null, side text not null check (side in ('BUY', 'SELL')),
    is_buyer_maker boolean not null, "timestamp" timestamptz not null`,
  names: 'symbol, trade_id, price, quantity, side, is_buyer_maker, "timestamp"',
  oldKey: 'tick_data_symbol_trade_id_key',
  id: 'trade_id',
  sums: ['price', 'quantity'],
};

export const QUOTE_DATA_LAYOUT: TableLayout = {
  table: 'quote_data',
  columns: `symbol text collate "C" not null, update_id bigint not null, bid_price numeric not null,
    bid_qty numeric not null, ask_price numeric not null, ask_qty numeric not null,
    "timestamp" timestamptz not null`,
  names: 'symbol, update_id, bid_price, bid_qty, ask_price, ask_qty, "timestamp"',
  oldKey: 'quote_data_symbol_update_id_key',
  id: 'update_id',
  sums: ['bid_price', 'bid_qty', 'ask_price', 'ask_qty'],
};

type Executor = Pick<Kysely<MarketDataDatabase>, 'executeQuery'>;

const run = (db: Executor, text: string) => db.executeQuery(CompiledQuery.raw(text));

/**
 * Turns `layout.table` into a table partitioned by UTC day on `timestamp`,
 * inside the caller's transaction (the migration's), keeping every row:
 * the old table is renamed, the partitioned one created with a partition
 * for each day that holds rows (and today and tomorrow), the rows copied,
 * their count and sums compared, and the old table dropped. Writers wait
 * on the rename's ACCESS EXCLUSIVE lock until the transaction commits.
 */
export async function partitionByDay(db: Executor, layout: TableLayout): Promise<void> {
  const { table } = layout;
  const old = `${table}_unpartitioned`;
  await run(db, `alter table ${table} rename to ${old}`);
  // Index names are schema-wide: free the two the partitioned table takes.
  await run(db, `alter table ${old} rename constraint ${layout.oldKey} to ${old}_key`);
  await run(db, `alter index ${table}_symbol_timestamp_idx rename to ${old}_symbol_timestamp_idx`);
  await run(
    db,
    `create table ${table} (${layout.columns},
      constraint ${table}_symbol_${layout.id}_timestamp_key unique (symbol, ${layout.id}, "timestamp")
    ) partition by range ("timestamp")`,
  );
  await run(
    db,
    `create index ${table}_symbol_timestamp_idx on ${table} (symbol, "timestamp" desc)`,
  );
  const { rows } = await db.executeQuery<{ day: string }>(
    CompiledQuery.raw(
      `select distinct floor(extract(epoch from "timestamp") / 86400)::int8 as day from ${old}`,
    ),
  );
  const today = dayOf(Date.now());
  const days = new Set([...rows.map((r) => Number(r.day)), today, today + 1]);
  for (const day of [...days].sort((a, b) => a - b)) {
    await createPartitionInTransaction(db, table, day);
  }
  await run(db, `insert into ${table} (${layout.names}) select ${layout.names} from ${old}`);
  const totals = (from: string) =>
    db.executeQuery<Record<string, string>>(
      CompiledQuery.raw(
        `select count(*)::text as rows, ${layout.sums.map((c) => `coalesce(sum(${c}), 0)::text as ${c}`).join(', ')} from ${from}`,
      ),
    );
  const [before, after] = [(await totals(old)).rows[0], (await totals(table)).rows[0]];
  if (JSON.stringify(before) !== JSON.stringify(after)) {
    throw new TradeError(
      `partitioning ${table}: the copy differs from the original (before ${JSON.stringify(before)}, after ${JSON.stringify(after)}); nothing changed`,
    );
  }
  await run(db, `drop table ${old}`);
}

/** The reverse of {@link partitionByDay}: one plain table again, every row kept. */
export async function unpartition(db: Executor, layout: TableLayout): Promise<void> {
  const { table } = layout;
  const partitioned = `${table}_partitioned`;
  await run(db, `alter table ${table} rename to ${partitioned}`);
  await run(
    db,
    `alter table ${partitioned} rename constraint ${table}_symbol_${layout.id}_timestamp_key to ${partitioned}_key`,
  );
  await run(
    db,
    `alter index ${table}_symbol_timestamp_idx rename to ${partitioned}_symbol_timestamp_idx`,
  );
  await run(
    db,
    `create table ${table} (${layout.columns}, constraint ${layout.oldKey} unique (symbol, ${layout.id}))`,
  );
  await run(
    db,
    `create index ${table}_symbol_timestamp_idx on ${table} (symbol, "timestamp" desc)`,
  );
  await run(
    db,
    `insert into ${table} (${layout.names}) select ${layout.names} from ${partitioned} on conflict do nothing`,
  );
  await run(db, `drop table ${partitioned}`);
}
