import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { createTick, type PaperFill, type Tick } from '@trade/core';
import { encodeTick, ensureTradeStream, tradeMsgId, tradeSubject } from '@trade/bus';
import { PaperEngine, strategyByName } from '@trade/paper-engine';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launch, waitForStatus, type AppProcess } from './support/app-process.js';
import { NatsServer } from './support/nats-server.js';

// `trading-core paper` as an operator runs it: a private nats-server with
// JetStream, the real PostgreSQL (or PGlite), the built CLI as a child
// process. The engine is deterministic, so the fills it must write are those
// of a PaperEngine fed, in the test, exactly the ticks the consumer was due.

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = 'trade_app_bus_paper_test';
// The default portfolio's slippage: a BUY fills 5 bps above the tick, a SELL 5 bps below.
const SLIPPAGE = 0.0005;

function databaseUrl(): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${DATABASE}`;
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

/**
 * Ticks with consecutive ids whose price zigzags 25 ticks up, 25 down: the
 * sma strategy (5 over 20) buys on each way up and sells on each way down.
 */
function zigzag(symbol: string, fromId: number, count: number, base: number): Tick[] {
  return Array.from({ length: count }, (_, i) => {
    const id = fromId + i;
    const phase = id % 50;
    const step = phase < 25 ? phase : 50 - phase;
    return createTick({
      symbol,
      tradeId: id,
      price: `${base + step * 7}.${String((id * 7919) % 100_000_000).padStart(8, '0')}`,
      quantity: '0.5',
      isBuyerMaker: id % 3 === 0,
      tradeTime: 1_700_000_000_000 + id * 1_000,
    });
  });
}

/** Every symbol's ticks of ids [fromId, fromId + count), interleaved as they arrive from the exchange. */
function market(symbols: readonly string[], fromId: number, count: number): Tick[] {
  const bySymbol = symbols.map((symbol, i) => zigzag(symbol, fromId, count, 1_000 * (i + 1)));
  return Array.from({ length: count }).flatMap((_, i) => bySymbol.map((ticks) => ticks[i]!));
}

/** Publishes with the Nats-Msg-Id of the contract, in order, 500 awaiting their acks at a time. */
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

/** A fill as paper_trades holds it, amounts as the numeric column prints them. */
interface FillRow {
  strategy: string;
  symbol: string;
  side: string;
  price: string;
  quantity: string;
  fee: string;
  cash_after: string;
  position_after: string;
  time_ms: string;
}

const FILLS_SQL = `select strategy, symbol, side, price::text as price, quantity::text as quantity,
    fee::text as fee, cash_after::text as cash_after, position_after::text as position_after,
    (extract(epoch from timestamp) * 1000)::bigint::text as time_ms
  from paper_trades order by id`;

async function storedFills(): Promise<FillRow[]> {
  const db = new pg.Client({ connectionString: databaseUrl() });
  await db.connect();
  try {
    return (await db.query<FillRow>(FILLS_SQL)).rows;
  } finally {
    await db.end();
  }
}

/** The fills a fresh sma engine makes on `ticks`, as rows of paper_trades. */
function expectedFills(ticks: readonly Tick[]): FillRow[] {
  const fills: PaperFill[] = [];
  const engine = new PaperEngine({
    strategy: strategyByName('sma'),
    onFill: (fill) => fills.push(fill),
  });
  for (const tick of ticks) engine.onTick(tick);
  return fills.map((fill) => ({
    strategy: fill.strategy,
    symbol: fill.symbol,
    side: fill.side,
    price: fill.price,
    quantity: fill.quantity,
    fee: fill.fee,
    cash_after: fill.cashAfter,
    position_after: fill.positionAfter,
    time_ms: String(fill.timestamp),
  }));
}

/** Each fill is of a tick of `ticks`: its symbol and time, priced at it with the slippage. */
function expectOfTicks(fills: readonly FillRow[], ticks: readonly Tick[]): void {
  const byKey = new Map(ticks.map((tick) => [`${tick.symbol}@${tick.tradeTime}`, tick]));
  for (const fill of fills) {
    const tick = byKey.get(`${fill.symbol}@${fill.time_ms}`);
    expect(tick, `a published tick for ${JSON.stringify(fill)}`).toBeDefined();
    const expected = Number(tick!.price) * (fill.side === 'BUY' ? 1 + SLIPPAGE : 1 - SLIPPAGE);
    expect(Number(fill.price)).toBeCloseTo(expected, 6);
    expect(Number(fill.quantity)).toBeGreaterThan(0);
    expect(fill.strategy).toBe('sma');
  }
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
  root = await mkdtemp(join(tmpdir(), 'trading-core-paper-'));
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
function startPaper(args: string[] = [], env: Record<string, string | undefined> = {}) {
  return launch(['paper', ...args], {
    NATS_URL: nats.url,
    DATABASE_URL: databaseUrl(),
    DATA_DIR: join(root, `data-${++dirs}`),
    REDIS_URL: undefined,
    SYMBOLS: undefined,
    NATS_CONSUMER: undefined,
    ...env,
  });
}

/** Waits until the consumer has acked every message of the stream meant for it. */
async function drained(consumer: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await until(`${consumer} to ack everything`, async () => {
    const info = await jsm.consumers.info('TRADES', consumer);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  });
}

/** Starts paper and waits until its consumer exists and it is ready. */
async function started(run: AppProcess): Promise<Record<string, unknown>> {
  const line = await run.waitForLog(/^paper trading /);
  await waitForStatus(`${await run.metricsUrl()}/ready`, 200);
  return line;
}

async function stop(run: AppProcess): Promise<Record<string, unknown>> {
  run.child.kill('SIGTERM');
  expect(await run.exited).toBe(0);
  const stopped = run.logs().find((record) => record.msg === 'stopped');
  expect(stopped).toBeDefined();
  return stopped!;
}

describe('trading-core paper', () => {
  it('trades what is published once its consumer exists, not the history before it; SIGTERM writes every fill and exits 0', async () => {
    const symbols = ['BTCUSDT', 'ETHUSDT'];
    const history = market(symbols, 1, 200);
    await publish(nc, history);
    expect(expectedFills(history).length).toBeGreaterThan(0);

    const run = startPaper(['--strategy', 'sma']);
    expect(await started(run)).toMatchObject({
      stream: 'TRADES',
      consumer: 'paper-sma',
      strategy: 'sma',
      symbols: 'all',
    });
    const live = market(symbols, 201, 300);
    await publish(nc, live);
    await drained('paper-sma');
    const stopped = await stop(run);

    const fills = await storedFills();
    expect(fills).toEqual(expectedFills(live));
    expect(fills.length).toBeGreaterThanOrEqual(8);
    expectOfTicks(fills, live);
    expect(stopped).toMatchObject({
      consumer: 'paper-sma',
      ticks: live.length,
      traded: live.length,
      skipped: 0,
      fills: fills.length,
    });
    const info = await (await jetstreamManager(nc)).consumers.info('TRADES', 'paper-sma');
    expect(info.config.deliver_policy).toBe('new');
    expect(info.num_pending + info.num_ack_pending).toBe(0);
  });

  it('started again, continues where it stopped: ticks published while it was down are traded, none it handled before', async () => {
    const symbols = ['BTCUSDT', 'ETHUSDT'];
    const first = startPaper();
    await started(first);
    const before = market(symbols, 1, 250);
    await publish(nc, before);
    await drained('paper-sma');
    expect(await stop(first)).toMatchObject({ ticks: before.length });
    const firstFills = await storedFills();
    expect(firstFills).toEqual(expectedFills(before));
    expect(firstFills.length).toBeGreaterThan(0);

    const whileDown = market(symbols, 251, 250);
    expect(expectedFills(whileDown).length).toBeGreaterThan(0);
    await publish(nc, whileDown);
    const second = startPaper();
    await started(second);
    await drained('paper-sma');
    const stopped = await stop(second);

    // The second run's engine starts afresh (as live does): its fills are those of the new ticks alone.
    expect(await storedFills()).toEqual([...firstFills, ...expectedFills(whileDown)]);
    expect(stopped).toMatchObject({ ticks: whileDown.length, traded: whileDown.length });
  });

  it('--symbols trades those symbols only; one symbol is filtered by the server', async () => {
    const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
    const two = startPaper(['--symbols', 'btcusdt,SOLUSDT'], { NATS_CONSUMER: 'paper-two' });
    const one = startPaper([], { SYMBOLS: 'ETHUSDT', NATS_CONSUMER: 'paper-one' });
    expect(await started(two)).toMatchObject({ symbols: ['BTCUSDT', 'SOLUSDT'] });
    await started(one);
    const live = market(symbols, 1, 200);
    await publish(nc, live);
    await drained('paper-two');
    await drained('paper-one');
    const stoppedTwo = await stop(two);
    const stoppedOne = await stop(one);

    const traded = (names: string[]) => live.filter((tick) => names.includes(tick.symbol));
    // Each engine's portfolio is its own; the table holds both, told apart by symbol.
    const fills = await storedFills();
    expect(new Set(fills.map((fill) => fill.symbol))).toEqual(new Set(symbols));
    const bySymbols = (names: string[]) => fills.filter((fill) => names.includes(fill.symbol));
    expect(bySymbols(['BTCUSDT', 'SOLUSDT'])).toEqual(
      expectedFills(traded(['BTCUSDT', 'SOLUSDT'])),
    );
    expect(bySymbols(['ETHUSDT'])).toEqual(expectedFills(traded(['ETHUSDT'])));
    expect(stoppedTwo).toMatchObject({ ticks: live.length, traded: 400, skipped: 200 });
    expect(stoppedOne).toMatchObject({ ticks: 200, traded: 200, skipped: 0 });

    const jsm = await jetstreamManager(nc);
    expect((await jsm.consumers.info('TRADES', 'paper-one')).config.filter_subject).toBe(
      'md.binance.trade.ETHUSDT',
    );
    expect((await jsm.consumers.info('TRADES', 'paper-two')).config.filter_subject).toBe(
      'md.binance.trade.>',
    );
  });

  it('writes its fills to the embedded PGlite under DATA_DIR without DATABASE_URL', async () => {
    const dataDir = join(root, 'pglite-paper');
    const run = startPaper([], { DATABASE_URL: undefined, DATA_DIR: dataDir });
    await started(run);
    const live = market(['BTCUSDT'], 1, 200);
    await publish(nc, live);
    await drained('paper-sma');
    const stopped = await stop(run);

    const db = await PGlite.create(join(dataDir, 'pglite'));
    try {
      const fills = (await db.query<FillRow>(FILLS_SQL)).rows;
      expect(fills).toEqual(expectedFills(live));
      expect(stopped).toMatchObject({ fills: fills.length });
    } finally {
      await db.close();
    }
  });
});
