/**
 * The two programs the scratch project runs against the installed packages:
 * the same scenario, once as an ES module (`import`) and once as CommonJS
 * (`require`). Each prints one JSON line that the test checks.
 */

const SCENARIO = String.raw`
async function main() {
  const metrics = createTradingMetrics({
    registry: new Registry(),
    version: 'scratch',
    runtimeMetrics: false,
  });

  const frame =
    '{"stream":"btcusdt@trade","data":{"e":"trade","E":1700000000001,"s":"BTCUSDT","t":42,' +
    '"p":"37000.12345678","q":"0.00100000","T":1700000000000,"m":true,"M":true,"x":"unknown field"}}';
  const parsed = parseFrameText(frame, 'trade', 1700000000002);
  if (parsed.kind !== 'tick') throw new Error('frame rejected: ' + JSON.stringify(parsed));
  metrics.ticksReceived.inc();

  const prices = [100, 100, 100, 100, 100, 104, 106, 105, 99, 96, 95, 97, 103, 104];
  const ticks = prices.map((price, i) =>
    createTick({
      symbol: 'btcusdt',
      tradeId: i + 1,
      price: price.toFixed(2),
      quantity: '0.5',
      isBuyerMaker: i % 2 === 0,
      tradeTime: Date.UTC(2026, 0, 1) + i * 60000,
    }),
  );
  const cache = new TickCache({ metrics, capacity: 5 });
  cache.add(ticks);
  const recent = await cache.recent('BTCUSDT', 3);
  await cache.close();

  const written = [];
  const engine = new PaperEngine({
    strategy: strategyByName('sma', { fast: 2, slow: 4 }),
    portfolio: { initialCash: 10000, sizing: { mode: 'fraction', fraction: 0.5 } },
    metrics,
    fillWriter: { write: async (fills) => { written.push(...fills); } },
  });
  for (const tick of ticks) engine.onTick(tick);
  await engine.stop();
  const state = engine.state();

  const exposition = await metrics.registry.metrics();
  const sample = (name) => {
    const line = exposition.split('\n').find((l) => l.startsWith(name + ' '));
    return line === undefined ? null : Number(line.slice(name.length + 1));
  };

  console.log(JSON.stringify({
    entries: {
      core: resolveEntry('@trade/core'),
      metrics: resolveEntry('@trade/metrics'),
      exchange: resolveEntry('@trade/exchange-binance'),
      sim: resolveEntry('@trade/exchange-binance/sim'),
      marketData: resolveEntry('@trade/market-data'),
      paperEngine: resolveEntry('@trade/paper-engine'),
    },
    simulator: typeof startBinanceSimulator,
    tick: parsed.tick,
    recent: recent.map((t) => t.tradeId),
    ticksProcessed: state.ticksProcessed,
    fillsWritten: written.length,
    sides: written.map((f) => f.side),
    portfolioFills: state.portfolio.fills,
    paperTradesTotal: sample('trading_paper_trades_total'),
    ticksReceivedTotal: sample('trading_ticks_received_total'),
  }));
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

export const ESM_SCRIPT = String.raw`import { createTick } from '@trade/core';
import { parseFrameText } from '@trade/exchange-binance';
import { startBinanceSimulator } from '@trade/exchange-binance/sim';
import { TickCache } from '@trade/market-data';
import { createTradingMetrics } from '@trade/metrics';
import { PaperEngine, strategyByName } from '@trade/paper-engine';
import { Registry } from 'prom-client';

const resolveEntry = (name) => new URL(import.meta.resolve(name)).pathname;
${SCENARIO}`;

export const CJS_SCRIPT = String.raw`'use strict';
const { createTick } = require('@trade/core');
const { parseFrameText } = require('@trade/exchange-binance');
const { startBinanceSimulator } = require('@trade/exchange-binance/sim');
const { TickCache } = require('@trade/market-data');
const { createTradingMetrics } = require('@trade/metrics');
const { PaperEngine, strategyByName } = require('@trade/paper-engine');
const { Registry } = require('prom-client');

const resolveEntry = (name) => require.resolve(name);
${SCENARIO}`;

/** What both scripts print. */
export interface ScenarioOutput {
  entries: Record<'core' | 'metrics' | 'exchange' | 'sim' | 'marketData' | 'paperEngine', string>;
  simulator: string;
  tick: Record<string, unknown>;
  recent: number[];
  ticksProcessed: number;
  fillsWritten: number;
  sides: string[];
  portfolioFills: number;
  paperTradesTotal: number | null;
  ticksReceivedTotal: number | null;
}
