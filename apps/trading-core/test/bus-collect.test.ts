import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeTick } from '@trade/bus';
import { startBinanceSimulator, type BinanceSimulator } from '@trade/exchange-binance/sim';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launch, waitForStatus, type AppProcess } from './support/app-process.js';
import { NatsServer } from './support/nats-server.js';

// `trading-core collect` as an operator runs it, between a simulated exchange
// in the test process (the ground truth) and a private nats-server. The
// stream must hold each trade of the truth once, every field exact.

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];

let nats: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let sim: BinanceSimulator;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'trading-core-collect-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
beforeEach(async () => {
  nats = await NatsServer.launch();
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  sim = await startBinanceSimulator({ symbols: SYMBOLS, rate: 0, seed: 7, host: '127.0.0.1' });
});
afterEach(async () => {
  await sim.close();
  await nc.close();
  await nats.destroy();
});

function startCollect(dataDir: string): AppProcess {
  return launch(['collect', '--symbols', SYMBOLS.join(',')], {
    // Trades only: these tests count the stream's messages against the trades
    // (quotes and book snapshots over the bus: bus-quotes.test.ts).
    CHANNELS: 'trade',
    NATS_URL: nats.url,
    BINANCE_WS_URL: sim.url,
    BINANCE_REST_URL: sim.restUrl,
    DATA_DIR: dataDir,
  });
}

async function ready(run: AppProcess): Promise<void> {
  await waitForStatus(`${await run.metricsUrl()}/ready`, 200);
}

async function stop(run: AppProcess): Promise<Record<string, unknown>> {
  run.child.kill('SIGTERM');
  expect(await run.exited).toBe(0);
  return run.logs().find((record) => record.msg === 'stopped')!;
}

const truthCount = () => SYMBOLS.reduce((sum, s) => sum + sim.truth(s).length, 0);

async function streamMessages(): Promise<number> {
  return (await jsm.streams.info('TRADES').catch(() => undefined))?.state.messages ?? 0;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every message of the stream against the simulator's trades: the same set, each field exact. */
async function expectStreamEqualsTruth(): Promise<void> {
  const { state } = await jsm.streams.info('TRADES');
  const found: string[] = [];
  for (let seq = 1; seq <= state.last_seq; seq++) {
    const message = await jsm.streams.getMessage('TRADES', { seq });
    if (message === null) continue;
    const decoded = decodeTick(message.data);
    if (!decoded.ok) throw new Error(`seq ${seq}: ${decoded.message}`);
    const { tick } = decoded;
    expect(message.subject).toBe(`md.binance.trade.${tick.symbol}`);
    expect(message.header.get('Nats-Msg-Id')).toBe(`binance:trade:${tick.symbol}:${tick.tradeId}`);
    found.push(
      JSON.stringify([
        tick.symbol,
        tick.tradeId,
        tick.price,
        tick.quantity,
        tick.isBuyerMaker,
        tick.tradeTime,
      ]),
    );
  }
  const truth = SYMBOLS.flatMap((symbol) =>
    sim
      .truth(symbol)
      .map((t) => JSON.stringify([t.symbol, t.id, t.price, t.quantity, t.isBuyerMaker, t.time])),
  );
  expect(found.length).toBe(truth.length);
  expect(new Set(found).size).toBe(found.length);
  expect([...found].sort()).toEqual([...truth].sort());
}

describe('trading-core collect', () => {
  it('publishes every trade of the exchange once, exact; a restart resumes after the stream, backfilling what it missed', async () => {
    const dataDir = join(root, 'one');
    const first = startCollect(dataDir);
    await ready(first);
    sim.generate(300);
    await until('every trade in the stream', async () => (await streamMessages()) >= truthCount());
    const stopped = await stop(first);
    expect(stopped).toMatchObject({ published: truthCount(), lost: 0 });
    await expectStreamEqualsTruth();

    // Trades made while no collector runs: the next one fetches them over REST.
    sim.generate(40);
    const second = startCollect(dataDir);
    await ready(second);
    sim.generate(60);
    await until('every trade in the stream', async () => (await streamMessages()) >= truthCount());
    await stop(second);
    await expectStreamEqualsTruth();
    expect(first.output().stdout).toContain('"msg":"stream created"');
    expect(second.output().stdout).toContain('"msg":"stream found"');
  });
});

describe('trading-core collect while NATS is away', () => {
  it('spools what JetStream does not take, exits 0 on SIGTERM, and the next run publishes the spool', async () => {
    const dataDir = join(root, 'outage');
    const first = startCollect(dataDir);
    await ready(first);
    sim.generate(100);
    await until(
      'the first trades in the stream',
      async () => (await streamMessages()) >= truthCount(),
    );
    await nc.close();
    await nats.stop();
    sim.generate(150);
    await first.waitForLog(/^NATS disconnected$/);
    const url = await first.metricsUrl();
    await waitForStatus(`${url}/ready`, 503);
    const stopped = await stop(first);
    expect(stopped).toMatchObject({ lost: 0 });
    expect(Number(stopped.leftInSpool)).toBeGreaterThan(0);

    await nats.start();
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
    const second = startCollect(dataDir);
    await ready(second);
    sim.generate(50);
    await until('every trade in the stream', async () => (await streamMessages()) >= truthCount());
    await stop(second);
    await expectStreamEqualsTruth();
  });
});
