import { afterEach, describe, expect, it } from 'vitest';
import { startBinanceSimulator, type BinanceSimulator } from '../src/sim.js';
import { expectExactlyOnce, startClient, waitCaughtUp, waitFor, type Harness } from './helpers.js';

let sim: BinanceSimulator | undefined;
let harness: Harness | undefined;

afterEach(async () => {
  await harness?.client.close();
  await harness?.done;
  await sim?.close();
});

describe('more than 1024 streams', () => {
  it('shards across connections and subscribes under 5 messages per second', async () => {
    const symbols = Array.from({ length: 1100 }, (_, i) => `S${String(i).padStart(4, '0')}USDT`);
    sim = await startBinanceSimulator({ symbols, rate: 0, seed: 11 });
    harness = startClient(sim);
    await waitFor(
      () => sim!.connections().reduce((n, c) => n + c.streams.length, 0) === 1100,
      'every stream subscribed',
    );
    const connections = sim.connections();
    expect(connections.map((c) => c.streams.length).sort((a, b) => a - b)).toEqual([76, 1024]);
    sim.generate(3);
    await waitCaughtUp(harness, sim);
    expectExactlyOnce(harness, sim, 3);
    const stats = sim.stats();
    // The simulator drops a connection that sends more than 5 messages in a second,
    // and refuses more than 1024 streams on one connection: neither happened.
    expect(stats.rateLimitDrops).toBe(0);
    expect(stats.streamLimitRefusals).toBe(0);
    expect(stats.connectionsAccepted).toBe(2);
  });

  it('spreads many SUBSCRIBE messages over time on a small connection limit', async () => {
    const symbols = Array.from({ length: 12 }, (_, i) => `T${String(i).padStart(2, '0')}USDT`);
    sim = await startBinanceSimulator({ symbols, rate: 0, seed: 12 });
    harness = startClient(sim, { maxUrlStreams: 1, maxStreamsPerSubscribe: 1 });
    // 1 stream in the URL and 11 SUBSCRIBE messages, which the simulator would
    // punish with a disconnect if more than 5 came in one second.
    await waitFor(() => sim!.connections()[0]?.streams.length === 12, 'subscribed');
    expect(sim.stats().rateLimitDrops).toBe(0);
    sim.generate(2);
    await waitCaughtUp(harness, sim);
    expectExactlyOnce(harness, sim, 2);
  });
});
