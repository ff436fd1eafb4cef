import type { Side, Tick } from '@trade/core';
import { createTradingMetrics } from '@trade/metrics';
import {
  PaperEngine,
  runBacktest,
  strategyByName,
  type StrategyDefinition,
} from '@trade/paper-engine';
import { Registry } from 'prom-client';
import { median, percentile, type BenchSuite, type Figure } from '../harness.js';

const TICKS = Number(process.env.BENCH_PAPER_TICKS ?? 1_000_000);
const RUNS = 5;

/** A deterministic random walk over two symbols, prices as exchange-style decimal strings. */
function syntheticTicks(count: number): Tick[] {
  let seed = 0x2545f491;
  const random = () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const symbols = ['BTCUSDT', 'ETHUSDT'];
  const prices = [43_000, 2_300];
  const ticks: Tick[] = [];
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < count; i++) {
    const s = i & 1;
    prices[s] = Math.max(1, prices[s]! * (1 + (random() - 0.5) * 0.002));
    const side: Side = random() < 0.5 ? 'BUY' : 'SELL';
    ticks.push({
      symbol: symbols[s]!,
      tradeId: 1_000_000 + (i >> 1),
      price: prices[s].toFixed(8),
      quantity: '0.01250000',
      side,
      isBuyerMaker: side === 'SELL',
      tradeTime: t0 + i * 10,
      receiveTime: t0 + i * 10 + 3,
    });
  }
  return ticks;
}

function engineFor(strategy: StrategyDefinition, withMetrics: boolean): PaperEngine {
  return new PaperEngine({
    strategy,
    portfolio: { initialCash: 10_000, feeBps: 10, slippageBps: 5 },
    ...(withMetrics && {
      metrics: createTradingMetrics({ registry: new Registry(), runtimeMetrics: false }),
    }),
    fillWriter: { write: () => Promise.resolve() },
  });
}

/** Median ticks/s over RUNS fresh engines, each fed every tick in a tight loop. */
function throughput(ticks: readonly Tick[], strategy: () => StrategyDefinition, metrics: boolean) {
  const rates: number[] = [];
  let fills = 0;
  for (let run = 0; run <= RUNS; run++) {
    const engine = engineFor(strategy(), metrics);
    const start = process.hrtime.bigint();
    for (let i = 0; i < ticks.length; i++) engine.onTick(ticks[i]!);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    fills = engine.state().portfolio.fills;
    void engine.stop();
    if (run > 0) rates.push(ticks.length / seconds); // run 0 warms the JIT
  }
  return { rate: median(rates), fills };
}

/** Each tick timed on its own (hrtime around one onTick), metrics on. */
function perTickMicros(ticks: readonly Tick[], strategy: StrategyDefinition): number[] {
  const warm = engineFor(strategyByName(strategy.name, strategy.options), true);
  for (let i = 0; i < ticks.length; i++) warm.onTick(ticks[i]!);
  const engine = engineFor(strategy, true);
  const times = new Array<number>(ticks.length);
  for (let i = 0; i < ticks.length; i++) {
    const start = process.hrtime.bigint();
    engine.onTick(ticks[i]!);
    times[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  return times;
}

function timerOverheadMicros(samples: number): number {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = process.hrtime.bigint();
    times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  return median(times);
}

/** The ticks as an async iterable, as a database stream hands them over (minus the I/O). */
function stream(ticks: readonly Tick[]): AsyncIterable<Tick> {
  return {
    [Symbol.asyncIterator]() {
      let i = 0;
      return {
        next: (): Promise<IteratorResult<Tick>> =>
          Promise.resolve(
            i < ticks.length
              ? { value: ticks[i++]!, done: false }
              : { value: undefined, done: true },
          ),
      };
    },
  };
}

export const suite: BenchSuite = {
  name: 'paper-engine',
  async run() {
    const ticks = syntheticTicks(TICKS);
    const note = (fills: number) =>
      `${TICKS.toLocaleString('en-US')} ticks, 2 symbols, median of ${RUNS} runs, ${fills} fills/run`;
    const figures: Figure[] = [];

    const sma = throughput(ticks, () => strategyByName('sma'), true);
    figures.push({
      name: 'SMA 5/20 throughput, metrics on',
      measured: sma.rate,
      unit: 'ticks/s',
      target: { op: '>=', value: 1_000_000 },
      note: note(sma.fills),
    });
    const rsi = throughput(ticks, () => strategyByName('rsi'), true);
    figures.push({
      name: 'RSI 14 throughput, metrics on',
      measured: rsi.rate,
      unit: 'ticks/s',
      note: note(rsi.fills),
    });
    const bare = throughput(ticks, () => strategyByName('sma'), false);
    figures.push({
      name: 'SMA 5/20 throughput, no metrics',
      measured: bare.rate,
      unit: 'ticks/s',
      note: 'same ticks; the difference is the timer, two gauges and the histogram per tick',
    });

    const times = perTickMicros(ticks, strategyByName('sma'));
    figures.push({
      name: 'SMA one tick p99 (metrics on)',
      measured: percentile(times, 99),
      unit: 'us',
      target: { op: '<=', value: 50 },
      note: `each of ${TICKS.toLocaleString('en-US')} ticks timed alone; includes ~${timerOverheadMicros(100_000).toFixed(3)} us of hrtime overhead`,
    });
    figures.push({ name: 'SMA one tick p50 (metrics on)', measured: median(times), unit: 'us' });
    figures.push({
      name: 'SMA one tick p99.9 (metrics on)',
      measured: percentile(times, 99.9),
      unit: 'us',
    });

    const backtestRates: number[] = [];
    for (let run = 0; run < 3; run++) {
      const start = process.hrtime.bigint();
      const summary = await runBacktest({ ticks: stream(ticks), strategy: strategyByName('sma') });
      backtestRates.push(summary.ticks / (Number(process.hrtime.bigint() - start) / 1e9));
    }
    figures.push({
      name: 'backtest runner, SMA over an async iterable',
      measured: median(backtestRates),
      unit: 'ticks/s',
      note: 'runBacktest (no metrics): engine + equity curve, drawdown, Sharpe; median of 3',
    });
    return figures;
  },
};
