import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTick, type Tick } from '@trade/core';
import { encodeTick, ensureTradeStream, tradeMsgId, tradeSubject } from '@trade/bus';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { TcpProxy } from '@trade/test-support';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launch, waitForStatus, type AppProcess } from './support/app-process.js';
import { NatsServer } from './support/nats-server.js';

// `trading-core store` as an operator runs it: a private nats-server with
// JetStream, the real PostgreSQL, the built CLI as a child process. The
// ticks published are the ground truth; tick_data must equal them exactly.

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = 'trade_app_bus_store_test';
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
const PASSWORD = 'pw-store-never-shown-7713';

function databaseUrl(password?: string, port?: number): string {
  const url = new URL(ADMIN_URL);
  if (port !== undefined) {
    url.hostname = '127.0.0.1';
    url.port = String(port);
  }
  url.pathname = `/${DATABASE}`;
  if (password) {
    url.username = url.username || 'postgres';
    url.password = password;
  }
  return url.toString();
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Ticks with consecutive ids and decimals no JavaScript number holds exactly. */
function makeTicks(symbol: string, fromId: number, count: number): Tick[] {
  return Array.from({ length: count }, (_, i) => {
    const id = fromId + i;
    return createTick({
      symbol,
      tradeId: id,
      price: `${43_000 + (id % 977)}.${String(id % 100_000_000).padStart(8, '0')}`,
      quantity: `1234.${String((id * 7919) % 1_000_000_000_000).padStart(12, '0')}`,
      isBuyerMaker: id % 3 === 0,
      tradeTime: 1_700_000_000_000 + id * 13,
    });
  });
}

const allTicks = (fromId: number, perSymbol: number) =>
  SYMBOLS.flatMap((symbol) => makeTicks(symbol, fromId, perSymbol));

/** Publishes with the Nats-Msg-Id of the contract, 500 awaiting their acks at a time. */
async function publish(nc: NatsConnection, ticks: readonly Tick[]): Promise<void> {
  const js = jetstream(nc);
  for (let i = 0; i < ticks.length; i += 500) {
    await Promise.all(
      ticks.slice(i, i + 500).map((tick) =>
        js.publish(tradeSubject(tick.symbol), encodeTick(tick), {
          msgID: tradeMsgId(tick.symbol, tick.tradeId),
        }),
      ),
    );
  }
}

interface Row {
  symbol: string;
  trade_id: string;
  price: string;
  quantity: string;
  side: string;
  is_buyer_maker: boolean;
  time_ms: string;
}

async function rows(): Promise<Row[]> {
  const db = new pg.Client({ connectionString: databaseUrl() });
  await db.connect();
  try {
    const result = await db.query<Row>(
      `select symbol, trade_id::text as trade_id, price::text as price, quantity::text as quantity,
              side, is_buyer_maker, (extract(epoch from timestamp) * 1000)::bigint::text as time_ms
         from tick_data order by symbol, tick_data.trade_id`,
    );
    return result.rows;
  } finally {
    await db.end();
  }
}

async function storedCount(): Promise<number> {
  const db = new pg.Client({ connectionString: databaseUrl() });
  await db.connect();
  try {
    const { rows: found } = await db.query<{ n: string }>(
      'select count(*)::text as n from tick_data',
    );
    return Number(found[0]!.n);
  } catch {
    return 0; // not migrated yet
  } finally {
    await db.end();
  }
}

/** tick_data must hold each published tick once, every field exact. */
function expectExactly(stored: readonly Row[], published: readonly Tick[]): void {
  const expected = published
    .map((tick) => ({
      symbol: tick.symbol,
      trade_id: String(tick.tradeId),
      price: tick.price,
      quantity: tick.quantity,
      side: tick.isBuyerMaker ? 'SELL' : 'BUY',
      is_buyer_maker: tick.isBuyerMaker,
      time_ms: String(tick.tradeTime),
    }))
    .sort((a, b) =>
      a.symbol === b.symbol
        ? Number(a.trade_id) - Number(b.trade_id)
        : a.symbol < b.symbol
          ? -1
          : 1,
    );
  const differ = expected.findIndex(
    (want, i) => JSON.stringify(stored[i]) !== JSON.stringify(want),
  );
  expect({ stored: stored.length, firstDifference: stored[differ] }).toEqual({
    stored: expected.length,
    firstDifference: expected[differ],
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 45_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let nats: NatsServer;
let nc: NatsConnection;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'trading-core-store-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await admin(`drop database if exists ${DATABASE} with (force)`);
});
beforeEach(async () => {
  await admin(`drop database if exists ${DATABASE} with (force)`);
  await admin(`create database ${DATABASE}`);
  nats = await NatsServer.launch();
  nc = await connect({ servers: nats.url });
  await ensureTradeStream(await jetstreamManager(nc));
});
afterEach(async () => {
  await nc.close();
  await nats.destroy();
});

let dirs = 0;
function startStore(env: Record<string, string> = {}): AppProcess {
  return launch(['store'], {
    NATS_URL: nats.url,
    DATABASE_URL: databaseUrl(PASSWORD),
    DATA_DIR: join(root, `data-${++dirs}`),
    REDIS_URL: undefined,
    ...env,
  });
}

/** The durable consumer made before any writer, with a short ack wait: a killed writer's batch comes back in seconds. */
async function createConsumer(ackWaitMs: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add('TRADES', {
    durable_name: 'store',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: ackWaitMs * 1_000_000,
    filter_subject: 'md.binance.trade.>',
  });
}

async function stop(run: AppProcess): Promise<Record<string, unknown>> {
  run.child.kill('SIGTERM');
  expect(await run.exited).toBe(0);
  const stopped = run.logs().find((record) => record.msg === 'stopped');
  expect(stopped).toBeDefined();
  return stopped!;
}

describe('trading-core store', () => {
  it('writes every tick of the stream to tick_data exactly, before and after it started', async () => {
    const before = allTicks(1, 700);
    await publish(nc, before);
    const run = startStore();
    const url = await run.metricsUrl();
    await waitForStatus(`${url}/ready`, 200);
    const after = allTicks(701, 300);
    await publish(nc, after);
    await until('every tick stored', async () => (await storedCount()) >= 3_000);
    const stopped = await stop(run);
    expectExactly(await rows(), [...before, ...after]);
    expect(stopped).toMatchObject({ consumer: 'store', ticks: 3_000 });

    const logs = run.logs();
    expect(logs.find((r) => r.msg === 'connected to NATS')).toMatchObject({ nats: nats.url });
    expect(logs.find((r) => String(r.msg).startsWith('storing ticks from'))).toMatchObject({
      stream: 'TRADES',
      consumer: 'store',
    });
    const { stdout, stderr } = run.output();
    expect(stdout + stderr).not.toContain(PASSWORD);
    // Everything was acked: nothing left for the consumer.
    const info = await (await jetstreamManager(nc)).consumers.info('TRADES', 'store');
    expect(info.num_pending + info.num_ack_pending).toBe(0);
  });

  it('a writer killed mid-stream and started again stores every tick exactly once', async () => {
    await createConsumer(2_000);
    const published = allTicks(1, 10_000);
    await publish(nc, published);
    const dataDir = join(root, 'killed');
    const first = startStore({ DATA_DIR: dataDir });
    await until('some ticks stored', async () => (await storedCount()) > 0);
    first.child.kill('SIGKILL');
    await first.exited;
    const storedAtKill = await storedCount();
    expect(storedAtKill).toBeLessThan(published.length);

    const second = startStore({ DATA_DIR: dataDir });
    await until('every tick stored', async () => (await storedCount()) >= published.length);
    await stop(second);
    expectExactly(await rows(), published);
  });

  it('two writers sharing the consumer store every tick exactly once, each a share', async () => {
    const writers = [startStore(), startStore()];
    for (const run of writers) await waitForStatus(`${await run.metricsUrl()}/ready`, 200);
    const published = allTicks(1, 8_000);
    await publish(nc, published);
    await until('every tick stored', async () => (await storedCount()) >= published.length);
    const handled = [];
    for (const run of writers) handled.push(Number((await stop(run)).ticks));
    expectExactly(await rows(), published);
    for (const ticks of handled) expect(ticks).toBeGreaterThan(0);
    expect(handled[0]! + handled[1]!).toBe(published.length);
  });

  it('acks what it spooled while PostgreSQL is away, and stores it once the database is back', async () => {
    const target = new URL(ADMIN_URL);
    const proxy = new TcpProxy(Number(target.port || 5432), target.hostname);
    const port = await proxy.start();
    try {
      const run = startStore({ DATABASE_URL: databaseUrl(PASSWORD, port) });
      const url = await run.metricsUrl();
      await waitForStatus(`${url}/ready`, 200);
      const before = allTicks(1, 500);
      await publish(nc, before);
      await until('the first ticks stored', async () => (await storedCount()) >= before.length);

      await proxy.stop();
      const during = allTicks(501, 1_000);
      await publish(nc, during);
      const jsm = await jetstreamManager(nc);
      // Every message acked although the database is away: its ticks are in the spool.
      await until('every message acked', async () => {
        const info = await jsm.consumers.info('TRADES', 'store');
        return info.num_pending + info.num_ack_pending === 0 && info.delivered.stream_seq >= 4_500;
      });
      await waitForStatus(`${url}/ready`, 503);
      expect(await storedCount()).toBe(before.length);

      await proxy.start();
      await until('the spool replayed', async () => (await storedCount()) >= 4_500);
      await stop(run);
      expectExactly(await rows(), [...before, ...during]);
    } finally {
      await proxy.stop();
    }
  });
});
