import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { MarketDataDatabase } from '../src/index.js';
import { PgliteDialect } from '../src/pglite-dialect.js';

export type BackendName = 'postgresql' | 'pglite';

export interface Database {
  readonly db: Kysely<MarketDataDatabase>;
  /** SQL of the statements run, in order. */
  readonly sql: string[];
  close(): Promise<void>;
}

const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
let scratch = 0;

/** A fresh, empty database of its own: created here and dropped on close. */
export async function openDatabase(backend: BackendName): Promise<Database> {
  const statements: string[] = [];
  const log = (event: { level: string; query: { sql: string } }) => {
    if (event.level === 'query' || event.level === 'error') statements.push(event.query.sql);
  };
  if (backend === 'pglite') {
    const pglite = await PGlite.create();
    const db = new Kysely<MarketDataDatabase>({ dialect: new PgliteDialect({ pglite }), log });
    return {
      db,
      sql: statements,
      async close() {
        await db.destroy();
        await pglite.close();
      },
    };
  }
  const name = `trade_market_data_quotes_${process.pid}_${++scratch}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`drop database if exists ${name}`);
  await admin(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = new Kysely<MarketDataDatabase>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url.href, max: 2 }) }),
    log,
  });
  return {
    db,
    sql: statements,
    async close() {
      await db.destroy();
      await admin(`drop database if exists ${name} with (force)`);
    },
  };
}
