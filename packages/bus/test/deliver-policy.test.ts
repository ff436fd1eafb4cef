import { ConfigError, type Logger, type Tick } from '@trade/core';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ensureTradeStream,
  startTickConsumer,
  startTickPublisher,
  type TickConsumer,
  type TickConsumerOptions,
} from '../src/index.js';
import { connectTo, eventually, makeTicks, tickKey } from './helpers/bus.js';
import { MemorySpool } from './helpers/memory-spool.js';
import { NatsServer } from './helpers/nats-server.js';

// Where a new durable consumer starts: the whole stream (a writer) or only
// what is published from now on (a strategy), and that an existing one keeps
// its place whatever the next process asks.

let server: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
const consumers: TickConsumer[] = [];

async function publish(ticks: readonly Tick[]): Promise<void> {
  const publisher = await startTickPublisher({ nc, spool: new MemorySpool() });
  for (const tick of ticks) publisher.offer(tick);
  await publisher.whenIdle();
  await publisher.close();
}

/** A consumer whose handler records every tick it is given. */
async function recording(
  options: Omit<TickConsumerOptions, 'nc' | 'handler'>,
): Promise<{ consumer: TickConsumer; seen: Tick[] }> {
  const seen: Tick[] = [];
  const consumer = await startTickConsumer({
    nc,
    batchSize: 50,
    maxWaitMs: 20,
    ...options,
    handler: (ticks) => {
      seen.push(...ticks);
      return Promise.resolve();
    },
  });
  consumers.push(consumer);
  return { consumer, seen };
}

async function settled(name: string): Promise<void> {
  await eventually(async () => {
    const info = await jsm.consumers.info('TRADES', name);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  }, `${name} to have acked everything`);
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
});

describe('deliverPolicy', () => {
  it("'new' skips what the stream held before the consumer was created; the default takes it all", async () => {
    const history = makeTicks('BTCUSDT', 1, 100);
    await publish(history);
    const fresh = await recording({ consumer: 'paper-new', deliverPolicy: 'new' });
    const all = await recording({ consumer: 'store-all' });
    const later = makeTicks('BTCUSDT', 101, 100);
    await publish(later);
    await settled('paper-new');
    await settled('store-all');

    expect(fresh.seen.map(tickKey)).toEqual(later.map(tickKey));
    expect(all.seen.map(tickKey)).toEqual([...history, ...later].map(tickKey));
    expect((await jsm.consumers.info('TRADES', 'paper-new')).config.deliver_policy).toBe('new');
    expect((await jsm.consumers.info('TRADES', 'store-all')).config.deliver_policy).toBe('all');
  });

  it("a 'new' consumer closed and started again continues where it stopped, not at the newest message", async () => {
    const first = await recording({ consumer: 'paper-restart', deliverPolicy: 'new' });
    const before = makeTicks('ETHUSDT', 1, 60);
    await publish(before);
    await settled('paper-restart');
    await first.consumer.close();

    const whileDown = makeTicks('ETHUSDT', 61, 40);
    await publish(whileDown);
    const second = await recording({ consumer: 'paper-restart', deliverPolicy: 'new' });
    await settled('paper-restart');

    expect(first.seen.map(tickKey)).toEqual(before.map(tickKey));
    expect(second.seen.map(tickKey)).toEqual(whileDown.map(tickKey));
  });

  it('an existing consumer keeps its policy and place; the difference is logged', async () => {
    const history = makeTicks('BTCUSDT', 1, 30);
    await publish(history);
    const warnings: { fields: object; message: string | undefined }[] = [];
    const logger: Logger = {
      debug: () => undefined,
      info: () => undefined,
      error: () => undefined,
      warn: (fields, message) => warnings.push({ fields, message }),
    };
    const creator = await recording({ consumer: 'shared' });
    await settled('shared');
    await creator.consumer.close();
    await publish(makeTicks('BTCUSDT', 31, 10));

    const asker = await recording({ consumer: 'shared', deliverPolicy: 'new', logger });
    await settled('shared');

    expect(asker.seen.map((tick) => tick.tradeId)).toEqual(
      Array.from({ length: 10 }, (_, i) => 31 + i),
    );
    expect((await jsm.consumers.info('TRADES', 'shared')).config.deliver_policy).toBe('all');
    expect(warnings).toContainEqual({
      fields: expect.objectContaining({
        consumer: 'shared',
        deliverPolicy: 'all',
        askedDeliverPolicy: 'new',
      }) as object,
      message: 'bus: the durable consumer exists with other settings; using them',
    });
  });

  it('refuses a policy it does not know with a ConfigError naming deliverPolicy', async () => {
    const error = await startTickConsumer({
      nc,
      handler: () => Promise.resolve(),
      deliverPolicy: 'last' as 'new',
    }).catch((e: unknown) => e);
    expect(ConfigError.isInstance(error) && error.setting).toBe('deliverPolicy');
  });
});
