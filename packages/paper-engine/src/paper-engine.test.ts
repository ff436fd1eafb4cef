import type { PaperFill, PaperFillWriter, RecentTicks, Tick } from '@trade/core';
import { createTradingMetrics, type TradingMetrics } from '@trade/metrics';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { randomWalk, tick, ticksAt } from '../test/ticks.js';
import { PaperEngine } from './paper-engine.js';
import { smaCrossover } from './sma-crossover.js';
import { startPaperEngine } from './start-paper-engine.js';
import {
  HOLD,
  buySignal,
  sellSignal,
  type OrderRejection,
  type Signal,
  type StrategyContext,
  type StrategyDefinition,
} from './strategy.js';

/** A strategy that answers from a script: trade id -> signal. */
function scripted(script: Record<number, Signal>, seen: OrderRejection[] = []): StrategyDefinition {
  return {
    name: 'scripted',
    warmUpTicks: 0,
    create: () => ({
      onTick: (t: Tick) => script[t.tradeId] ?? HOLD,
      onRejected: (r: OrderRejection) => void seen.push(r),
    }),
  };
}

function newMetrics(): TradingMetrics {
  return createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
}

async function value(
  metric: { get(): Promise<{ values: { value: number; metricName?: string }[] }> },
  suffix = '',
) {
  const { values } = await metric.get();
  return values.find((v) => (v.metricName ?? '').endsWith(suffix))?.value;
}

class MemoryWriter implements PaperFillWriter {
  batches: PaperFill[][] = [];
  failNext = 0;
  write(fills: readonly PaperFill[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext -= 1;
      return Promise.reject(new Error('database down'));
    }
    this.batches.push([...fills]);
    return Promise.resolve();
  }
  get fills(): PaperFill[] {
    return this.batches.flat();
  }
}

const flatPortfolio = { initialCash: 1000, feeBps: 0, slippageBps: 0 } as const;

afterEach(() => {
  vi.useRealTimers();
});

describe('PaperEngine', () => {
  it('trades, records the metrics and writes fills with exact decimal strings', async () => {
    const metrics = newMetrics();
    const writer = new MemoryWriter();
    const engine = new PaperEngine({
      strategy: scripted({ 2: buySignal(), 4: sellSignal() }),
      portfolio: { ...flatPortfolio, sizing: { mode: 'notional', amount: 100 }, feeBps: 10 },
      metrics,
      fillWriter: writer,
    });
    for (const t of ticksAt('BTCUSDT', [50, 40, 45, 50, 60])) engine.onTick(t);
    await engine.close();

    // BUY 100 at 40 with 0.1% fee: 100 / 1.001 / 40 = 2.4975024975... units, cut to
    // 8 decimals; notional 40 x 2.49750249 = 99.9000996, fee 0.0999000996 -> 0.0999001.
    expect(writer.fills).toHaveLength(2);
    expect(writer.fills[0]).toEqual({
      strategy: 'scripted',
      symbol: 'BTCUSDT',
      side: 'BUY',
      price: '40',
      quantity: '2.49750249',
      fee: '0.0999001',
      cashAfter: '900.0000003',
      positionAfter: '2.49750249',
      timestamp: ticksAt('BTCUSDT', [0], 2)[0]!.tradeTime,
    });
    // SELL at 50: notional 124.8751245, fee 0.1248751245 -> 0.12487512.
    expect(writer.fills[1]).toMatchObject({
      price: '50',
      quantity: '2.49750249',
      fee: '0.12487512',
      cashAfter: '1024.75024968',
      positionAfter: '0',
    });
    const cash = 1024.75024968;

    expect(await value(metrics.paperTrades)).toBe(2);
    expect(await value(metrics.paperPortfolioValue)).toBe(cash);
    expect(await value(metrics.paperPnl)).toBe(cash - 1000);
    expect(await value(metrics.paperTickDuration, '_count')).toBe(5);
    const state = engine.state();
    expect(state.ticksProcessed).toBe(5);
    expect(state.portfolio.exact.feesPaid).toBe('0.22477522');
    expect(state.portfolio.feesPaid).toBe(0.22477522);
  });

  it('adds each fill’s fee and slippage cost to their counters', async () => {
    const metrics = newMetrics();
    const engine = new PaperEngine({
      strategy: scripted({ 1: buySignal(), 2: sellSignal() }),
      portfolio: {
        initialCash: 1000,
        sizing: { mode: 'notional', amount: 101 },
        feeBps: 100,
        slippageBps: 100,
      },
      metrics,
    });
    // Budget 101 at 100 x 1.01 = 101: 101 / 1.01 / 101 = 0.990099009... -> 0.990099 units,
    // notional 99.999999, fee 0.99999999, slippage 1 per unit.
    engine.onTick(tick('BTCUSDT', 1, 100));
    expect(await value(metrics.paperFeesPaid)).toBe(0.99999999);
    expect(await value(metrics.paperSlippageCost)).toBe(0.990099);
    // SELL at 100 x 0.99 = 99: notional 98.019801, fee 0.98019801, slippage 1 per unit.
    engine.onTick(tick('BTCUSDT', 2, 100));
    expect(await value(metrics.paperFeesPaid)).toBeCloseTo(1.980198, 12);
    expect(await value(metrics.paperSlippageCost)).toBeCloseTo(1.980198, 12);
    expect(engine.state().portfolio.exact).toMatchObject({
      feesPaid: '1.980198',
      slippageCost: '1.980198',
    });
  });

  it('keeps strategy state per symbol: interleaving changes nothing', () => {
    const a = randomWalk(600, { symbols: ['AAAUSDT'], seed: 1 });
    const b = randomWalk(600, { symbols: ['BBBUSDT'], seed: 2 });
    const options = {
      ...flatPortfolio,
      initialCash: 1e9,
      sizing: { mode: 'notional', amount: 1000 },
    } as const;
    const alone = (ticks: Tick[]) => {
      const fills: PaperFill[] = [];
      const engine = new PaperEngine({
        strategy: smaCrossover({ fast: 3, slow: 8 }),
        portfolio: options,
        onFill: (f) => void fills.push(f),
      });
      ticks.forEach((t) => engine.onTick(t));
      return fills;
    };
    const mixed: PaperFill[] = [];
    const engine = new PaperEngine({
      strategy: smaCrossover({ fast: 3, slow: 8 }),
      portfolio: options,
      onFill: (f) => void mixed.push(f),
    });
    a.forEach((t, i) => {
      engine.onTick(t);
      engine.onTick(b[i]!);
    });
    const strip = (f: PaperFill) => ({ ...f, cashAfter: '' });
    const fromA = alone(a);
    expect(fromA.length).toBeGreaterThan(4);
    expect(mixed.filter((f) => f.symbol === 'AAAUSDT').map(strip)).toEqual(fromA.map(strip));
    expect(mixed.filter((f) => f.symbol === 'BBBUSDT').map(strip)).toEqual(alone(b).map(strip));
  });

  it('is deterministic: the same ticks give the same fills', () => {
    const ticks = randomWalk(3000, { symbols: ['BTCUSDT', 'ETHUSDT'], seed: 7 });
    const run = () => {
      const fills: PaperFill[] = [];
      const engine = new PaperEngine({
        strategy: smaCrossover(),
        onFill: (f) => void fills.push(f),
      });
      ticks.forEach((t) => engine.onTick(t));
      return { fills, state: engine.state() };
    };
    const first = run();
    expect(first.fills.length).toBeGreaterThan(10);
    expect(run()).toEqual(first);
  });

  it('property: the stored fills (decimal strings) reconcile with cash and positions', () => {
    const step = fc.record({
      symbol: fc.constantFrom('AAAUSDT', 'BBBUSDT'),
      cents: fc.integer({ min: 1, max: 10_000_000 }),
      action: fc.constantFrom('BUY', 'SELL', 'HOLD'),
      size: fc.constantFrom(undefined, 0.25, 0.5, 1),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.array(step, { maxLength: 120 }),
        (feeBps, slippageBps, fraction, steps) => {
          const plan = new Map<number, Signal>();
          const ticks = steps.map((s, i) => {
            plan.set(i + 1, s.action === 'HOLD' ? HOLD : { action: s.action, size: s.size ?? 1 });
            return tick(s.symbol, i + 1, (s.cents / 100).toFixed(2));
          });
          const fills: PaperFill[] = [];
          const engine = new PaperEngine({
            strategy: {
              name: 'planned',
              warmUpTicks: 0,
              create: () => ({ onTick: (t) => plan.get(t.tradeId) ?? HOLD }),
            },
            portfolio: {
              initialCash: 10_000,
              sizing: { mode: 'fraction', fraction },
              feeBps,
              slippageBps,
            },
            onFill: (f) => void fills.push(f),
          });
          ticks.forEach((t) => engine.onTick(t));

          let cash = 10_000;
          const held = new Map<string, number>();
          for (const f of fills) {
            const amount = Number(f.price) * Number(f.quantity);
            cash += f.side === 'BUY' ? -(amount + Number(f.fee)) : amount - Number(f.fee);
            const before = held.get(f.symbol) ?? 0;
            const after =
              f.side === 'BUY' ? before + Number(f.quantity) : before - Number(f.quantity);
            expect(Math.abs(after - Number(f.positionAfter))).toBeLessThanOrEqual(
              1e-9 * Math.max(1, after),
            );
            held.set(f.symbol, Number(f.positionAfter));
            // Relative, as for positions: cash can grow to ~1e10, where doubles differ by ~1e-6.
            expect(Math.abs(cash - Number(f.cashAfter))).toBeLessThanOrEqual(
              1e-6 + 1e-13 * Math.abs(cash),
            );
            cash = Number(f.cashAfter);
          }
          const state = engine.state().portfolio;
          expect(state.cash).toBe(fills.length ? Number(fills.at(-1)!.cashAfter) : 10_000);
          for (const position of state.positions) {
            expect(position.quantity).toBe(held.get(position.symbol) ?? 0);
          }
          expect(state.fills).toBe(fills.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('tells the strategy about a refused order and its view stays the real position', () => {
    const rejections: OrderRejection[] = [];
    const contexts: StrategyContext[] = [];
    const engine = new PaperEngine({
      strategy: {
        name: 'greedy',
        warmUpTicks: 0,
        create: () => ({
          onTick: (t, ctx) => {
            contexts.push({ ...ctx });
            return t.tradeId === 3 ? sellSignal() : buySignal();
          },
          onRejected: (r) => void rejections.push(r),
        }),
      },
      portfolio: { ...flatPortfolio, sizing: { mode: 'notional', amount: 600 } },
    });
    for (const t of ticksAt('BTCUSDT', [100, 100, 100, 100])) engine.onTick(t);
    // Tick 1 buys 6 units (cash 400); tick 2 is refused; tick 3 sells; tick 4 buys again.
    expect(rejections.map((r) => [r.reason, r.required, r.available])).toEqual([
      ['insufficient_cash', 600, 400],
    ]);
    expect(contexts.map((c) => [c.position, c.cash])).toEqual([
      [0, 1000],
      [6, 400],
      [6, 400],
      [0, 1000],
    ]);
    expect(engine.state().portfolio.rejections.insufficient_cash).toBe(1);
  });

  it('skips ticks not newer than the last trade id of their symbol, or without a price', () => {
    const engine = new PaperEngine({ strategy: scripted({}) });
    engine.onTick(tick('BTCUSDT', 5, 100));
    engine.onTick(tick('BTCUSDT', 5, 100));
    engine.onTick(tick('BTCUSDT', 4, 100));
    engine.onTick(tick('ETHUSDT', 4, 100));
    engine.onTick(tick('ETHUSDT', 5, 'NaN'));
    engine.onTick(tick('ETHUSDT', 6, '0'));
    expect(engine.state()).toMatchObject({ ticksProcessed: 2, ticksSkipped: 4 });
    expect(engine.state().portfolio.equity).toBe(10_000);
  });

  it('treats a throwing strategy as HOLD and counts the error', async () => {
    const metrics = newMetrics();
    const engine = new PaperEngine({
      strategy: {
        name: 'broken',
        warmUpTicks: 0,
        create: () => ({
          onTick: () => {
            throw new Error('boom');
          },
        }),
      },
      metrics,
    });
    engine.onTick(tick('BTCUSDT', 1, 100));
    expect(engine.state().strategyErrors).toBe(1);
    const errors = await metrics.errors.get();
    expect(errors.values.find((v) => v.labels.component === 'paper-engine')?.value).toBe(1);
  });

  it('holds a symbol whose strategy cannot be created, counted once, and trades the others', async () => {
    const metrics = newMetrics();
    const engine = new PaperEngine({
      strategy: {
        name: 'picky',
        warmUpTicks: 0,
        create: (symbol) => {
          if (symbol === 'ETHUSDT') throw new Error('no ETH');
          return { onTick: () => ({ action: 'BUY' }) };
        },
      },
      metrics,
    });
    engine.onTick(tick('ETHUSDT', 1, 100));
    engine.onTick(tick('ETHUSDT', 2, 101));
    engine.onTick(tick('BTCUSDT', 1, 100));
    expect(engine.state()).toMatchObject({ ticksProcessed: 3, strategyErrors: 1 });
    const held = engine.state().portfolio.positions.filter((p) => p.quantity > 0);
    expect(held.map((p) => p.symbol)).toEqual(['BTCUSDT']);
    const errors = await metrics.errors.get();
    expect(errors.values.find((v) => v.labels.component === 'paper-engine')?.value).toBe(1);
  });

  describe('warm-up', () => {
    class MemoryRecent implements RecentTicks {
      constructor(private readonly bySymbol: Record<string, Tick[]>) {}
      calls: [string, number][] = [];
      recent(symbol: string, count: number): Promise<readonly Tick[]> {
        this.calls.push([symbol, count]);
        // Newest first, as the cache returns them.
        return Promise.resolve((this.bySymbol[symbol] ?? []).slice(-count).reverse());
      }
    }

    it('reads recent ticks, counts hits and misses, and skips what it has seen', async () => {
      const metrics = newMetrics();
      const recent = new MemoryRecent({ BTCUSDT: ticksAt('BTCUSDT', [10, 10, 10, 10, 10], 1) });
      const fills: PaperFill[] = [];
      const engine = new PaperEngine({
        strategy: smaCrossover({ fast: 2, slow: 3 }),
        portfolio: flatPortfolio,
        metrics,
        recentTicks: recent,
        onFill: (f) => void fills.push(f),
      });
      await engine.warmUp(['BTCUSDT', 'ETHUSDT']);
      expect(recent.calls).toEqual([
        ['BTCUSDT', 3],
        ['ETHUSDT', 3],
      ]);
      expect(await value(metrics.cacheHits)).toBe(1);
      expect(await value(metrics.cacheMisses)).toBe(1);
      engine.onTick(tick('BTCUSDT', 5, 10)); // already seen in warm-up
      engine.onTick(tick('BTCUSDT', 6, 13)); // crosses up at once: the averages are warm
      expect(fills.map((f) => f.side)).toEqual(['BUY']);
      expect(engine.state().ticksSkipped).toBe(1);
    });

    it('startPaperEngine warms the named symbols up before it resolves', async () => {
      const recent = new MemoryRecent({ BTCUSDT: ticksAt('BTCUSDT', [10, 10, 10, 10, 10], 1) });
      const fills: PaperFill[] = [];
      const engine = await startPaperEngine({
        strategy: smaCrossover({ fast: 2, slow: 3 }),
        portfolio: flatPortfolio,
        recentTicks: recent,
        onFill: (f) => void fills.push(f),
        warmUp: ['BTCUSDT'],
      });
      expect(recent.calls).toEqual([['BTCUSDT', 3]]);
      engine.onTick(tick('BTCUSDT', 6, 13)); // crosses up at once: the averages are warm
      expect(fills.map((f) => f.side)).toEqual(['BUY']);
      await engine.close();
    });

    it('starts cold when the read fails', async () => {
      const metrics = newMetrics();
      const engine = new PaperEngine({
        strategy: smaCrossover(),
        metrics,
        recentTicks: { recent: () => Promise.reject(new Error('redis down')) },
      });
      await engine.warmUp(['BTCUSDT']);
      expect(await value(metrics.cacheMisses)).toBe(1);
    });
  });

  describe('trade log', () => {
    const everyTick: StrategyDefinition = {
      name: 'flip',
      warmUpTicks: 0,
      create: () => ({ onTick: (_t, ctx) => (ctx.position > 0 ? sellSignal() : buySignal()) }),
    };

    it('writes in batches of maxBatch without waiting in the tick', async () => {
      const writer = new MemoryWriter();
      const engine = new PaperEngine({
        strategy: everyTick,
        portfolio: flatPortfolio,
        fillWriter: writer,
        fillBatch: { maxBatch: 3, maxDelayMs: 60_000 },
      });
      for (const t of ticksAt('BTCUSDT', [1, 2, 3, 4, 5, 6, 7])) engine.onTick(t);
      // The batch bound started a write, but no tick waited for it.
      expect(writer.batches).toHaveLength(0);
      expect(engine.state().pendingFills).toBe(7);
      await new Promise((resolve) => setImmediate(resolve));
      expect(writer.batches.map((b) => b.length)).toEqual([3, 3, 1]);
      expect(engine.state().pendingFills).toBe(0);
    });

    it('writes what is buffered after maxDelayMs, and the rest on close', async () => {
      vi.useFakeTimers();
      const writer = new MemoryWriter();
      const engine = new PaperEngine({
        strategy: everyTick,
        portfolio: flatPortfolio,
        fillWriter: writer,
        fillBatch: { maxBatch: 100, maxDelayMs: 500 },
      });
      for (const t of ticksAt('BTCUSDT', [1, 2])) engine.onTick(t);
      await vi.advanceTimersByTimeAsync(499);
      expect(writer.batches).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(writer.batches.map((b) => b.length)).toEqual([2]);
      engine.onTick(tick('BTCUSDT', 3, 3));
      await engine.close();
      expect(writer.batches.map((b) => b.length)).toEqual([2, 1]);
      engine.onTick(tick('BTCUSDT', 4, 4));
      expect(engine.state().ticksSkipped).toBe(1);
    });

    it('keeps stop() as the deprecated alias of close()', async () => {
      const writer = new MemoryWriter();
      const engine = new PaperEngine({
        strategy: everyTick,
        portfolio: flatPortfolio,
        fillWriter: writer,
        fillBatch: { maxBatch: 100, maxDelayMs: 60_000 },
      });
      engine.onTick(tick('BTCUSDT', 1, 1));
      await engine.stop();
      expect(writer.fills).toHaveLength(1);
      engine.onTick(tick('BTCUSDT', 2, 2));
      expect(engine.state().ticksSkipped).toBe(1);
    });

    it('keeps fills when a write fails and writes them on the next flush', async () => {
      const metrics = newMetrics();
      const writer = new MemoryWriter();
      writer.failNext = 1;
      const engine = new PaperEngine({
        strategy: everyTick,
        portfolio: flatPortfolio,
        fillWriter: writer,
        metrics,
      });
      for (const t of ticksAt('BTCUSDT', [1, 2, 3])) engine.onTick(t);
      await expect(engine.flush()).rejects.toThrow(/3 paper fill\(s\)/);
      expect(engine.state().pendingFills).toBe(3);
      await engine.close();
      expect(writer.fills.map((f) => f.side)).toEqual(['BUY', 'SELL', 'BUY']);
      const errors = await metrics.errors.get();
      expect(errors.values.find((v) => v.labels.component === 'paper-engine')?.value).toBe(1);
    });

    it('keeps at most maxPending fills while the writer fails, dropping and counting the oldest', async () => {
      const metrics = newMetrics();
      const writer = new MemoryWriter();
      writer.failNext = Number.POSITIVE_INFINITY;
      const engine = new PaperEngine({
        strategy: everyTick,
        portfolio: flatPortfolio,
        fillWriter: writer,
        metrics,
        fillBatch: { maxBatch: 4, maxDelayMs: 60_000, maxPending: 10 },
      });
      const ids = Array.from({ length: 50 }, (_, i) => i + 1);
      for (const t of ticksAt('BTCUSDT', ids)) {
        engine.onTick(t);
        // Let each batch write fail before the next tick: the buffer must stay bounded throughout.
        await new Promise((resolve) => setImmediate(resolve));
        expect(engine.state().pendingFills).toBeLessThanOrEqual(10);
      }
      expect(engine.state().pendingFills).toBe(10);
      expect(await value(metrics.paperFillsDropped)).toBe(40);

      // The database is back: the newest 10 fills are written, in order.
      writer.failNext = 0;
      await engine.close();
      expect(writer.fills.map((f) => f.timestamp)).toEqual(
        ticksAt('BTCUSDT', ids)
          .slice(40)
          .map((t) => t.tradeTime),
      );
    });
  });
});
