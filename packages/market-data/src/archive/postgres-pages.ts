import { CompiledQuery, type Kysely } from 'kysely';
import type { MarketDataDatabase } from '../schema.js';
import type { TableLayout } from './archived-table.js';
import { sqlName } from './duckdb-sql.js';

/**
 * `line` (an SQL expression of one text value a row, starting with the id
 * and a comma) for `symbol`'s rows of `layout.table` in `[dayStart, dayEnd)`
 * (ISO instants), `pageSize` rows at a time in id order (keyset on the id):
 * memory bounded by two pages however large the day.
 */
export async function* postgresLines(
  db: Kysely<MarketDataDatabase>,
  layout: TableLayout,
  line: string,
  symbol: string,
  dayStart: string,
  dayEnd: string,
  pageSize: number,
): AsyncGenerator<string[]> {
  const id = sqlName(layout.id);
  const page = `select ${line} as line
    from ${layout.table}
    where symbol = $1 and "timestamp" >= $2::timestamptz and "timestamp" < $3::timestamptz
      and ${id} > $4::int8
    order by ${id}
    limit $5`;
  const fetch = (after: string) =>
    db
      .executeQuery<{ line: string }>(
        CompiledQuery.raw(page, [symbol, dayStart, dayEnd, after, pageSize]),
      )
      .then(
        ({ rows }) => ({ lines: rows.map((r) => r.line) }),
        (error: unknown) => ({ error }),
      );
  // The next page is asked for before this one is handed on, so PostgreSQL
  // reads it while the caller works.
  let next = fetch('-9223372036854775808');
  try {
    for (;;) {
      const fetched = await next;
      if ('error' in fetched) throw fetched.error;
      const { lines } = fetched;
      const last = lines[lines.length - 1];
      const full = lines.length === pageSize && last !== undefined;
      if (full) next = fetch(last.slice(0, last.indexOf(',')));
      if (lines.length > 0) yield lines;
      if (!full) return;
    }
  } finally {
    // A caller that stops early leaves one page in flight: let it finish on its connection.
    await next;
  }
}

/** The symbols with rows of `layout.table` in `[dayStart, dayEnd)`, in byte order. */
export async function symbolsOfDay(
  db: Kysely<MarketDataDatabase>,
  layout: TableLayout,
  dayStart: string,
  dayEnd: string,
): Promise<string[]> {
  const { rows } = await db.executeQuery<{ symbol: string }>(
    CompiledQuery.raw(
      `select symbol from ${layout.table}
       where "timestamp" >= $1::timestamptz and "timestamp" < $2::timestamptz
       group by symbol order by symbol`,
      [dayStart, dayEnd],
    ),
  );
  return rows.map((r) => r.symbol);
}
