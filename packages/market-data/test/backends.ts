import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { migrateToLatest, type MarketDataDatabase } from '../src/index.js';
import { PgliteDialect } from '../src/pglite-dialect.js';
import { resetTestDatabase, testDatabaseConfig } from './helpers.js';

/** One database the repository tests run on, with a count of the statements sent. */
export interface Backend {
  readonly db: Kysely<MarketDataDatabase>;
  /** Statements executed since the last reset of the counter. */
  statements: number;
  /** Their SQL, in order (reset with the counter). */
  readonly sql: string[];
  /** Empties both tables. */
  truncate(): Promise<void>;
  close(): Promise<void>;
}

export type BackendName = 'postgresql' | 'pglite';

export async function openBackend(name: BackendName): Promise<Backend> {
  let pglite: PGlite | undefined;
  let dialect;
  if (name === 'postgresql') {
    await resetTestDatabase();
    dialect = new PostgresDialect({ pool: new pg.Pool(await testDatabaseConfig({ max: 4 })) });
  } else {
    pglite = await PGlite.create();
    dialect = new PgliteDialect({ pglite });
  }
  const backend: Backend = {
    db: new Kysely<MarketDataDatabase>({
      dialect,
      log: (event) => {
        if (event.level === 'query' || event.level === 'error') {
          backend.statements += 1;
          backend.sql.push(event.query.sql);
        }
      },
    }),
    statements: 0,
    sql: [],
    async truncate() {
      await sql`truncate tick_data, paper_trades`.execute(backend.db);
      backend.statements = 0;
      backend.sql.length = 0;
    },
    async close() {
      await backend.db.destroy();
      await pglite?.close();
    },
  };
  await migrateToLatest(backend.db);
  return backend;
}
