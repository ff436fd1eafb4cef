import { silentLogger } from '@trade/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  REST_LIE_KINDS,
  startBinanceSimulator,
  type BinanceSimulator,
  type BinanceSimulatorOptions,
} from '../src/sim.js';
import type { BinanceTradeClientOptions } from '../src/index.js';
import {
  counterValue,
  expectExactlyOnce,
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

async function setup(
  options: BinanceSimulatorOptions = {},
  client: Partial<BinanceTradeClientOptions> = {},
) {
  sim = await startBinanceSimulator({
    symbols: ['BTCUSDT', 'ETHUSDT'],
    rate: 0,
    seed: 11,
    ...options,
  });
  harness = startClient(sim, client);
  await waitOpen(harness, sim);
  return { sim, h: harness };
}

/** Error logs, by message. */
function errorLog() {
  const errors: { fields: Record<string, unknown>; message: string }[] = [];
  const logger = {
    ...silentLogger,
    error: (fields: object, message?: string) =>
      errors.push({ fields: fields as Record<string, unknown>, message: message ?? '' }),
  };
  return { errors, logger };
}

const newestAsked = (s: BinanceSimulator, symbol: string) =>
  s.restLog().filter((e) => e.path === `/api/v3/trades?symbol=${symbol}&limit=1`);

describe('a bogus trade id (issue 13, point 3)', () => {
  it.each([
    ['far ahead (2^53 - 1)', () => Number.MAX_SAFE_INTEGER],
    ['5000 ahead, nearer than maxTradeIdJump', (last: number) => last + 5_000],
  ])(
    'mid-stream, %s: every real trade still delivered exactly, the bogus one never, counted',
    async (_name, bogusId) => {
      const { sim, h } = await setup();
      sim.generate(10);
      await waitCaughtUp(h, sim);
      const bogus = bogusId(sim.lastTradeId('BTCUSDT')!);
      sim.bogusTrade('BTCUSDT', bogus);
      for (let i = 0; i < 5; i++) {
        sim.generate(10);
        await waitCaughtUp(h, sim); // real trades are not held behind the bogus one
      }
      await waitFor(() => h.client.stats().rejected.ahead_of_exchange === 1, 'the rejection');
      sim.generate(10);
      await waitCaughtUp(h, sim);
      expectExactlyOnce(h, sim, 70);
      expect(h.ticks.get('BTCUSDT')!.some((t) => t.tradeId === bogus)).toBe(false);
      const stats = h.client.stats();
      expect(stats).toMatchObject({
        tradesMissed: 0,
        tradesBackfilled: 0,
        heldTrades: 0,
        duplicatesDropped: 0,
      });
      expect(stats.rejected).toEqual({ ahead_of_exchange: 1 });
      expect(await counterValue(h.metrics, 'ticksRejected', { reason: 'ahead_of_exchange' })).toBe(
        1,
      );
      expect(await counterValue(h.metrics, 'ticksUnrecovered')).toBe(0);
      // The exchange was asked for its newest trade id.
      expect(newestAsked(sim, 'BTCUSDT').length).toBeGreaterThanOrEqual(1);
      expect(h.client.positions().BTCUSDT).toBe(sim.lastTradeId('BTCUSDT'));
    },
  );

  it('confirms an id past maxTradeIdJump at once, rejects it without waiting for a gap fill', async () => {
    const { sim, h } = await setup({}, { maxTradeIdJump: 1_000 });
    sim.generate(10);
    await waitCaughtUp(h, sim);
    sim.bogusTrade('ETHUSDT', sim.lastTradeId('ETHUSDT')! + 5_000);
    sim.generate(3);
    await waitFor(() => h.client.stats().rejected.ahead_of_exchange === 1, 'the rejection');
    sim.generate(3);
    await waitCaughtUp(h, sim);
    expectExactlyOnce(h, sim, 16);
    // Only the newest id was asked for: no backfill of a gap that does not exist.
    expect(sim.restLog().map((e) => e.path)).toEqual(['/api/v3/trades?symbol=ETHUSDT&limit=1']);
    expect(h.client.stats().gapsDetected).toBe(0);
  });

  it('trusts a real jump past maxTradeIdJump once the exchange confirms it, and fills the gap', async () => {
    const { sim, h } = await setup({}, { maxTradeIdJump: 100 });
    sim.generate(10);
    await waitCaughtUp(h, sim);
    sim.gap(500, 'BTCUSDT'); // a long outage of the stream alone: the next id is 500 ahead
    sim.generate(5);
    await waitCaughtUp(h, sim);
    expectExactlyOnce(h, sim, 15); // BTC: 515
    expect(h.client.stats()).toMatchObject({
      tradesBackfilled: 500,
      tradesMissed: 0,
      rejected: {},
    });
    expect(newestAsked(sim, 'BTCUSDT')).toHaveLength(1);
  });

  it('trusts a jump it cannot confirm while REST is banned, so the symbol keeps flowing', async () => {
    const { errors, logger } = errorLog();
    const { sim, h } = await setup({}, { maxTradeIdJump: 100, logger });
    sim.generate(10);
    await waitCaughtUp(h, sim);
    sim.failRest(1, 418, 60);
    sim.gap(500, 'BTCUSDT');
    const lost = sim
      .truth('BTCUSDT')
      .slice(-500)
      .map((t) => t.id);
    sim.generate(5);
    await waitCaughtUp(h, sim);
    expect(sim.restLog().map((e) => e.status)).toEqual([418]);
    expect(h.client.stats()).toMatchObject({ tradesMissed: 500, rejected: {} });
    expect(errors.map((e) => e.message)).toContain(
      'binance: cannot ask REST whether far-ahead trade ids exist: trusting them',
    );
    const btc = sim
      .truth('BTCUSDT')
      .map((t) => t.id)
      .filter((id) => !lost.includes(id));
    expect(h.ticks.get('BTCUSDT')!.map((t) => t.tradeId)).toEqual(btc);
  });

  it('counts trades dropped as repeats in trading_ticks_duplicates_total', async () => {
    const { sim, h } = await setup();
    sim.generate(10);
    sim.duplicate(5);
    sim.generate(10);
    sim.duplicate(1, 'BTCUSDT');
    await waitCaughtUp(h, sim);
    await waitFor(() => h.client.stats().duplicatesDropped === 11, 'duplicates');
    expect(await counterValue(h.metrics, 'ticksDuplicate')).toBe(11);
    expectExactlyOnce(h, sim, 20);
  });

  it('resumes from the exchange newest when resumeFrom is ahead of it, and says so', async () => {
    const { errors, logger } = errorLog();
    sim = await startBinanceSimulator({ symbols: ['BTCUSDT', 'ETHUSDT'], rate: 0, seed: 12 });
    sim.generate(100);
    const btcNewest = sim.lastTradeId('BTCUSDT')!;
    const ethStored = sim.truth('ETHUSDT')[49]!.id;
    harness = startClient(sim, {
      // BTC: an id the exchange has not reached (another environment's database).
      resumeFrom: { BTCUSDT: btcNewest + 1_000_000, ETHUSDT: ethStored },
      logger,
    });
    const h = harness;
    await waitOpen(h, sim);
    await waitFor(() => h.client.stats().resumeAheadOfExchange.length === 1, 'the report');
    sim.generate(20);
    await waitCaughtUp(h, sim);
    expect(h.client.stats().resumeAheadOfExchange).toEqual([
      { symbol: 'BTCUSDT', resumeFrom: btcNewest + 1_000_000, exchangeNewest: btcNewest },
    ]);
    // BTC: everything after the exchange's newest at start; ETH: resumed as asked.
    expect(h.ticks.get('BTCUSDT')![0]!.tradeId).toBe(btcNewest + 1);
    expect(h.ticks.get('ETHUSDT')![0]!.tradeId).toBe(ethStored + 1);
    expectExactlyOnce(h, sim, 20);
    expect(errors).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('is ahead of the exchange') as string,
        fields: { symbol: 'BTCUSDT', resumeFrom: btcNewest + 1_000_000, exchangeNewest: btcNewest },
      }),
    ]);
    expect(await counterValue(h.metrics, 'errors', { component: 'exchange' })).toBe(1);
  });
});

describe('REST answers are checked before they are trusted (issue 13, point 4)', () => {
  it.each(REST_LIE_KINDS)(
    'refuses a lying answer (%s) as a whole, counts it, and fills the gap from the next one',
    async (kind) => {
      const { sim, h } = await setup();
      sim.generate(10);
      await waitCaughtUp(h, sim);
      sim.lieRest(1, kind);
      sim.gap(50, 'BTCUSDT');
      sim.generate(1, 'BTCUSDT');
      await waitCaughtUp(h, sim);
      expect(sim.stats().restLies).toBe(1);
      expectExactlyOnce(h, sim, 10); // BTC: 61
      const stats = h.client.stats();
      expect(stats).toMatchObject({ tradesBackfilled: 50, tradesMissed: 0, restErrors: 1 });
      expect(stats.rejected).toEqual({ invalid_rest_answer: 1 });
      expect(
        await counterValue(h.metrics, 'ticksRejected', { reason: 'invalid_rest_answer' }),
      ).toBe(1);
      expect(await counterValue(h.metrics, 'ticksBackfilled')).toBe(50);
    },
  );

  it('gives a gap up when every answer lies, as for failing requests', async () => {
    const { sim, h } = await setup();
    sim.generate(10);
    await waitCaughtUp(h, sim);
    sim.lieRest(1_000, 'ids_out_of_range');
    sim.gap(20, 'ETHUSDT');
    const lost = sim
      .truth('ETHUSDT')
      .slice(-20)
      .map((t) => t.id);
    sim.generate(1, 'ETHUSDT');
    await waitCaughtUp(h, sim, 30_000);
    const stats = h.client.stats();
    expect(stats).toMatchObject({ tradesMissed: 20, tradesBackfilled: 0, restErrors: 5 });
    expect(stats.rejected).toEqual({ invalid_rest_answer: 5 });
    expect(h.ticks.get('ETHUSDT')!.map((t) => t.tradeId)).toEqual(
      sim
        .truth('ETHUSDT')
        .map((t) => t.id)
        .filter((id) => !lost.includes(id)),
    );
    expect(h.events).toContainEqual({
      type: 'gap',
      symbol: 'ETHUSDT',
      fromId: lost[0],
      toId: lost[19],
      recovered: 0,
      missed: 20,
    });
  }, 40_000);
});

describe('a gap REST cannot fill at close (issue 13, point 5)', () => {
  it.each([
    ['REST failing', (s: BinanceSimulator) => s.failRest(1_000_000, 500)],
    ['REST hanging', (s: BinanceSimulator) => s.hangRest(600_000)],
    ['REST hanging mid-body', (s: BinanceSimulator) => s.hangRest(600_000, { afterHeaders: true })],
  ])(
    '%s: the ticks after the gap are yielded before the iterator ends, the gap reported exactly',
    async (_name, breakRest) => {
      const { sim, h } = await setup({}, { restTimeoutMs: 200 });
      sim.generate(10);
      await waitCaughtUp(h, sim);
      breakRest(sim);
      sim.gap(7, 'BTCUSDT');
      const missing = sim
        .truth('BTCUSDT')
        .slice(-7)
        .map((t) => t.id);
      sim.generate(30);
      await waitFor(() => h.client.stats().heldTrades === 30, 'BTC ticks held behind the gap');
      // Requests are bounded: each one failed or timed out, and was retried.
      await waitFor(() => h.client.stats().restErrors >= 2, 'failed requests');
      expect(h.client.openGaps()).toEqual([
        { symbol: 'BTCUSDT', fromId: missing[0], toId: missing[6] },
      ]);
      expect(await counterValue(h.metrics, 'gapsOpen')).toBe(1);

      await h.client.close();
      await h.done;
      const gap = { symbol: 'BTCUSDT', fromId: missing[0]!, toId: missing[6]! };
      expect(h.client.openGaps()).toEqual([gap]);
      expect(h.client.stats()).toMatchObject({ gapsOpen: 1, heldTrades: 0, tradesMissed: 0 });
      expect(await counterValue(h.metrics, 'gapsOpen')).toBe(1);
      // The gap-open event, then the 30 held ticks, then the end.
      const at = h.events.findIndex((e) => e.type === 'gap-open');
      expect(h.events[at]).toEqual({ type: 'gap-open', ...gap });
      expect(
        h.events
          .slice(at + 1)
          .filter((e) => e.type === 'tick')
          .map((e) => e.tick.tradeId),
      ).toEqual(
        sim
          .truth('BTCUSDT')
          .slice(-30)
          .map((t) => t.id),
      );
      const btc = sim
        .truth('BTCUSDT')
        .map((t) => t.id)
        .filter((id) => !missing.includes(id));
      expect(h.ticks.get('BTCUSDT')!.map((t) => t.tradeId)).toEqual(btc);
      expect(h.ticks.get('ETHUSDT')!.map((t) => t.tradeId)).toEqual(
        sim.truth('ETHUSDT').map((t) => t.id),
      );
      expect(h.client.positions().BTCUSDT).toBe(sim.lastTradeId('BTCUSDT'));
      expect(await counterValue(h.metrics, 'ticksReceived')).toBe(40 + 40); // 40 per symbol, none missing
    },
  );

  it('shows a gap in trading_gaps_open only while it waits for REST', async () => {
    const { sim, h } = await setup({}, { restTimeoutMs: 10_000 });
    sim.generate(10);
    await waitCaughtUp(h, sim);
    sim.hangRest(1_000); // answered late, not lost
    sim.gap(4, 'ETHUSDT');
    sim.gap(3, 'BTCUSDT');
    sim.generate(2);
    await waitFor(() => h.client.stats().heldTrades === 4, 'ticks held behind both gaps');
    await waitFor(() => h.client.openGaps().length === 2, 'two open gaps');
    expect(await counterValue(h.metrics, 'gapsOpen')).toBe(2);
    await waitCaughtUp(h, sim);
    await waitFor(() => h.client.stats().tradesBackfilled === 7, 'the backfill');
    expect(h.client.openGaps()).toEqual([]);
    await waitFor(() => h.client.stats().gapsOpen === 0, 'stats');
    expect(await counterValue(h.metrics, 'gapsOpen')).toBe(0);
    expect(sim.stats().restHung).toBeGreaterThanOrEqual(2);
    await h.client.close();
    expect(h.client.openGaps()).toEqual([]);
    expectExactlyOnce(h, sim, 15);
  });
});
