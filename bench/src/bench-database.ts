import { Redis } from 'ioredis';
import pg from 'pg';

// Where the app under test stores: a database of the bench's own on the
// PostgreSQL server (never tables in the shared `postgres` database), and
// the Redis keys of the bench's symbols.

const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A database named `name` on the bench's PostgreSQL server, created afresh for each run. */
export class BenchDatabase {
  constructor(readonly name: string) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  }

  /** Its URL, for the app's `DATABASE_URL`. */
  get url(): string {
    const url = new URL(SERVER_URL);
    url.pathname = `/${this.name}`;
    return url.toString();
  }

  /** Drops it (connections included) and creates it empty. */
  async fresh(): Promise<void> {
    await admin(async (client) => {
      await client.query(`drop database if exists ${this.name} with (force)`);
      await client.query(`create database ${this.name}`);
    });
  }

  async drop(): Promise<void> {
    await admin((client) => client.query(`drop database if exists ${this.name} with (force)`));
  }

  /** A connected client of it; `end()` it. */
  async connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url });
    await client.connect();
    return client;
  }
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The Redis the app under test caches in (`REDIS_URL`). */
export const benchRedisUrl = REDIS_URL;

/** Removes the cache keys of `symbols`. */
export async function clearTickCache(symbols: readonly string[]): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    await redis.del(...symbols.map((s) => `tick:${s}`));
  } finally {
    redis.disconnect();
  }
}
