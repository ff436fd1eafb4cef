import { ConfigError, TradeError } from '@trade/core';
import {
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  encodeTick,
  ensureTradeStream,
  lastTradeIds,
  startTickPublisher,
  tradeMsgId,
  tradeSubject,
} from '../src/index.js';
import { connectTo, makeTicks, readStream, tickKey } from './helpers/bus.js';
import { MemorySpool } from './helpers/memory-spool.js';
import { NatsServer } from './helpers/nats-server.js';

const MINUTE_NS = 60_000_000_000;

let server: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;

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
});

describe('ensureTradeStream', () => {
  it('creates TRADES on md.binance.> with file storage and a 10-minute duplicate window, once', async () => {
    const first = await ensureTradeStream(jsm);
    expect(first.created).toBe(true);
    expect(first.info.config).toMatchObject({
      name: 'TRADES',
      subjects: ['md.binance.>'],
      storage: StorageType.File,
      duplicate_window: 10 * MINUTE_NS,
      num_replicas: 1,
    });
    const again = await ensureTradeStream(jsm);
    expect(again).toMatchObject({ name: 'TRADES', created: false, updated: false });
    expect((await jsm.streams.info('TRADES')).config.duplicate_window).toBe(10 * MINUTE_NS);
  });

  it('refuses a duplicate window under 10 minutes, naming the option, before asking the server', async () => {
    const error = await ensureTradeStream(jsm, { duplicateWindowMs: 599_999 }).catch(
      (e: unknown) => e,
    );
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).setting).toBe('duplicateWindowMs');
    expect((error as Error).message).toMatch(/at least 600000 ms/);
    expect(await jsm.streams.names().next()).toEqual([]);
  });

  it('raises the duplicate window of an existing stream that has a shorter one', async () => {
    await jsm.streams.add({
      name: 'TRADES',
      subjects: ['md.binance.>'],
      storage: StorageType.File,
      duplicate_window: 2 * MINUTE_NS,
    });
    const result = await ensureTradeStream(jsm, { duplicateWindowMs: 15 * 60_000 });
    expect(result).toMatchObject({ created: false, updated: true });
    expect((await jsm.streams.info('TRADES')).config.duplicate_window).toBe(15 * MINUTE_NS);
  });

  it('takes an existing stream whose subjects cover the bus, and refuses one whose do not', async () => {
    await jsm.streams.add({ name: 'WIDE', subjects: ['md.>'], duplicate_window: 20 * MINUTE_NS });
    expect(await ensureTradeStream(jsm, { name: 'WIDE' })).toMatchObject({
      created: false,
      updated: false,
    });

    await jsm.streams.delete('WIDE'); // two streams may not capture the same subject
    await jsm.streams.add({ name: 'OTHER', subjects: ['md.binance.trade.BTCUSDT'] });
    const error = await ensureTradeStream(jsm, { name: 'OTHER' }).catch((e: unknown) => e);
    expect(TradeError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('stream OTHER exists with subjects');
    expect((error as Error).message).toContain('md.binance.>');
  });
});

describe('lastTradeIds', () => {
  it("gives each symbol's last trade id in the stream, and leaves out symbols without one", async () => {
    await ensureTradeStream(jsm);
    const js = jetstream(nc);
    const btc = makeTicks('BTCUSDT', 100, 5);
    const eth = makeTicks('ETHUSDT', 7, 3);
    for (const tick of [...btc, ...eth]) {
      await js.publish(tradeSubject(tick.symbol), encodeTick(tick), {
        msgID: tradeMsgId(tick.symbol, tick.tradeId),
      });
    }
    const ids = await lastTradeIds(jsm, 'TRADES', ['btcusdt', 'ETHUSDT', 'SOLUSDT']);
    expect([...ids]).toEqual([
      ['BTCUSDT', 104],
      ['ETHUSDT', 9],
    ]);
  });

  it('names the subject and sequence when the last message is not a tick', async () => {
    await ensureTradeStream(jsm);
    await jetstream(nc).publish(tradeSubject('BTCUSDT'), 'not json');
    await expect(lastTradeIds(jsm, 'TRADES', ['BTCUSDT'])).rejects.toThrow(
      /last message on md\.binance\.trade\.BTCUSDT in stream TRADES \(seq 1\) is not a tick/,
    );
  });

  it('lets a collector resume after a restart: ids from the stream on, overlap dropped, no gap', async () => {
    await ensureTradeStream(jsm);
    const all = makeTicks('BTCUSDT', 1, 200);

    const spool = new MemorySpool();
    const before = await startTickPublisher({ nc, spool });
    for (const tick of all.slice(0, 120)) before.offer(tick);
    await before.whenIdle();
    await before.close(); // the collector stops

    const resumeFrom = (await lastTradeIds(jsm, 'TRADES', ['BTCUSDT'])).get('BTCUSDT');
    expect(resumeFrom).toBe(120);
    // A restarted collector resumes there; one that lagged behind repeats some ids.
    const resumed = await startTickPublisher({ nc, spool });
    const lagging = await startTickPublisher({ nc, spool: new MemorySpool() });
    for (const tick of all.filter((t) => t.tradeId > resumeFrom!)) resumed.offer(tick);
    for (const tick of all.slice(100)) lagging.offer(tick);
    await Promise.all([resumed.whenIdle(), lagging.whenIdle()]);
    await Promise.all([resumed.close(), lagging.close()]);

    const stored = await readStream(nc, 'TRADES');
    expect(stored.map((s) => tickKey(s.tick))).toEqual(all.map(tickKey));
    expect(stored.map((s) => s.tick)).toEqual(all);
    expect(resumed.stats().published + lagging.stats().published).toBe(80);
    expect(lagging.stats().duplicates).toBe(20 + (80 - lagging.stats().published));
  });
});
