import type { DuckDBConnection } from '@duckdb/node-api';
import { CompiledQuery, type Kysely } from 'kysely';
import type { MarketDataDatabase } from '../schema.js';
import {
  DECIMAL_SCALE,
  POSTGRES_MS,
  scaleColumn,
  type DecimalStorage,
  type TableLayout,
} from './archived-table.js';
import { addDecimals, canonicalDecimal, extremeDecimal } from './decimal-text.js';
import { sqlName, textScaleSql } from './duckdb-sql.js';

/** One aggregate compared between PostgreSQL and a file, as exact text. */
interface RowCheck {
  /** Its name in an {@link ArchiveCheckError}: `count`, `sum of price`... */
  readonly check: string;
  /** How two parts' values make the whole's. */
  readonly combine: 'sum' | 'min' | 'max';
  readonly postgres: string;
  readonly duckdb: (storage: DecimalStorage) => string;
}

/** Each check's value, by name; `null` is an aggregate of no rows. */
export type Aggregates = ReadonlyMap<string, string | null>;

function rowChecks(layout: TableLayout): RowCheck[] {
  const id = sqlName(layout.id);
  const same = (sql: string) => () => sql;
  return [
    { check: 'count', combine: 'sum', postgres: 'count(*)', duckdb: same('count(*)') },
    {
      check: `min ${layout.id}`,
      combine: 'min',
      postgres: `min(${id})`,
      duckdb: same(`min(${id})`),
    },
    {
      check: `max ${layout.id}`,
      combine: 'max',
      postgres: `max(${id})`,
      duckdb: same(`max(${id})`),
    },
    {
      check: 'sum of timestamp_ms',
      combine: 'sum',
      postgres: `sum(${POSTGRES_MS})`,
      duckdb: same('sum(timestamp_ms)'),
    },
    ...layout.decimals.flatMap((column): RowCheck[] => {
      const name = sqlName(column);
      return [
        {
          check: `sum of ${column}`,
          combine: 'sum',
          postgres: `sum(${name})`,
          // VARCHAR decimals are summed exactly as long as they fit DECIMAL(38,18);
          // a value beyond that fails the cast, and so the check, never silently.
          duckdb: (storage) =>
            storage === 'decimal' ? `sum(${name})` : `sum(CAST(${name} AS DECIMAL(38,18)))`,
        },
        {
          check: `sum of scale of ${column}`,
          combine: 'sum',
          postgres: `sum(scale(${name}))`,
          duckdb: (storage) =>
            storage === 'decimal'
              ? `sum(${sqlName(scaleColumn(column))})`
              : `sum(${textScaleSql(column)})`,
        },
      ];
    }),
    ...layout.counts.map(({ check, where }): RowCheck => ({
      check,
      combine: 'sum',
      postgres: `count(*) filter (where ${where})`,
      duckdb: same(`count(*) FILTER (WHERE ${where})`),
    })),
  ];
}

/** What PostgreSQL says of one symbol's rows of a day. */
export interface PostgresSummary {
  readonly aggregates: Aggregates;
  /** Whether every decimal fits DECIMAL(18,8) exactly: scale at most 8, magnitude below 1e10. */
  readonly fitsDecimal: boolean;
}

/** PostgreSQL's own aggregates of `symbol`'s rows in `[dayStart, dayEnd)` (ISO instants). */
export async function postgresSummary(
  db: Kysely<MarketDataDatabase>,
  layout: TableLayout,
  symbol: string,
  dayStart: string,
  dayEnd: string,
): Promise<PostgresSummary> {
  const checks = rowChecks(layout);
  const fits = layout.decimals
    .map((c) => `scale(${sqlName(c)}) <= ${DECIMAL_SCALE} and abs(${sqlName(c)}) < 1e10`)
    .join(' and ');
  const { rows } = await db.executeQuery<Record<string, string | boolean | null>>(
    CompiledQuery.raw(
      `select ${checks.map((c, i) => `(${c.postgres})::text as c${i}`).join(', ')},
         coalesce(bool_and(${fits}), true) as fits
       from ${layout.table}
       where symbol = $1 and "timestamp" >= $2::timestamptz and "timestamp" < $3::timestamptz`,
      [symbol, dayStart, dayEnd],
    ),
  );
  const row = rows[0] ?? {};
  return {
    aggregates: new Map(checks.map((c, i) => [c.check, textOrNull(row[`c${i}`])])),
    fitsDecimal: row.fits === true,
  };
}

/** The same aggregates over `relation` (a DuckDB table expression of archive rows). */
export async function duckdbAggregates(
  connection: DuckDBConnection,
  layout: TableLayout,
  storage: DecimalStorage,
  relation: string,
): Promise<Aggregates> {
  const checks = rowChecks(layout);
  const reader = await connection.runAndReadAll(
    `SELECT ${checks.map((c, i) => `CAST(${c.duckdb(storage)} AS VARCHAR) AS c${i}`).join(', ')}
     FROM ${relation}`,
  );
  const row = reader.getRowsJS()[0] ?? [];
  return new Map(checks.map((c, i) => [c.check, textOrNull(row[i])]));
}

/** The aggregates of two disjoint sets of rows taken together. */
export function combineAggregates(layout: TableLayout, a: Aggregates, b: Aggregates): Aggregates {
  return new Map(
    rowChecks(layout).map(({ check, combine }) => {
      const x = a.get(check) ?? null;
      const y = b.get(check) ?? null;
      const value =
        combine === 'sum' ? addDecimals(x, y) : extremeDecimal(x, y, combine === 'max' ? 1 : -1);
      return [check, value];
    }),
  );
}

/** The first check whose values differ (compared as exact decimals), if any. */
export function firstMismatch(
  expected: Aggregates,
  actual: Aggregates,
): { check: string; expected: string | null; actual: string | null } | undefined {
  for (const [check, value] of expected) {
    const found = actual.get(check) ?? null;
    if (!sameDecimal(value, found)) return { check, expected: value, actual: found };
  }
  return undefined;
}

function sameDecimal(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  try {
    return canonicalDecimal(a) === canonicalDecimal(b);
  } catch {
    return false;
  }
}

// Both databases give every aggregate as text (or null for none).
function textOrNull(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return null;
  throw new TypeError(`an aggregate came back as ${typeof value}, not text`);
}
