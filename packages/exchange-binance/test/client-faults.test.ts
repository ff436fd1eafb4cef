import { silentLogger } from '@trade/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BinanceTradeClient } from '../src/index.js';
import { startBinanceSimulator, type BinanceSimulator, MALFORMED_KINDS } from '../src/sim.js';
import {
  counterValue,
  expectExactlyOnce,
  expectExactlyOnceUntilClose,
  startClient,
  waitCaughtUp,
  waitFor,
  waitOpen,
  type Harness,
} from './helpers.js';

let sim: BinanceSimulator | undefined;
let harness: Harness | undefined;

afterEach(async () => {
  await harness?.client.close();
  await harness?.done;
  await sim?.close();
  harness = undefined;
  sim = undefined;
});

async function setup(options: Parameters<typeof startBinanceSimulator>[0] = {}, client = {}) {
  sim = await startBinanceSimulator({
    symbols: ['BTCUSDT', 'ETHUSDT'],
    rate: 0,
    seed: 3,
    ...options,
  });
  harness = startClient(sim, client);
  await waitOpen(harness, sim);
  return { sim, h: harness };
}

describe('BinanceTradeClient against the simulator', () => {
  it('delivers every trade exactly once, in order, with metrics', async () => {
    const { sim, h } = await setup();
    sim.generate(500);
    await waitCaughtUp(h, sim);
    expectExactlyOnce(h, sim, 500);
    expect(await counterValue(h.metrics, 'ticksReceived')).toBe(1000);
    expect(await counterValue(h.metrics, 'wsConnectionStatus')).toBe(1);
    expect(await counterValue(h.metrics, 'wsConnections')).toBe(1);
    expect(h.client.stats().fastPathFrames).toBe(1000);
  });

  it('recovers from abrupt drops: reconnects with backoff and backfills the gap over REST', async () => {
    const { sim, h } = await setup();
    sim.generate(100);
    await waitCaughtUp(h, sim);
    const opens = () =>
      h.events.filter((e) => e.type === 'connection' && e.state === 'open').length;
    for (let round = 0; round < 3; round++) {
      sim.drop();
      sim.generate(50); // generated while the client is away
      await waitFor(() => opens() === round + 2, 'reconnect');
      // Only one symbol trades again: the other's missed trades are caught up anyway.
      sim.generate(50, 'BTCUSDT');
      await waitCaughtUp(h, sim);
    }
    expectExactlyOnce(h, sim, 250);
    const stats = h.client.stats();
    expect(stats.tradesBackfilled).toBeGreaterThanOrEqual(3 * 2 * 50);
    expect(stats.tradesMissed).toBe(0);
    expect(await counterValue(h.metrics, 'wsDisconnections')).toBe(3);
    expect(await counterValue(h.metrics, 'wsReconnects')).toBeGreaterThanOrEqual(3);
    expect(h.events.some((e) => e.type === 'gap' && e.recovered > 0 && e.missed === 0)).toBe(true);
  });

  it('replaces a stalled (half-open) connection when the watchdog fires', async () => {
    const { sim, h } = await setup({}, { watchdogMs: 300, idlePingMs: 100 });
    sim.generate(20);
    await waitCaughtUp(h, sim);
    sim.stall(60_000); // silent and deaf: pings go unanswered
    sim.generate(30);
    await waitFor(() => sim.stats().connectionsAccepted === 2, 'watchdog reconnect');
    sim.generate(10);
    await waitCaughtUp(h, sim);
    expectExactlyOnce(h, sim, 60);
    expect(h.client.stats().tradesBackfilled).toBeGreaterThanOrEqual(60);
  });

  it('fills a gap in the stream from REST', async () => {
    const { sim, h } = await setup();
    sim.generate(10);
    sim.gap(37, 'BTCUSDT');
    sim.gap(1200, 'ETHUSDT'); // more than one REST page
    sim.generate(10);
    await waitCaughtUp(h, sim);
    expectExactlyOnce(h, sim, 20);
    expect(h.client.stats().tradesBackfilled).toBe(1237);
    const gaps = h.events.filter((e) => e.type === 'gap');
    expect(gaps).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ symbol: 'BTCUSDT', recovered: 37, missed: 0 }),
        expect.objectContaining({ symbol: 'ETHUSDT', recovered: 1200, missed: 0 }),
      ]),
    );
  });

  it('drops duplicates', async () => {
    const { sim, h } = await setup();
    sim.generate(10);
    sim.duplicate(5);
    sim.generate(10);
    sim.duplicate(1, 'BTCUSDT');
    await waitCaughtUp(h, sim);
    await waitFor(() => h.client.stats().duplicatesDropped === 11, 'duplicates');
    expectExactlyOnce(h, sim, 20);
  });

  it('counts every malformed frame by reason and keeps going', async () => {
    const { sim, h } = await setup();
    sim.generate(5);
    for (const kind of MALFORMED_KINDS) sim.malformed(kind);
    sim.generate(5);
    await waitCaughtUp(h, sim);
    await waitFor(
      () =>
        Object.values(h.client.stats().rejected).reduce((a, b) => a + b, 0) ===
        MALFORMED_KINDS.length,
      'rejections',
    );
    for (const reason of MALFORMED_KINDS) {
      expect(await counterValue(h.metrics, 'ticksRejected', { reason }), reason).toBe(1);
    }
    expectExactlyOnce(h, sim, 10);
    // Bad frames are skipped, never a reason to drop the connection.
    expect(h.client.stats()).toMatchObject({ connectionAttempts: 1, reconnects: 0 });
  });

  it('skips frames of several MiB (not a trade) without reconnecting, counted as oversized_frame', async () => {
    // 6 MiB: over ws's old 4 MiB limit, which closed the socket (1009) and reconnected.
    const { sim, h } = await setup({ oversizedFrameBytes: 6 << 20 });
    sim.generate(5);
    for (let i = 0; i < 3; i++) sim.malformed('oversized_frame');
    sim.generate(5);
    await waitCaughtUp(h, sim);
    await waitFor(() => h.client.stats().rejected.oversized_frame === 3, 'rejections');
    expect(await counterValue(h.metrics, 'ticksRejected', { reason: 'oversized_frame' })).toBe(3);
    expect(h.client.stats()).toMatchObject({ connectionAttempts: 1, reconnects: 0, frames: 23 });
    expect(sim.stats().connectionsAccepted).toBe(1);
    expectExactlyOnce(h, sim, 10);
  });

  it('counts a frame past the 16 MiB read limit too, and loses nothing to the reconnect it forces', async () => {
    const { sim, h } = await setup({ oversizedFrameBytes: 17 << 20 });
    sim.generate(5);
    await waitCaughtUp(h, sim);
    sim.malformed('oversized_frame');
    await waitFor(() => sim.stats().connectionsAccepted === 2, 'the reconnect');
    sim.generate(5);
    await waitCaughtUp(h, sim);
    expect(h.client.stats().rejected).toEqual({ oversized_frame: 1 });
    expectExactlyOnce(h, sim, 10);
  });

  it('logs rejected frames at a bounded rate but counts every one', async () => {
    const warnings: object[] = [];
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (fields: object, message?: string) => {
        if (message === 'binance: frame rejected') warnings.push(fields);
      },
      error: () => undefined,
    };
    const { sim, h } = await setup({}, { logger });
    for (let i = 0; i < 50; i++) sim.malformed('invalid_json');
    sim.generate(1);
    await waitCaughtUp(h, sim);
    await waitFor(() => h.client.stats().rejected.invalid_json === 50, 'rejections');
    expect(await counterValue(h.metrics, 'ticksRejected', { reason: 'invalid_json' })).toBe(50);
    expect(warnings).toEqual([expect.objectContaining({ reason: 'invalid_json', suppressed: 0 })]);
  });

  it('rotates on serverShutdown: the new connection opens before the old closes, nothing is missed', async () => {
    const { sim, h } = await setup({ rate: 2000 });
    await waitFor(() => (h.ticks.get('BTCUSDT')?.length ?? 0) > 200, 'stream');
    sim.serverShutdown(500);
    await waitFor(() => sim.stats().connectionsAccepted === 2, 'second connection');
    // Overlap: both connections were open at the same time.
    expect(sim.stats().peakConnections).toBe(2);
    await waitFor(() => sim.connections().length === 1, 'old connection closed');
    await new Promise((r) => setTimeout(r, 200));
    await harness!.client.close();
    await harness!.done;
    const stats = h.client.stats();
    expect(stats.rotations).toBe(1);
    expect(stats.tradesMissed).toBe(0);
    expectExactlyOnceUntilClose(h, sim);
    // The overlap let the old connection cover the switch: no REST needed.
    expect(stats.tradesBackfilled).toBe(0);
  });

  it.each([
    ['closes at once', 0, 0],
    ['refuses the replacement for a while', 50, 300],
  ])('recovers when the server %s after serverShutdown', async (_name, closeAfterMs, refuseMs) => {
    const { sim, h } = await setup({ rate: 1000 });
    await waitFor(() => (h.ticks.get('BTCUSDT')?.length ?? 0) > 100, 'stream');
    if (refuseMs > 0) sim.refuseConnections(refuseMs);
    sim.serverShutdown(closeAfterMs);
    await waitFor(() => sim.stats().connectionsAccepted >= 2, 'replacement');
    const target = sim.lastTradeId('BTCUSDT')! + 200;
    await waitFor(() => h.ticks.get('BTCUSDT')!.at(-1)!.tradeId >= target, 'stream after');
    await harness!.client.close();
    await harness!.done;
    expectExactlyOnceUntilClose(h, sim);
    expect(h.client.stats().tradesMissed).toBe(0);
  });

  it('rotates before the connection age limit, with overlap', async () => {
    const { sim, h } = await setup(
      { rate: 500 },
      { maxConnectionAgeMs: 400, rotationOverlapMs: 200 },
    );
    await waitFor(() => h.client.stats().rotations >= 3, 'rotations');
    await waitFor(() => sim.connections().length === 1, 'settled');
    await harness!.client.close();
    await harness!.done;
    expectExactlyOnceUntilClose(h, sim);
    expect(h.client.stats().tradesMissed).toBe(0);
  });

  it('keeps retrying while connections are refused, then recovers everything', async () => {
    const { sim, h } = await setup();
    sim.generate(10);
    await waitCaughtUp(h, sim);
    sim.refuseConnections(500);
    sim.drop();
    sim.generate(25);
    await waitFor(() => sim.stats().connectionsRefused >= 2, 'refusals');
    await waitFor(() => sim.connections().length === 1, 'reconnect after refusal');
    sim.generate(5);
    await waitCaughtUp(h, sim);
    expectExactlyOnce(h, sim, 40);
    expect(
      h.events.filter((e) => e.type === 'connection' && e.state === 'disconnected').length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('retries REST failures and gives up on gaps REST can no longer serve, counting them', async () => {
    const { sim, h } = await setup({ retain: 50 });
    sim.generate(10);
    await waitCaughtUp(h, sim);
    sim.failRest(2, 503);
    sim.gap(5, 'BTCUSDT');
    sim.generate(1, 'BTCUSDT');
    await waitCaughtUp(h, sim);
    expect(h.client.stats().restErrors).toBe(2);
    sim.failRest(1, 429); // with Retry-After: 1
    sim.gap(3, 'BTCUSDT');
    sim.generate(1, 'BTCUSDT');
    await waitCaughtUp(h, sim);
    expect(h.client.stats().restErrors).toBe(3);
    sim.gap(80, 'ETHUSDT'); // older than the 50 the simulator keeps
    sim.generate(1, 'ETHUSDT');
    await waitFor(
      () => h.ticks.get('ETHUSDT')!.at(-1)!.tradeId === sim.lastTradeId('ETHUSDT'),
      'eth',
    );
    const stats = h.client.stats();
    expect(stats.tradesMissed).toBe(31);
    expect(h.events).toContainEqual(
      expect.objectContaining({ type: 'gap', symbol: 'ETHUSDT', missed: 31, recovered: 49 }),
    );
    expect(await counterValue(h.metrics, 'errors', { component: 'exchange' })).toBeGreaterThan(0);
  });

  it('resumes from stored trade ids over REST, within the window', async () => {
    sim = await startBinanceSimulator({ symbols: ['BTCUSDT', 'ETHUSDT'], rate: 0, seed: 5 });
    sim.generate(3000);
    const btc = sim.truth('BTCUSDT');
    const eth = sim.truth('ETHUSDT');
    harness = startClient(sim, {
      resumeFrom: { BTCUSDT: btc[999]!.id, ETHUSDT: eth[100]!.id },
      maxResumeTrades: 2500,
    });
    await waitOpen(harness, sim);
    await waitCaughtUp(harness, sim);
    sim.generate(20);
    await waitCaughtUp(harness, sim);
    const h = harness;
    expect(h.ticks.get('BTCUSDT')![0]!.tradeId).toBe(btc[1000]!.id);
    // ETH was 2899 behind: only the newest 2500 are fetched.
    expect(h.ticks.get('ETHUSDT')![0]!.tradeId).toBe(eth[500]!.id);
    expect(h.client.stats().tradesMissed).toBe(399);
    expectExactlyOnce(h, sim);
    expect(h.client.positions()).toEqual({
      BTCUSDT: sim.lastTradeId('BTCUSDT'),
      ETHUSDT: sim.lastTradeId('ETHUSDT'),
    });
  });

  it('reads aggTrade streams and backfills them from aggTrades', async () => {
    const { sim, h } = await setup({}, { streamType: 'aggTrade' });
    sim.generate(10);
    sim.gap(30);
    sim.generate(10);
    await waitCaughtUp(h, sim);
    expectExactlyOnce(h, sim, 50);
    expect(sim.connections()[0]!.streams).toEqual(['btcusdt@aggTrade', 'ethusdt@aggTrade']);
  });

  it('stays exactly-once under random faults at a steady rate', async () => {
    const { sim, h } = await setup(
      {
        rate: 300,
        seed: 9,
        faults: { gap: 60, duplicate: 60, malformed: 60, drop: 20, serverShutdown: 20, stall: 10 },
      },
      { watchdogMs: 400, idlePingMs: 150, rotationOverlapMs: 300 },
    );
    await new Promise((r) => setTimeout(r, 6_000));
    await harness!.client.close();
    await harness!.done;
    expectExactlyOnceUntilClose(h, sim);
    const stats = h.client.stats();
    expect(stats.tradesMissed).toBe(0);
    // Gaps, duplicates and malformed frames are injected every second (p = 1).
    expect(stats.tradesBackfilled).toBeGreaterThan(0);
    expect(stats.duplicatesDropped).toBeGreaterThan(0);
    expect(Object.values(stats.rejected).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('closes on AbortSignal and reports disconnected status', async () => {
    const controller = new AbortController();
    const { h } = await setup({}, { signal: controller.signal });
    controller.abort();
    await h.done;
    expect(await counterValue(h.metrics, 'wsConnectionStatus')).toBe(0);
    expect(h.events.at(-1)).toEqual({ type: 'connection', state: 'closed', shard: 0 });
  });
});

describe('a slow consumer', () => {
  it('pauses the sockets instead of buffering without bound, and loses nothing', async () => {
    sim = await startBinanceSimulator({ symbols: ['BTCUSDT'], rate: 'max', seed: 4 });
    const client = new BinanceTradeClient({
      url: sim.url,
      restUrl: sim.restUrl,
      symbols: ['BTCUSDT'],
      maxBufferedEvents: 5_000,
    });
    const events = client[Symbol.asyncIterator]();
    // Read nothing until the client had to pause: whether a fast consumer would
    // ever fall behind depends on the machine, a consumer that does not read does not.
    await waitFor(() => client.stats().pauses > 0, 'the sockets to pause');
    // One socket read past the threshold at most.
    const bufferedAtPause = client.stats().bufferedEvents;
    expect(bufferedAtPause).toBeGreaterThan(5_000);
    expect(bufferedAtPause).toBeLessThan(5_000 + 2_000);
    const ids: number[] = [];
    let maxBuffered = bufferedAtPause;
    for (let r = await events.next(); !r.done; r = await events.next()) {
      maxBuffered = Math.max(maxBuffered, client.stats().bufferedEvents);
      if (r.value.type !== 'tick') continue;
      ids.push(r.value.tick.tradeId);
      if (ids.length === 30_000) void client.close(); // the rest of the buffer still comes
    }
    expect(maxBuffered).toBeLessThan(5_000 + 2_000);
    expect(ids.length).toBeGreaterThanOrEqual(30_000);
    const truth = sim.truth('BTCUSDT').map((t) => t.id);
    expect(ids).toEqual(truth.slice(truth.indexOf(ids[0]!), truth.indexOf(ids[0]!) + ids.length));
  });

  it('is not silence: paused sockets outlive several watchdog periods, no reconnect, nothing lost', async () => {
    sim = await startBinanceSimulator({ symbols: ['BTCUSDT'], rate: 'max', seed: 6 });
    const client = new BinanceTradeClient({
      url: sim.url,
      restUrl: sim.restUrl,
      symbols: ['BTCUSDT'],
      maxBufferedEvents: 1_000,
      watchdogMs: 300,
      idlePingMs: 100,
    });
    const events = client[Symbol.asyncIterator]();
    await waitFor(() => client.stats().pauses > 0, 'the sockets to pause');
    const buffered = client.stats().bufferedEvents;
    await sleep(1_500); // five watchdog periods with nothing read
    expect(client.stats().bufferedEvents).toBe(buffered); // still paused
    expect(client.stats()).toMatchObject({ connectionAttempts: 1, reconnects: 0 });
    expect(sim.stats().connectionsAccepted).toBe(1);
    const ids: number[] = [];
    for (let r = await events.next(); !r.done; r = await events.next()) {
      if (r.value.type !== 'tick') continue;
      ids.push(r.value.tick.tradeId);
      if (ids.length === 20_000) void client.close();
    }
    expect(client.stats()).toMatchObject({ connectionAttempts: 1, reconnects: 0 });
    expect(sim.stats().connectionsAccepted).toBe(1);
    const truth = sim.truth('BTCUSDT').map((t) => t.id);
    expect(ids.length).toBeGreaterThanOrEqual(20_000);
    expect(ids).toEqual(truth.slice(truth.indexOf(ids[0]!), truth.indexOf(ids[0]!) + ids.length));
  });
});

describe('after close()', () => {
  it('ignores frames still arriving: positions, stats and ticksReceived stop, every delivered tick was yielded', async () => {
    sim = await startBinanceSimulator({ symbols: ['BTCUSDT', 'ETHUSDT'], rate: 'max', seed: 8 });
    harness = startClient(sim);
    const h = harness;
    await waitFor(() => (h.ticks.get('BTCUSDT')?.length ?? 0) > 5_000, 'the stream');
    await h.client.close(); // while the simulator is still sending
    const positions = h.client.positions();
    const stats = counters(h.client);
    const received = await counterValue(h.metrics, 'ticksReceived');
    await h.done;
    await sleep(200);
    expect(h.client.positions()).toEqual(positions);
    expect(counters(h.client)).toEqual(stats);
    expect(await counterValue(h.metrics, 'ticksReceived')).toBe(received);
    const yielded = [...h.ticks.values()].reduce((n, list) => n + list.length, 0);
    expect(stats.ticksDelivered).toBe(yielded);
    expect(received).toBe(yielded);
    for (const symbol of sim.symbols) {
      const got = h.ticks.get(symbol)!.map((t) => t.tradeId);
      expect(positions[symbol]).toBe(got.at(-1));
      const truth = sim.truth(symbol).map((t) => t.id);
      expect(got).toEqual(truth.slice(truth.indexOf(got[0]!), truth.indexOf(got[0]!) + got.length));
    }
  });

  it('ignores a REST backfill answer that lands after close()', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let answered = 0;
    // A fetch that answers late and does not heed the abort signal.
    const lateFetch: typeof fetch = async (input, init) => {
      await gate;
      const response = await fetch(input, { ...init, signal: null });
      answered++;
      return response;
    };
    const { sim, h } = await setup({}, { fetch: lateFetch });
    sim.generate(10);
    await waitCaughtUp(h, sim);
    sim.gap(5, 'BTCUSDT');
    sim.generate(1, 'BTCUSDT');
    await waitFor(() => h.client.stats().restRequests === 1, 'the backfill request');
    await h.client.close();
    const positions = h.client.positions();
    const stats = counters(h.client);
    release();
    await waitFor(() => answered === 1, 'the late answer');
    await h.done;
    await sleep(50);
    expect(h.client.positions()).toEqual(positions);
    expect(counters(h.client)).toEqual(stats);
    expect(stats.tradesBackfilled).toBe(0);
    expect(await counterValue(h.metrics, 'ticksBackfilled')).toBe(0);
    // The tick held behind the gap went out at close, after the gap it follows was reported open.
    const btc = sim.truth('BTCUSDT').map((t) => t.id);
    expect(h.ticks.get('BTCUSDT')!.map((t) => t.tradeId)).toEqual([...btc.slice(0, 10), btc[15]]);
    expect(positions.BTCUSDT).toBe(btc[15]);
    expect(h.client.openGaps()).toEqual([{ symbol: 'BTCUSDT', fromId: btc[10], toId: btc[14] }]);
    expect(await counterValue(h.metrics, 'ticksReceived')).toBe(21);
  });
});

describe('bounded memory behind a gap (maxHeldTrades)', () => {
  it('gives the gap up past the bound while REST is slow; a late REST answer is a repeat', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slowFetch: typeof fetch = async (input, init) => {
      await gate;
      return fetch(input, init);
    };
    const errors: string[] = [];
    const logger = {
      ...silentLogger,
      error: (_: object, message?: string) => errors.push(message!),
    };
    const { sim, h } = await setup({}, { maxHeldTrades: 200, fetch: slowFetch, logger });
    sim.generate(10);
    await waitCaughtUp(h, sim);
    sim.gap(20, 'BTCUSDT');
    const givenUp = sim
      .truth('BTCUSDT')
      .slice(-20)
      .map((t) => t.id);
    sim.generate(150, 'BTCUSDT');
    await waitFor(() => h.client.stats().heldTrades === 150, 'ticks held behind the gap');
    expect(h.client.stats().tradesMissed).toBe(0);
    sim.generate(100, 'BTCUSDT'); // the 201st held tick gives the gap up
    await waitCaughtUp(h, sim);
    let stats = h.client.stats();
    expect(stats).toMatchObject({ tradesMissed: 20, heldTrades: 0, peakHeldTrades: 200 });
    expect(await counterValue(h.metrics, 'ticksUnrecovered')).toBe(20);
    expect(h.events).toContainEqual({
      type: 'gap',
      symbol: 'BTCUSDT',
      fromId: givenUp[0],
      toId: givenUp[19],
      recovered: 0,
      missed: 20,
    });
    expect(errors).toContain('binance: trades could not be recovered');
    // REST answers now: the given-up ids are repeats; a later gap is filled as usual.
    release();
    sim.gap(7, 'BTCUSDT');
    sim.generate(3, 'BTCUSDT');
    await waitCaughtUp(h, sim);
    stats = h.client.stats();
    expect(stats.tradesBackfilled).toBe(7);
    expect(stats.tradesMissed).toBe(20);
    const btc = sim
      .truth('BTCUSDT')
      .map((t) => t.id)
      .filter((id) => !givenUp.includes(id));
    expect(h.ticks.get('BTCUSDT')!.map((t) => t.tradeId)).toEqual(btc);
    expect(h.ticks.get('ETHUSDT')!.map((t) => t.tradeId)).toEqual(
      sim.truth('ETHUSDT').map((t) => t.id),
    );
  });

  it('gives the gap up past the bound while REST fails', async () => {
    const { sim, h } = await setup({}, { maxHeldTrades: 100 });
    sim.generate(10);
    await waitCaughtUp(h, sim);
    sim.failRest(1_000, 503);
    sim.gap(30, 'ETHUSDT');
    const givenUp = sim
      .truth('ETHUSDT')
      .slice(-30)
      .map((t) => t.id);
    // One trade behind the gap first: REST is asked, and fails, before the bound is reached
    // (all 101 at once could pass the bound before the first request went out).
    sim.generate(1, 'ETHUSDT');
    await vi.waitFor(() => expect(h.client.stats().restErrors).toBeGreaterThan(0), {
      timeout: 10_000,
    });
    sim.generate(100, 'ETHUSDT');
    await waitCaughtUp(h, sim);
    const stats = h.client.stats();
    expect(stats).toMatchObject({ tradesMissed: 30, heldTrades: 0, peakHeldTrades: 100 });
    expect(stats.restErrors).toBeGreaterThan(0);
    const eth = sim
      .truth('ETHUSDT')
      .map((t) => t.id)
      .filter((id) => !givenUp.includes(id));
    expect(h.ticks.get('ETHUSDT')!.map((t) => t.tradeId)).toEqual(eth);
    expect(h.ticks.get('BTCUSDT')!.map((t) => t.tradeId)).toEqual(
      sim.truth('BTCUSDT').map((t) => t.id),
    );
  });
});

describe('REST rate limits', () => {
  it('sends no REST request before a 429 Retry-After elapsed, from any backfill', async () => {
    const { sim, h } = await setup();
    sim.generate(10);
    await waitCaughtUp(h, sim);
    sim.failRest(1, 429, 2);
    sim.gap(5, 'BTCUSDT');
    sim.generate(1, 'BTCUSDT');
    await waitFor(() => sim.restLog().some((e) => e.status === 429), 'the 429');
    // A second backfill starts while the first waits.
    sim.gap(4, 'ETHUSDT');
    sim.generate(1, 'ETHUSDT');
    await waitCaughtUp(h, sim);
    const log = sim.restLog();
    expect(log[0]!.status).toBe(429);
    const after = log.slice(1);
    expect(after.length).toBeGreaterThanOrEqual(2);
    for (const request of after) expect(request.at - log[0]!.at).toBeGreaterThanOrEqual(2_000);
    expectExactlyOnce(h, sim, 11);
    expect(h.client.stats()).toMatchObject({ tradesBackfilled: 9, tradesMissed: 0 });
  });

  it('stops REST on a 418 until the ban ends: gaps meanwhile are missed, later gaps are filled', async () => {
    const errors: { fields: object; message: string }[] = [];
    const logger = {
      ...silentLogger,
      error: (fields: object, message?: string) => errors.push({ fields, message: message! }),
    };
    const { sim, h } = await setup({}, { logger });
    sim.generate(10);
    await waitCaughtUp(h, sim);
    sim.failRest(1, 418, 2);
    sim.gap(5, 'BTCUSDT');
    const lost: Record<string, number[]> = {
      BTCUSDT: sim
        .truth('BTCUSDT')
        .slice(-5)
        .map((t) => t.id),
    };
    sim.generate(1, 'BTCUSDT');
    await waitFor(() => h.client.stats().tradesMissed === 5, 'the BTC gap given up');
    // During the ban a new gap is given up without asking REST.
    sim.gap(3, 'ETHUSDT');
    lost.ETHUSDT = sim
      .truth('ETHUSDT')
      .slice(-3)
      .map((t) => t.id);
    sim.generate(1, 'ETHUSDT');
    await waitCaughtUp(h, sim);
    const ban = sim.restLog()[0]!;
    expect(ban.status).toBe(418);
    expect(sim.restLog()).toHaveLength(1);
    const stats = h.client.stats();
    expect(stats.tradesMissed).toBe(8);
    expect(await counterValue(h.metrics, 'ticksUnrecovered')).toBe(8);
    expect(h.events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'gap', symbol: 'BTCUSDT', missed: 5, recovered: 0 }),
        expect.objectContaining({ type: 'gap', symbol: 'ETHUSDT', missed: 3, recovered: 0 }),
      ]),
    );
    const until = new Date(stats.restBannedUntil!).toISOString();
    expect(stats.restBannedUntil! - ban.at).toBeGreaterThanOrEqual(2_000);
    expect(
      errors.filter((e) => e.message.includes(`banned from REST (HTTP 418) until ${until}`)),
    ).toHaveLength(2);
    // Once the ban is over, gaps are filled again.
    await waitFor(() => Date.now() > h.client.stats().restBannedUntil!, 'the end of the ban');
    sim.gap(6, 'BTCUSDT');
    sim.generate(1, 'BTCUSDT');
    await waitCaughtUp(h, sim);
    expect(h.client.stats()).toMatchObject({ tradesBackfilled: 6, tradesMissed: 8 });
    for (const request of sim.restLog().slice(1)) {
      expect(request.at - ban.at).toBeGreaterThanOrEqual(2_000);
    }
    for (const symbol of sim.symbols) {
      const truth = sim
        .truth(symbol)
        .map((t) => t.id)
        .filter((id) => !lost[symbol]!.includes(id));
      expect(h.ticks.get(symbol)!.map((t) => t.tradeId)).toEqual(truth);
    }
  });
});

describe('refused upgrades', () => {
  it('waits for Retry-After when an upgrade is refused with 429, then loses nothing', async () => {
    const warnings: object[] = [];
    const logger = {
      ...silentLogger,
      warn: (fields: object, message?: string) => {
        if (message?.startsWith('binance: connection refused')) warnings.push(fields);
      },
    };
    const { sim, h } = await setup({}, { logger });
    sim.generate(10);
    await waitCaughtUp(h, sim);
    sim.refuseConnections(1_000, { status: 429, retryAfterSeconds: 2 });
    sim.drop();
    sim.generate(20);
    await waitFor(() => sim.stats().connectionsAccepted === 2, 'the reconnect');
    sim.generate(5);
    await waitCaughtUp(h, sim);
    const log = sim.upgradeLog();
    expect(log.map((e) => e.status)).toEqual([101, 429, 101]);
    expect(log[2]!.at - log[1]!.at).toBeGreaterThanOrEqual(2_000);
    expectExactlyOnce(h, sim, 35);
    expect(h.client.stats().tradesMissed).toBe(0);
    expect(warnings).toEqual([expect.objectContaining({ status: 429, retryAfterMs: 2_000 })]);
    expect(h.events).toContainEqual(
      expect.objectContaining({
        type: 'connection',
        state: 'disconnected',
        reason: 'refused: HTTP 429',
      }),
    );
  });
});

/** The client's counters, without the buffer the consumer is still draining. */
function counters(client: BinanceTradeClient) {
  const { bufferedEvents: _draining, ...rest } = client.stats();
  return rest;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
