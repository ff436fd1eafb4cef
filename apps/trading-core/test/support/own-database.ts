import pg from 'pg';

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A database of one test file's own on the test server: made afresh, dropped at the end. */
export class OwnDatabase {
  constructor(readonly name: string) {}

  /** Its URL, for `DATABASE_URL`. */
  get url(): string {
    const url = new URL(ADMIN_URL);
    url.pathname = `/${this.name}`;
    return url.toString();
  }

  /** Drops it (connections included) and creates it empty. */
  async fresh(): Promise<void> {
    await this.drop();
    await admin(`create database ${this.name}`);
  }

  async drop(): Promise<void> {
    await admin(`drop database if exists ${this.name} with (force)`);
  }
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
