import { ensureTradeStream } from '@trade/bus';
import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { launch, waitForStatus, type AppProcess } from '../support/app-process.js';
import { NatsServer } from '../support/nats-server.js';
import {
  EXACT,
  REDIS_URL,
  compareWithTruth,
  databaseUrl,
  faultScenario,
  sleep,
  storedCount,
  until,
  type Exchange,
} from './support.js';

// The bus path as operators run it on several hosts: `collect` processes
// between the simulated exchange (the ground truth, in this process) and a
// private nats-server, `store` processes between JetStream and the real
// PostgreSQL. A host dies, the NATS server goes away: tick_data must still
// equal the simulator's trades, each once, every field exact.

const SYMBOLS = [
  'BUSAUSDT',
  'BUSBUSDT',
  'BUSCUSDT',
  'BUSDUSDT',
  'BUSEUSDT',
  'BUSFUSDT',
  'BUSGUSDT',
  'BUSHUSDT',
];

const scenario = faultScenario(SYMBOLS);

// The REST endpoints a backfill uses; any request to one is a backfill.
const TRADE_HISTORY = /^\/api\/v3\/(historicalTrades|trades|aggTrades)\b/;

/** A private nats-server for the test, removed after it. */
async function natsServer(): Promise<NatsServer> {
  const server = await NatsServer.launch();
  scenario.release(() => server.destroy());
  return server;
}

/** A `collect` process on its own data directory (its own host), ready: connected to both sides. */
async function startCollector(
  exchange: Exchange,
  nats: NatsServer | string,
  symbols: readonly string[],
  env: Record<string, string> = {},
): Promise<AppProcess> {
  const run = launch(['collect', '--symbols', symbols.join(',')], {
    NATS_URL: typeof nats === 'string' ? nats : nats.url,
    BINANCE_WS_URL: exchange.sim.url,
    BINANCE_REST_URL: exchange.sim.restUrl,
    DATA_DIR: await scenario.dataDir(),
    ...env,
  });
  await waitForStatus(`${await run.metricsUrl()}/ready`, 200);
  return run;
}

/** A `store` process on `dataDir` (its own unless given), ready: the bus and the database answer. */
async function startWriter(
  nats: NatsServer | string,
  dataDir?: string,
  env: Record<string, string> = {},
): Promise<AppProcess> {
  const run = launch(['store'], {
    NATS_URL: typeof nats === 'string' ? nats : nats.url,
    DATABASE_URL: databaseUrl(),
    REDIS_URL,
    DATA_DIR: dataDir ?? (await scenario.dataDir()),
    ...env,
  });
  await waitForStatus(`${await run.metricsUrl()}/ready`, 200);
  return run;
}

/** SIGTERM, and the exit code. */
async function stop(run: AppProcess): Promise<number | null> {
  run.child.kill('SIGTERM');
  return run.exited;
}

/** The sum of every series of the family `name` in the exposition of `run`. */
async function metric(run: AppProcess, name: string): Promise<number> {
  const body = await (await fetch(`${await run.metricsUrl()}/metrics`)).text();
  return body
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** The store's durable consumer, made before any writer with a short ack wait: a killed writer's batch comes back in seconds, not the default 30. */
async function createStoreConsumer(nats: NatsServer, ackWaitMs: number): Promise<void> {
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    await ensureTradeStream(jsm);
    await jsm.consumers.add('TRADES', {
      durable_name: 'store',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ackWaitMs * 1_000_000,
      filter_subject: 'md.binance.trade.>',
    });
  } finally {
    await nc.close();
  }
}

/** Stops generating, waits until tick_data holds as many rows as the truth has trades, and compares. */
async function settleStored(exchange: Exchange, symbols: readonly string[]) {
  exchange.pause();
  try {
    await until(
      `all ${exchange.truthCount()} trades stored`,
      async () => (await storedCount(symbols)) >= exchange.truthCount(),
    );
  } catch (error) {
    const comparison = await compareWithTruth(exchange.sim, symbols);
    throw new Error(`${(error as Error).message}: ${JSON.stringify(comparison)}`);
  }
  return compareWithTruth(exchange.sim, symbols);
}

describe('fault suite: the bus', () => {
  it('two collectors on the same symbols, one SIGKILLed mid-stream: every trade stored once, exact, and no REST backfill', async () => {
    const symbols = SYMBOLS.slice(0, 2);
    const exchange = await scenario.exchange(symbols, 1501);
    const nats = await natsServer();
    const writer = await startWriter(nats);
    const doomed = await startCollector(exchange, nats, symbols);
    const survivor = await startCollector(exchange, nats, symbols);

    exchange.run(1_000);
    await until(
      'both collectors publishing',
      async () =>
        (await metric(doomed, 'trading_bus_published_total')) > 500 &&
        (await metric(survivor, 'trading_bus_published_total')) > 500,
    );
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    const atKill = exchange.truthCount();
    await until('trades after the kill', () => exchange.truthCount() > atKill + 2_000);

    const comparison = await settleStored(exchange, symbols);
    expect(comparison).toMatchObject({ ...EXACT, expected: exchange.truthCount() });
    // The redundancy was real: the survivor's copies of what the other published first were
    // acked as duplicates, and the gap the kill left needed nothing from REST.
    expect(await metric(survivor, 'trading_bus_duplicates_total')).toBeGreaterThan(0);
    const backfills = exchange.sim.restLog().filter((entry) => TRADE_HISTORY.test(entry.path));
    expect(backfills).toEqual([]);
    expect(await stop(survivor)).toBe(0);
    expect(await stop(writer)).toBe(0);
  });

  it('the NATS server stopped for 10 s mid-stream and started again: 0 lost, 0 duplicated', async () => {
    const symbols = SYMBOLS.slice(2, 4);
    const exchange = await scenario.exchange(symbols, 1502);
    const nats = await natsServer();
    const writer = await startWriter(nats);
    const collector = await startCollector(exchange, nats, symbols);

    exchange.run(1_000);
    await until('ticks stored', async () => (await storedCount(symbols)) > 1_000);
    await nats.stop();
    await collector.waitForLog(/^NATS disconnected$/);
    await waitForStatus(`${await collector.metricsUrl()}/ready`, 503);
    // The collector keeps reading the exchange and spools what JetStream cannot take.
    const receivedAtStop = await metric(collector, 'trading_ticks_received_total');
    await sleep(10_000);
    const duringOutage = exchange.truthCount();
    expect(await metric(collector, 'trading_ticks_received_total')).toBeGreaterThan(
      receivedAtStop + 5_000,
    );
    await nats.start();
    await waitForStatus(`${await collector.metricsUrl()}/ready`, 200);
    await until('trades after the outage', () => exchange.truthCount() > duringOutage + 1_000);

    const comparison = await settleStored(exchange, symbols);
    expect(comparison).toMatchObject({ ...EXACT, expected: exchange.truthCount() });
    expect(await stop(collector)).toBe(0);
    expect(await stop(writer)).toBe(0);
    const survived = collector.logs().find((r) => r.msg === 'stopped');
    expect(survived).toMatchObject({ lost: 0, leftInSpool: 0 });
    expect(Number(survived!.spooled)).toBeGreaterThan(0);
  });

  it('two writers sharing the consumer, one SIGKILLed mid-stream and started again: every trade stored once, exact', async () => {
    const symbols = SYMBOLS.slice(4, 6);
    const exchange = await scenario.exchange(symbols, 1503);
    const nats = await natsServer();
    await createStoreConsumer(nats, 3_000);
    const killedDir = await scenario.dataDir();
    const killed = await startWriter(nats, killedDir);
    const other = await startWriter(nats);
    const collector = await startCollector(exchange, nats, symbols);

    exchange.run(1_500);
    await until(
      'both writers storing',
      async () =>
        (await metric(killed, 'trading_ticks_processed_total')) > 500 &&
        (await metric(other, 'trading_ticks_processed_total')) > 500,
    );
    killed.child.kill('SIGKILL');
    await killed.exited;
    await sleep(1_000);
    const restarted = await startWriter(nats, killedDir);
    const atRestart = exchange.truthCount();
    await until('trades after the restart', () => exchange.truthCount() > atRestart + 2_000);

    const comparison = await settleStored(exchange, symbols);
    expect(comparison).toMatchObject({ ...EXACT, expected: exchange.truthCount() });
    // Both writers took a share after the restart.
    expect(await metric(restarted, 'trading_ticks_processed_total')).toBeGreaterThan(0);
    expect(await metric(other, 'trading_ticks_processed_total')).toBeGreaterThan(0);
    expect(await stop(collector)).toBe(0);
    expect(await stop(restarted)).toBe(0);
    expect(await stop(other)).toBe(0);
  });

  it("a JetStream cluster of 3, the stream on 3 replicas, its leader's server killed mid-stream: every trade stored once, exact", async () => {
    const symbols = SYMBOLS.slice(6, 8);
    const exchange = await scenario.exchange(symbols, 1504);
    const cluster = await NatsServer.cluster(3);
    for (const server of cluster) scenario.release(() => server.destroy());
    const nc = await connect({ servers: cluster.map((server) => server.url) });
    scenario.release(() => nc.close());
    // The cluster elects its JetStream leader after the servers are up.
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    await until('the cluster to take a stream on 3 replicas', () =>
      ensureTradeStream(jsm, { replicas: 3 }).then(
        () => true,
        () => false,
      ),
    );
    const url = cluster.map((server) => server.url).join(',');
    const replicas = { NATS_REPLICAS: '3' };
    const writer = await startWriter(url, undefined, replicas);
    const collector = await startCollector(exchange, url, symbols, replicas);

    exchange.run(1_000);
    await until('ticks stored', async () => (await storedCount(symbols)) > 1_000);
    const leader = (await jsm.streams.info('TRADES')).cluster?.leader;
    const victim = cluster.find((server) => server.name === leader);
    expect(victim, `the stream leader ${leader}`).toBeDefined();
    await victim!.stop();
    await until('another stream leader', () =>
      jsm.streams.info('TRADES').then(
        (info) => info.cluster?.leader !== undefined && info.cluster.leader !== leader,
        () => false,
      ),
    );
    const atElection = exchange.truthCount();
    await until('trades after the election', () => exchange.truthCount() > atElection + 2_000);

    const comparison = await settleStored(exchange, symbols);
    expect(comparison).toMatchObject({ ...EXACT, expected: exchange.truthCount() });
    expect(await stop(collector)).toBe(0);
    expect(await stop(writer)).toBe(0);
    expect(collector.logs().find((r) => r.msg === 'stopped')).toMatchObject({ lost: 0 });
  }, 120_000);
});
