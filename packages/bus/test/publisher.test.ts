import { ConfigError, type Tick } from '@trade/core';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ensureTradeStream,
  startTickPublisher,
  tradeMsgId,
  tradeSubject,
  type TickPublisher,
} from '../src/index.js';
import {
  connectTo,
  deferred,
  eventually,
  interleave,
  makeTicks,
  metricValue,
  readStream,
  testMetrics,
  tickKey,
} from './helpers/bus.js';
import { MemorySpool } from './helpers/memory-spool.js';
import { NatsServer } from './helpers/nats-server.js';

let server: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
const opened: NatsConnection[] = [];
const publishers: TickPublisher[] = [];

async function connection(): Promise<NatsConnection> {
  const conn = await connectTo(server);
  opened.push(conn);
  return conn;
}

/** Resolves once `conn` answers a ping: reconnected after an outage. */
async function reconnected(conn: NatsConnection): Promise<void> {
  await eventually(
    () =>
      conn.rtt().then(
        () => true,
        () => false,
      ),
    'the client to reconnect',
  );
}

function bySymbol(ticks: readonly Tick[]): Map<string, Tick[]> {
  const groups = new Map<string, Tick[]>();
  for (const tick of ticks) groups.set(tick.symbol, [...(groups.get(tick.symbol) ?? []), tick]);
  return groups;
}

beforeAll(async () => {
  server = await NatsServer.launch();
  nc = await connectTo(server);
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await server?.destroy();
});

beforeEach(async () => {
  if (!server.running) await server.start();
  await reconnected(nc);
  for (const name of await jsm.streams.names().next()) await jsm.streams.delete(name);
  await ensureTradeStream(jsm);
});

afterEach(async () => {
  await Promise.all(publishers.splice(0).map((p) => p.close()));
  await Promise.all(opened.splice(0).map((conn) => conn.close()));
});

describe('startTickPublisher', () => {
  it('two publishers publishing the same ticks leave exactly one copy of each, field by field', async () => {
    const ticks = interleave(makeTicks('BTCUSDT', 1, 600), makeTicks('ETHUSDT', 1_000_000, 400));
    const [metricsA, metricsB] = [testMetrics(), testMetrics()];
    const a = await startTickPublisher({
      nc: await connection(),
      spool: new MemorySpool(),
      metrics: metricsA,
    });
    const b = await startTickPublisher({
      nc: await connection(),
      spool: new MemorySpool(),
      metrics: metricsB,
    });
    publishers.push(a, b);
    // Two collectors on the same streams see the same trades at about the same time.
    for (const tick of ticks) {
      expect(a.offer(tick)).toBe(true);
      expect(b.offer(tick)).toBe(true);
    }
    await Promise.all([a.whenIdle(), b.whenIdle()]);

    const stored = await readStream(nc, 'TRADES');
    expect(stored).toHaveLength(ticks.length);
    expect(stored.map((s) => s.tick)).toEqual(ticks);
    expect(stored.map((s) => [s.subject, s.msgId])).toEqual(
      ticks.map((t) => [tradeSubject(t.symbol), tradeMsgId(t.symbol, t.tradeId)]),
    );
    expect(stored[0]).toMatchObject({
      subject: 'md.binance.trade.BTCUSDT',
      msgId: 'binance:trade:BTCUSDT:1',
    });

    const [sa, sb] = [a.stats(), b.stats()];
    expect(sa.published + sb.published).toBe(ticks.length);
    expect(sa.duplicates + sb.duplicates).toBe(ticks.length);
    expect(sa.spooled + sb.spooled).toBe(0);
    const total = async (name: string, labels: Record<string, string> = {}) =>
      (await metricValue(metricsA, name, labels)) + (await metricValue(metricsB, name, labels));
    expect(await total('trading_bus_published_total')).toBe(ticks.length);
    expect(await total('trading_bus_duplicates_total')).toBe(ticks.length);
    expect(
      await total('trading_bus_published_total', { channel: 'trade', symbol: 'ETHUSDT' }),
    ).toBe(400);
    expect(await total('trading_bus_publish_failures_total')).toBe(0);
  });

  it('keeps taking ticks through a 3-second NATS outage: each one ends in the stream once, in order, by way of the spool', async () => {
    const ticks = interleave(makeTicks('BTCUSDT', 1, 5_000), makeTicks('ETHUSDT', 777, 5_000));
    const spool = new MemorySpool();
    const metrics = testMetrics();
    const publisher = await startTickPublisher({
      nc: await connection(),
      spool,
      metrics,
      maxInFlight: 4,
      publishTimeoutMs: 2_000,
      retry: { initialMs: 50, maxMs: 500 },
    });
    publishers.push(publisher);

    // The source offers 10 ticks every 5 ms (about 2,000 a second), as an exchange stream does.
    let offered = 0;
    let paused: Promise<void> | undefined;
    const source = (async () => {
      while (offered < ticks.length) {
        if (paused) await paused;
        for (let i = 0; i < 10 && offered < ticks.length; i++) {
          if (!publisher.offer(ticks[offered]!)) throw new Error('offer refused');
          offered += 1;
        }
        await sleep(5);
      }
    })();

    await eventually(() => offered >= 2_000, 'ticks flowing before the outage');
    // The server hangs, then dies, with publishes in flight that it never read and ticks
    // queued behind them. (Frozen while the source pauses, so that none of those in flight
    // can have been stored: they must go to the spool ahead of the queued ones.)
    const resume = deferred();
    paused = resume.promise;
    await publisher.whenIdle();
    server.freeze();
    paused = undefined;
    resume.resolve();
    await eventually(() => publisher.stats().queued > 0, 'ticks queued behind the hung server');
    expect(publisher.stats().inFlight).toBe(4);
    await server.stop('SIGKILL');
    await eventually(() => publisher.health().spooling, 'the publisher to spool');
    // The outage lasts while the source offers 6,000 more ticks (about 3 s).
    await eventually(() => offered >= 8_000, 'ticks offered during the outage');
    expect(publisher.health()).toMatchObject({ connected: false, spooling: true, blocked: false });
    expect(spool.appended).toBeGreaterThan(0);
    await server.start();
    await source;
    await publisher.whenIdle();

    const stored = await readStream(nc, 'TRADES');
    expect(stored).toHaveLength(ticks.length);
    expect(new Set(stored.map((s) => tickKey(s.tick))).size).toBe(ticks.length);
    const storedBySymbol = bySymbol(stored.map((s) => s.tick));
    for (const [symbol, offeredTicks] of bySymbol(ticks)) {
      expect(storedBySymbol.get(symbol), symbol).toEqual(offeredTicks);
    }
    expect(spool.isEmpty).toBe(true);
    expect(spool.acked).toBe(spool.appended);
    const stats = publisher.stats();
    expect(stats).toMatchObject({ accepted: ticks.length, spooling: false, connected: true });
    expect(stats.spooled).toBe(spool.appended);
    expect(stats.replayed).toBe(spool.appended);
    // None of the four in flight had been stored: each tick stored once, none a duplicate.
    expect(stats).toMatchObject({ published: ticks.length, duplicates: 0 });
    expect(await metricValue(metrics, 'trading_bus_published_total')).toBe(ticks.length);
    // Those four timed out, their ticks long in the spool.
    expect(
      await metricValue(metrics, 'trading_bus_publish_failures_total', { reason: 'timeout' }),
    ).toBeGreaterThanOrEqual(4);
  });

  it('JetStream refusing publishes while the connection stays up: the refused tick and those after it go to the spool, each ends in the stream once, in order', async () => {
    const ticks = interleave(makeTicks('ADAUSDT', 1, 3_000), makeTicks('XRPUSDT', 500, 3_000));
    const spool = new MemorySpool();
    const metrics = testMetrics();
    const publisher = await startTickPublisher({
      nc: await connection(),
      spool,
      metrics,
      maxInFlight: 16,
      retry: { initialMs: 50, maxMs: 200 },
    });
    publishers.push(publisher);
    const info = await jsm.streams.info('TRADES');

    let offered = 0;
    const offerSome = async (until: number) => {
      while (offered < until) {
        for (let i = 0; i < 20 && offered < until; i++) {
          if (!publisher.offer(ticks[offered]!)) throw new Error('offer refused');
          offered += 1;
        }
        await sleep(2);
      }
    };
    await offerSome(2_000);
    // The stream stops capturing the bus's subjects (a stream leader lost in a cluster
    // answers the same way): every publish in flight fails with no responders.
    await jsm.streams.update('TRADES', { ...info.config, subjects: ['md.elsewhere.>'] });
    await offerSome(4_000);
    await eventually(() => publisher.health().spooling, 'the publisher to spool');
    await jsm.streams.update('TRADES', info.config);
    await offerSome(ticks.length);
    await publisher.whenIdle();

    const stored = await readStream(nc, 'TRADES');
    expect(new Set(stored.map((s) => tickKey(s.tick))).size).toBe(stored.length);
    const storedBySymbol = bySymbol(stored.map((s) => s.tick));
    for (const [symbol, offeredTicks] of bySymbol(ticks)) {
      expect(storedBySymbol.get(symbol), symbol).toEqual(offeredTicks);
    }
    expect(spool.isEmpty).toBe(true);
    expect(publisher.stats().spooled).toBeGreaterThan(0);
    expect(
      await metricValue(metrics, 'trading_bus_publish_failures_total', {
        reason: 'no_responders',
      }),
    ).toBeGreaterThan(0);
  });

  it('a publisher closed during an outage leaves its ticks in the spool, and the next one publishes them first', async () => {
    const ticks = makeTicks('SOLUSDT', 1, 300);
    const conn = await connection();
    const spool = new MemorySpool();
    const first = await startTickPublisher({ nc: conn, spool });
    for (const tick of ticks.slice(0, 100)) first.offer(tick);
    await first.whenIdle();

    await server.stop('SIGKILL');
    await eventually(() => first.health().spooling, 'the publisher to spool');
    for (const tick of ticks.slice(100, 200)) expect(first.offer(tick)).toBe(true);
    const result = await first.close();
    expect(result).toMatchObject({ published: 100, spooled: 100, leftInSpool: 100, lost: [] });
    expect(spool.contents()).toEqual(ticks.slice(100, 200));
    expect(first.offer(ticks[200]!)).toBe(false);

    await server.start();
    await reconnected(conn);
    const second = await startTickPublisher({ nc: conn, spool });
    publishers.push(second);
    // Offered while the spool is being published: they go after it.
    for (const tick of ticks.slice(200)) expect(second.offer(tick)).toBe(true);
    await second.whenIdle();

    expect((await readStream(nc, 'TRADES')).map((s) => s.tick)).toEqual(ticks);
    expect(spool.isEmpty).toBe(true);
    expect(second.stats()).toMatchObject({ replayed: 200, published: 200, spooled: 100 });
  });

  it('holds at most maxBufferedTicks while neither NATS nor the spool takes ticks, then publishes them in order', async () => {
    const ticks = makeTicks('BNBUSDT', 1, 700);
    const spool = new MemorySpool();
    spool.failAppends = true;
    const metrics = testMetrics();
    const publisher = await startTickPublisher({
      nc: await connection(),
      spool,
      metrics,
      maxInFlight: 10,
      maxQueuedTicks: 100,
      maxBufferedTicks: 500,
      retry: { initialMs: 20, maxMs: 100 },
    });
    publishers.push(publisher);
    await server.stop('SIGKILL');
    await eventually(() => !publisher.health().connected, 'the publisher to see the outage');

    const taken = ticks.filter((tick) => publisher.offer(tick));
    expect(taken).toEqual(ticks.slice(0, 500));
    expect(publisher.health()).toMatchObject({ spooling: true, blocked: true });
    await eventually(
      async () => (await metricValue(metrics, 'trading_spool_append_failures_total')) > 0,
      'a refused spool append',
    );
    expect(publisher.health().reason).toMatch(/disk full/);

    const writable = publisher.whenWritable();
    await server.start();
    await writable;
    for (const tick of ticks.slice(500)) {
      while (!publisher.offer(tick)) await publisher.whenWritable();
    }
    await publisher.whenIdle();

    expect((await readStream(nc, 'TRADES')).map((s) => s.tick)).toEqual(ticks);
    expect(spool.appended).toBe(0);
    expect(publisher.health()).toEqual({ connected: true, spooling: false, blocked: false });
  });

  it('refuses bad options with a ConfigError naming them', async () => {
    const spool = new MemorySpool();
    const settings = await Promise.all(
      [
        { nc, spool, maxInFlight: 0 },
        { nc, spool, maxQueuedTicks: 1.5 },
        { nc, spool, maxBufferedTicks: 10 },
        { nc, spool, channel: 'trade.x' },
        { nc, spool, stream: 'A.B' },
        { nc, spool: undefined as unknown as MemorySpool },
      ].map((options) =>
        startTickPublisher(options).then(
          () => 'started',
          (error: unknown) => (ConfigError.isInstance(error) ? error.setting : String(error)),
        ),
      ),
    );
    expect(settings).toEqual([
      'maxInFlight',
      'maxQueuedTicks',
      'maxBufferedTicks',
      'channel',
      'stream',
      'spool',
    ]);
  });
});
