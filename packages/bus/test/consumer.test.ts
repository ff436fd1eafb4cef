import { ConfigError, type Tick } from '@trade/core';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  encodeTick,
  ensureTradeStream,
  startTickConsumer,
  startTickPublisher,
  tradeSubject,
  type RejectedBusMessage,
  type TickConsumer,
} from '../src/index.js';
import {
  connectTo,
  deferred,
  eventually,
  interleave,
  makeTicks,
  metricValue,
  testMetrics,
  tickKey,
} from './helpers/bus.js';
import { MemorySpool } from './helpers/memory-spool.js';
import { NatsServer } from './helpers/nats-server.js';

let server: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
const opened: NatsConnection[] = [];
const consumers: TickConsumer[] = [];

async function connection(): Promise<NatsConnection> {
  const conn = await connectTo(server);
  opened.push(conn);
  return conn;
}

async function publish(ticks: readonly Tick[]): Promise<void> {
  const publisher = await startTickPublisher({ nc, spool: new MemorySpool() });
  for (const tick of ticks) publisher.offer(tick);
  await publisher.whenIdle();
  await publisher.close();
}

const consumerInfo = (name: string) => jsm.consumers.info('TRADES', name);

/** Every key seen, with how many times. */
function tally(batches: readonly Tick[][]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const tick of batches.flat()) seen.set(tickKey(tick), (seen.get(tickKey(tick)) ?? 0) + 1);
  return seen;
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
  for (const name of await jsm.streams.names().next()) await jsm.streams.delete(name);
  await ensureTradeStream(jsm);
});

afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.close()));
  await Promise.all(opened.splice(0).map((conn) => conn.close()));
});

describe('startTickConsumer', () => {
  it('acks a batch only once the handler resolved; a batch the handler rejected comes again, counted as redelivered', async () => {
    const ticks = makeTicks('BTCUSDT', 1, 20);
    await publish(ticks);
    const calls: Tick[][] = [];
    const firstCall = deferred();
    const secondCall = deferred();
    const metrics = testMetrics();
    const consumer = await startTickConsumer({
      nc: await connection(),
      consumer: 'store-a',
      batchSize: 20,
      retry: { initialMs: 200, maxMs: 200, jitter: 0 },
      metrics,
      handler: async (batch) => {
        calls.push(batch);
        if (calls.length === 1) {
          await firstCall.promise;
          throw new Error('database down (test)');
        }
        await secondCall.promise;
      },
    });
    consumers.push(consumer);

    await eventually(() => calls.length === 1, 'the first batch');
    expect(calls[0]).toEqual(ticks);
    // The handler holds the batch: nothing is acked.
    expect(await consumerInfo('store-a')).toMatchObject({
      num_ack_pending: 20,
      ack_floor: { stream_seq: 0 },
    });
    firstCall.resolve();

    await eventually(() => calls.length === 2, 'the batch delivered again');
    expect(calls[1]).toEqual(ticks);
    expect((await consumerInfo('store-a')).num_ack_pending).toBe(20);
    secondCall.resolve();
    await eventually(
      async () => (await consumerInfo('store-a')).ack_floor.stream_seq === 20,
      'the acks',
    );

    expect((await consumerInfo('store-a')).num_ack_pending).toBe(0);
    expect(consumer.stats()).toMatchObject({
      batches: 1,
      ticks: 20,
      failedBatches: 1,
      redelivered: 20,
      rejected: 0,
    });
    expect(
      await metricValue(metrics, 'trading_bus_redeliveries_total', { consumer: 'store-a' }),
    ).toBe(20);
    expect(
      await metricValue(metrics, 'trading_bus_consumer_pending', { consumer: 'store-a' }),
    ).toBe(0);
    expect(calls).toHaveLength(2);
  });

  it('a consumer closed mid-stream and a new one on the same durable continue: nothing lost, nothing twice once deduplicated', async () => {
    const ticks = interleave(makeTicks('BTCUSDT', 1, 1_000), makeTicks('ETHUSDT', 1, 1_000));
    await publish(ticks);
    const batches: Tick[][] = [];
    const hold = deferred();
    let inHand = false;
    const metrics = testMetrics();
    const first = await startTickConsumer({
      nc: await connection(),
      consumer: 'store-b',
      batchSize: 100,
      ackWaitMs: 3_000,
      metrics,
      handler: async (batch) => {
        batches.push(batch);
        if (tally(batches).size >= 500) {
          inHand = true;
          await hold.promise;
          inHand = false;
        }
      },
    });

    await eventually(() => inHand, 'the first consumer to be mid-stream');
    expect(
      await metricValue(metrics, 'trading_bus_consumer_pending', { consumer: 'store-b' }),
    ).toBeGreaterThan(0);
    // close() must wait for the batch in hand: let the handler go only well after the
    // rest of closing (stop pulling, give back, flush) could have been done.
    const order: string[] = [];
    const closed = first.close().then((stats) => {
      order.push('closed');
      return stats;
    });
    setTimeout(() => {
      order.push('handler released');
      hold.resolve();
    }, 200);
    const firstStats = await closed;
    expect(order).toEqual(['handler released', 'closed']);
    expect(inHand).toBe(false);
    expect(firstStats.ticks).toBe(tally(batches).size);
    expect(firstStats.ticks).toBeLessThan(ticks.length);

    const second = await startTickConsumer({
      nc: await connection(),
      consumer: 'store-b',
      batchSize: 100,
      ackWaitMs: 3_000,
      metrics,
      handler: (batch) => {
        batches.push(batch);
        return Promise.resolve();
      },
    });
    consumers.push(second);
    await eventually(() => tally(batches).size === ticks.length, 'every tick handled');
    await eventually(async () => {
      const info = await consumerInfo('store-b');
      return info.num_pending === 0 && info.num_ack_pending === 0;
    }, 'every message acked');

    // What a store keeps, deduplicated by (symbol, trade id), is exactly what was published.
    expect([...tally(batches).keys()].sort()).toEqual(ticks.map(tickKey).sort());
    expect(
      await metricValue(metrics, 'trading_bus_consumer_pending', { consumer: 'store-b' }),
    ).toBe(0);
  });

  it('two consumers on one durable share the messages: each gets some, together each once', async () => {
    const ticks = interleave(makeTicks('BTCUSDT', 1, 1_000), makeTicks('ETHUSDT', 1, 1_000));
    await publish(ticks);
    const byA: Tick[][] = [];
    const byB: Tick[][] = [];
    const aHasOne = deferred();
    const bHasOne = deferred();
    const options = { consumer: 'store-c', batchSize: 50 };
    // Each holds its first batch until the other has one: neither can take everything.
    const a = await startTickConsumer({
      ...options,
      nc: await connection(),
      handler: async (batch) => {
        byA.push(batch);
        aHasOne.resolve();
        await bHasOne.promise;
      },
    });
    const b = await startTickConsumer({
      ...options,
      nc: await connection(),
      handler: async (batch) => {
        byB.push(batch);
        bHasOne.resolve();
        await aHasOne.promise;
      },
    });
    consumers.push(a, b);

    await eventually(
      () => byA.flat().length + byB.flat().length >= ticks.length,
      'every tick handled',
    );
    await eventually(
      async () => (await consumerInfo('store-c')).num_ack_pending === 0,
      'every message acked',
    );
    expect(byA.flat().length).toBeGreaterThan(0);
    expect(byB.flat().length).toBeGreaterThan(0);
    const all = [...byA.flat(), ...byB.flat()];
    expect(all).toHaveLength(ticks.length);
    expect(all.map(tickKey).sort()).toEqual(ticks.map(tickKey).sort());
    expect(a.stats().ticks + b.stats().ticks).toBe(ticks.length);
  });

  it('reports and terminates a message that is not a tick, and hands over the others', async () => {
    const ticks = makeTicks('BTCUSDT', 1, 4);
    const js = jetstream(nc);
    await js.publish(tradeSubject('BTCUSDT'), encodeTick(ticks[0]!));
    await js.publish(tradeSubject('BTCUSDT'), '{"v":1,"symbol":"BTCUSDT"');
    await js.publish(tradeSubject('BTCUSDT'), encodeTick(ticks[1]!));
    await js.publish(tradeSubject('BTCUSDT'), encodeTick(makeTicks('ETHUSDT', 9, 1)[0]!));
    await js.publish(tradeSubject('BTCUSDT'), encodeTick({ ...ticks[2]!, price: '-1' }));
    await js.publish(tradeSubject('BTCUSDT'), encodeTick(ticks[3]!));
    const handled: Tick[] = [];
    const rejected: RejectedBusMessage[] = [];
    const consumer = await startTickConsumer({
      nc: await connection(),
      consumer: 'store-d',
      batchSize: 6,
      handler: (batch) => {
        handled.push(...batch);
        return Promise.resolve();
      },
      onRejected: (message) => rejected.push(message),
    });
    consumers.push(consumer);

    await eventually(() => handled.length === 3, 'the good ticks');
    await eventually(
      async () => (await consumerInfo('store-d')).ack_floor.stream_seq === 6,
      'every message acked or terminated',
    );
    expect(handled).toEqual([ticks[0], ticks[1], ticks[3]]);
    expect(rejected.map(({ seq, reason, subject }) => [seq, reason, subject])).toEqual([
      [2, 'invalid_json', 'md.binance.trade.BTCUSDT'],
      [4, 'symbol_mismatch', 'md.binance.trade.BTCUSDT'],
      [5, 'invalid_field', 'md.binance.trade.BTCUSDT'],
    ]);
    expect(new TextDecoder().decode(rejected[0]!.data)).toBe('{"v":1,"symbol":"BTCUSDT"');
    expect((await consumerInfo('store-d')).num_redelivered).toBe(0);
    expect(consumer.stats()).toMatchObject({ ticks: 3, rejected: 3, redelivered: 0 });
  });

  it('refuses bad options with a ConfigError naming them', async () => {
    const handler = () => Promise.resolve();
    const settings = await Promise.all(
      [
        { nc, handler, batchSize: 0 },
        { nc, handler, consumer: 'a.b' },
        { nc, handler, maxWaitMs: -1 },
        { nc, handler: undefined as unknown as typeof handler },
      ].map((options) =>
        startTickConsumer(options).then(
          () => 'started',
          (error: unknown) => (ConfigError.isInstance(error) ? error.setting : String(error)),
        ),
      ),
    );
    expect(settings).toEqual(['batchSize', 'consumer', 'maxWaitMs', 'handler']);
  });
});
