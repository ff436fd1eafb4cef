import { createQuote, type Quote } from '@trade/core';
import { sql, type Kysely } from 'kysely';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BookSnapshotRepository,
  QuoteRepository,
  RecordRecorder,
  createPostgresDb,
  migrateToLatest,
  startBookSnapshotRecorder,
  startQuoteRecorder,
  type BookSnapshot,
  type MarketDataDatabase,
  type QuoteRecorder,
} from '../src/index.js';
import { quoteCodec } from '../src/quote-recorder.js';
import { PG_HOST, PG_PORT, TcpProxy, eventually, tempDir } from './helpers.js';

const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = `trade_market_data_recorder_${process.pid}`;
const T0 = 1_700_000_000_000;
// Short delays: the outages here are real, their length is not what is tested.
const FAST = { maxRetries: 1, retry: { initialMs: 5, maxMs: 50 } } as const;

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A pool reaching this file's own database, directly or on `port` (a proxy, or nothing listening). */
function connect(port = PG_PORT): Kysely<MarketDataDatabase> {
  const url = new URL(adminUrl);
  url.pathname = `/${DATABASE}`;
  url.hostname = PG_HOST;
  url.port = String(port);
  return createPostgresDb({
    pool: new pg.Pool({ connectionString: url.href, max: 2, connectionTimeoutMillis: 2_000 }),
  });
}

/** A port nothing listens on: the database is down. */
async function deadPort(): Promise<number> {
  const proxy = new TcpProxy(PG_PORT);
  const port = await proxy.start();
  await proxy.stop();
  return port;
}

const quote = (updateId: number, symbol = 'BTCUSDT'): Quote =>
  createQuote({
    symbol,
    updateId,
    bidPrice: `${43_000 + (updateId % 97)}.${String(updateId % 100).padStart(2, '0')}000001`,
    bidQty: `0.${String((updateId % 9973) + 1).padStart(8, '0')}`,
    askPrice: '123456789012.123456789012',
    askQty: updateId % 2 === 0 ? '1' : '0.10',
    receiveTime: T0 + updateId * 7 + (updateId % 3),
  });

const quotes = (from: number, count: number, symbol?: string): Quote[] =>
  Array.from({ length: count }, (_, i) => quote(from + i, symbol));

interface StoredQuote extends Quote {
  readonly tx: string;
}

async function storedQuotes(db: Kysely<MarketDataDatabase>): Promise<StoredQuote[]> {
  const { rows } = await sql<{
    symbol: string;
    update_id: string;
    bid_price: string;
    bid_qty: string;
    ask_price: string;
    ask_qty: string;
    ms: string;
    tx: string;
  }>`select symbol, update_id, bid_price::text as bid_price, bid_qty::text as bid_qty,
       ask_price::text as ask_price, ask_qty::text as ask_qty,
       (extract(epoch from timestamp) * 1000)::int8 as ms, xmin::text as tx
     from quote_data order by symbol, update_id`.execute(db);
  return rows.map((r) => ({
    symbol: r.symbol,
    updateId: Number(r.update_id),
    bidPrice: r.bid_price,
    bidQty: r.bid_qty,
    askPrice: r.ask_price,
    askQty: r.ask_qty,
    receiveTime: Number(r.ms),
    tx: r.tx,
  }));
}

const withoutTx = (rows: readonly StoredQuote[]): Quote[] => rows.map(({ tx: _, ...q }) => q);

/** The transactions that wrote `rows`, in commit order, each with its lowest and highest update id. */
function insertOrder(rows: readonly StoredQuote[]): [number, number][] {
  const byTx = new Map<number, [number, number]>();
  for (const { tx, updateId } of rows) {
    const range = byTx.get(Number(tx));
    if (range) {
      range[0] = Math.min(range[0], updateId);
      range[1] = Math.max(range[1], updateId);
    } else byTx.set(Number(tx), [updateId, updateId]);
  }
  return [...byTx.entries()].sort((a, b) => a[0] - b[0]).map(([, range]) => range);
}

function expectAscending(ranges: readonly [number, number][]): void {
  for (let i = 1; i < ranges.length; i++) {
    expect(ranges[i]![0], `batch ${i} after batch ${i - 1}`).toBeGreaterThan(ranges[i - 1]![1]);
  }
}

const spoolFiles = async (dir: string) =>
  (await readdir(dir)).filter((f) => f.endsWith('.spool')).sort();

describe('RecordRecorder on PostgreSQL', () => {
  let db: Kysely<MarketDataDatabase>;
  const open: { close(): Promise<unknown> }[] = [];
  const track = <R extends { close(): Promise<unknown> }>(r: R): R => (open.push(r), r);

  beforeAll(async () => {
    await admin(`drop database if exists ${DATABASE} with (force)`);
    await admin(`create database ${DATABASE}`);
    db = connect();
    await migrateToLatest(db);
  });
  afterAll(async () => {
    await Promise.all(open.map((r) => r.close().catch(() => undefined)));
    await db?.destroy();
    await admin(`drop database if exists ${DATABASE} with (force)`);
  });
  beforeEach(async () => {
    await sql`truncate quote_data, book_snapshots`.execute(db);
  });

  it('stores quotes in batches exactly: every field, decimals as sent, timestamp = receiveTime', async () => {
    const spoolDir = await tempDir();
    const recorder = track(
      await startQuoteRecorder({ repository: new QuoteRepository(db), spoolDir, batchSize: 100 }),
    );
    const offered = [...quotes(1, 250), ...quotes(1, 50, 'ETHUSDT'), ...quotes(1, 20)];
    expect(offered.map((q) => recorder.offer(q)).every(Boolean)).toBe(true);
    expect(await recorder.close()).toEqual({ lost: 0 });
    const stored = await storedQuotes(db);
    const expected = [...quotes(1, 250), ...quotes(1, 50, 'ETHUSDT')].sort(
      (a, b) => a.symbol.localeCompare(b.symbol) || a.updateId - b.updateId,
    );
    expect(withoutTx(stored)).toEqual(expected);
    expect(stored.find((q) => q.updateId === 3)?.askQty).toBe('0.10'); // not 0.1
    expect(recorder.stats()).toMatchObject({
      accepted: 320,
      stored: 300,
      duplicates: 20,
      rejected: 0,
      spooled: 0,
      buffered: 0,
      spoolRows: 0,
      lost: 0,
    });
    expect(await spoolFiles(spoolDir)).toEqual([]);
    expect(recorder.offer(quote(999))).toBe(false); // closed
  });

  it('stores book snapshots exactly: levels as sent, best first, timestamp as given', async () => {
    const spoolDir = await tempDir();
    const books = track(
      await startBookSnapshotRecorder({
        repository: new BookSnapshotRepository(db),
        spoolDir,
        batchSize: 2,
      }),
    );
    const snapshots: BookSnapshot[] = [1, 2, 3].map((id) => ({
      top: {
        symbol: 'BTCUSDT',
        updateId: id,
        bids: [
          ['43250.01000000', '0.50000000'],
          ['43249.9', '0.00000001'],
        ],
        asks: [
          ['43250.02000000', '1.25000000'],
          ['123456789.12345678', '2'],
        ],
      },
      timestamp: T0 + id * 1000 + 1,
    }));
    for (const s of snapshots) books.offer(s);
    expect(await books.close()).toEqual({ lost: 0 });
    const stored = [];
    for await (const top of new BookSnapshotRepository(db).snapshotsBetween(
      'BTCUSDT',
      -Infinity,
      Infinity,
    )) {
      stored.push(top);
    }
    expect(stored).toEqual(snapshots.map(({ top, timestamp }) => ({ ...top, timestamp })));
    expect(books.stats()).toMatchObject({ stored: 3, spooled: 0, lost: 0 });
  });

  it('spools while the database is down, new batches behind the spool, and replays them in order once it is back: none lost, none twice', async () => {
    const proxy = new TcpProxy(PG_PORT);
    const proxied = connect(await proxy.start());
    const spoolDir = await tempDir();
    const recorder = track(
      await startQuoteRecorder({
        repository: new QuoteRepository(proxied),
        spoolDir,
        batchSize: 100,
        flushIntervalMs: 5,
        ...FAST,
      }),
    );
    try {
      for (const q of quotes(1, 200)) recorder.offer(q);
      await eventually(() => recorder.stats().stored === 200, 20_000, 'the first batches stored');

      await proxy.stop();
      for (const q of quotes(201, 500)) recorder.offer(q);
      await eventually(() => recorder.stats().spoolRows === 500, 20_000, 'the outage spooled');
      expect(recorder.health()).toMatchObject({ blocked: false });
      expect(recorder.health().databaseError).toBeDefined();
      // While the spool holds anything, new batches go behind it, whatever the database does.
      for (const q of quotes(701, 300)) recorder.offer(q);
      await eventually(() => recorder.stats().spoolRows === 800, 20_000, 'more spooled');
      expect((await spoolFiles(spoolDir)).length).toBeGreaterThan(0);
      expect(recorder.stats().stored).toBe(200);

      await proxy.start();
      await eventually(() => recorder.stats().spoolRows === 0, 30_000, 'the spool replayed');
      for (const q of quotes(1001, 100)) recorder.offer(q);
      expect(await recorder.close()).toEqual({ lost: 0 });
      expect(recorder.stats()).toMatchObject({
        accepted: 1100,
        stored: 1100,
        duplicates: 0,
        spooled: 800,
        replayed: 800,
        spoolRows: 0,
        lost: 0,
      });
      expect(recorder.health()).toEqual({ blocked: false });
      const stored = await storedQuotes(db);
      expect(withoutTx(stored)).toEqual(quotes(1, 1100));
      expectAscending(insertOrder(stored));
      expect(await spoolFiles(spoolDir)).toEqual([]);
    } finally {
      await proxy.stop();
      await proxied.destroy();
    }
  });

  it('replays on start the spool an earlier recorder left, receive times and decimals exact', async () => {
    const down = connect(await deadPort());
    const spoolDir = await tempDir();
    const first = track(
      await startQuoteRecorder({
        repository: new QuoteRepository(down),
        spoolDir,
        batchSize: 100,
        ...FAST,
      }),
    );
    for (const q of quotes(1, 450)) first.offer(q);
    expect(await first.close()).toEqual({ lost: 0 });
    await down.destroy();
    expect(first.stats()).toMatchObject({ stored: 0, spooled: 450, spoolRows: 450 });
    expect((await spoolFiles(spoolDir))[0]).toMatch(/^quotes-\d{12}\.spool$/);

    const second = track(
      await startQuoteRecorder({ repository: new QuoteRepository(db), spoolDir, ...FAST }),
    );
    expect(second.stats().spoolRows).toBe(450);
    await eventually(() => second.stats().spoolRows === 0, 20_000, 'the spool replayed');
    expect(await second.close()).toEqual({ lost: 0 });
    expect(second.stats()).toMatchObject({ accepted: 0, stored: 450, replayed: 450 });
    const stored = await storedQuotes(db);
    expect(withoutTx(stored)).toEqual(quotes(1, 450));
    expectAscending(insertOrder(stored));
    expect(await spoolFiles(spoolDir)).toEqual([]);
  });

  it('quarantines a damaged spool record byte for byte, counts it, and replays the rest', async () => {
    const down = connect(await deadPort());
    const spoolDir = await tempDir();
    const first = track(
      await startQuoteRecorder({
        repository: new QuoteRepository(down),
        spoolDir,
        batchSize: 100,
        ...FAST,
      }),
    );
    for (const q of quotes(1, 500)) first.offer(q);
    expect(await first.close()).toEqual({ lost: 0 });
    await down.destroy();

    // One digit of a price of the third record (update ids 201-300) flips on disk.
    const [segment] = await spoolFiles(spoolDir);
    const path = join(spoolDir, segment!);
    const bytes = await readFile(path);
    let start = 0;
    for (let i = 0; i < 2; i++) start = bytes.indexOf(0x0a, start) + 1;
    const end = bytes.indexOf(0x0a, start);
    const original = Buffer.from(bytes.subarray(start, end));
    const at = bytes.indexOf('123456789012.', start) + 3;
    bytes[at] = bytes[at] === 0x35 ? 0x36 : 0x35;
    await writeFile(path, bytes);

    const corrupt: string[] = [];
    const second = track(
      await startQuoteRecorder({
        repository: new QuoteRepository(db),
        spoolDir,
        onCorruptRecord: (r) => corrupt.push(`${r.line} ${r.reason}`),
        ...FAST,
      }),
    );
    await eventually(() => second.stats().spoolRows === 0, 20_000, 'the spool replayed');
    expect(await second.close()).toEqual({ lost: 0 });
    expect(corrupt).toEqual(['3 checksum']);
    expect(second.stats()).toMatchObject({ corruptRecords: 1, stored: 400, replayed: 400 });
    const quarantined = await readFile(join(spoolDir, 'quarantine', segment!));
    const damaged = Buffer.from(original);
    damaged[at - start] = bytes[at]!;
    expect(quarantined).toEqual(Buffer.concat([damaged, Buffer.of(0x0a)]));
    const stored = await storedQuotes(db);
    expect(withoutTx(stored)).toEqual([...quotes(1, 200), ...quotes(301, 200)]);
  });

  it('keeps the rows the database refuses in rejected.jsonl and stores the rest', async () => {
    await sql`alter table quote_data add constraint no_update_777 check (update_id <> 777)`.execute(
      db,
    );
    try {
      const spoolDir = await tempDir();
      const recorder = track(
        await startQuoteRecorder({ repository: new QuoteRepository(db), spoolDir, ...FAST }),
      );
      const malformed = { ...quote(780), bidPrice: '-1' };
      const offered = [...quotes(770, 10), malformed];
      for (const q of offered) recorder.offer(q);
      expect(await recorder.close()).toEqual({ lost: 0 });
      expect(recorder.stats()).toMatchObject({ stored: 9, rejected: 2, lost: 0 });
      const stored = await storedQuotes(db);
      expect(withoutTx(stored)).toEqual(quotes(770, 10).filter((q) => q.updateId !== 777));
      const lines = (await readFile(join(spoolDir, 'rejected.jsonl'), 'utf8'))
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as { at: string; reason: string; quote: Quote });
      expect(lines.map((l) => l.quote).sort((a, b) => a.updateId - b.updateId)).toEqual([
        quote(777),
        malformed,
      ]);
      const reasons = Object.fromEntries(lines.map((l) => [l.quote.updateId, l.reason]));
      expect(reasons[780]).toBe('invalid bidPrice');
      expect(reasons[777]).toMatch(/no_update_777/);
      expect(lines.every((l) => !Number.isNaN(Date.parse(l.at)))).toBe(true);
    } finally {
      await sql`alter table quote_data drop constraint no_update_777`.execute(db);
    }
  });

  it('past maxBuffered rows, batches go to the spool while an insert hangs, in order, each stored once', async () => {
    const repository = new QuoteRepository(db);
    let release!: () => void;
    const hanging = new Promise<void>((resolve) => (release = resolve));
    let inserts = 0;
    const spoolDir = await tempDir();
    const recorder = track(
      await RecordRecorder.start<Quote>({
        codec: quoteCodec,
        spoolDir,
        name: 'quotes',
        batchSize: 100,
        maxBuffered: 250,
        ...FAST,
        async insert(rows) {
          if (++inserts === 1) await hanging;
          const { inserted, duplicates, rejected } = await repository.insert(rows);
          return { inserted, duplicates, rejected: rejected.map((r) => ({ ...r, row: r.quote })) };
        },
      }),
    );
    for (const q of quotes(1, 100)) recorder.offer(q);
    await eventually(() => inserts === 1, 20_000, 'the first insert');
    for (const q of quotes(101, 500)) recorder.offer(q);
    // The first batch is with the hanging insert: a copy of it, then the rest, go to the spool.
    await eventually(() => recorder.stats().spoolRows === 600, 20_000, 'the overflow spooled');
    expect(recorder.stats().stored).toBe(0);
    release();
    await eventually(() => recorder.stats().spoolRows === 0, 20_000, 'the spool replayed');
    expect(await recorder.close()).toEqual({ lost: 0 });
    // The copy of the batch the hanging insert stored is skipped, not written again.
    expect(recorder.stats()).toMatchObject({ stored: 600, duplicates: 0, replayed: 500 });
    const stored = await storedQuotes(db);
    expect(withoutTx(stored)).toEqual(quotes(1, 600));
    expectAscending(insertOrder(stored));
  });

  it('when neither the database nor the disk takes rows: blocked past maxBuffered, dropping, and close reports every row lost', async () => {
    const down = connect(await deadPort());
    const spoolDir = await tempDir();
    const recorder: QuoteRecorder = track(
      await startQuoteRecorder({
        repository: new QuoteRepository(down),
        spoolDir,
        batchSize: 100,
        maxBuffered: 200,
        ...FAST,
        maxRetries: 0,
      }),
    );
    try {
      // The disk fails: the spool directory is gone.
      await rm(spoolDir, { recursive: true });
      for (const q of quotes(1, 100)) expect(recorder.offer(q)).toBe(true);
      await eventually(
        () => recorder.health().spoolError !== undefined,
        20_000,
        'an append to fail',
      );
      const taken = quotes(101, 200).map((q) => recorder.offer(q));
      expect(taken.filter(Boolean)).toHaveLength(100);
      expect(taken.slice(100).some(Boolean)).toBe(false);
      const health = recorder.health();
      expect(health.blocked).toBe(true);
      expect(health.reason).toMatch(/spool cannot be written/);
      expect(health.databaseError).toBeDefined();
      expect(recorder.stats()).toMatchObject({ accepted: 200, buffered: 200, lost: 100 });
      expect(await recorder.close()).toEqual({ lost: 300 });
      expect(recorder.stats()).toMatchObject({ stored: 0, spooled: 0, lost: 300, buffered: 0 });
      expect(await storedQuotes(db)).toEqual([]);
    } finally {
      await down.destroy();
    }
  });
});
