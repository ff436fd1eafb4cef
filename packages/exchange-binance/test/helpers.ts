import type { Tick } from '@trade/core';
import { createTradingMetrics, type TradingMetrics } from '@trade/metrics';
import { Registry } from 'prom-client';
import { expect } from 'vitest';
import {
  BinanceTradeClient,
  type BinanceClientEvent,
  type BinanceTradeClientOptions,
} from '../src/index.js';
import type { BinanceSimulator } from '../src/sim.js';

/** A client reading into arrays, for assertions. */
export interface Harness {
  client: BinanceTradeClient;
  metrics: TradingMetrics;
  events: BinanceClientEvent[];
  ticks: Map<string, Tick[]>;
  done: Promise<void>;
}

export function startClient(
  sim: BinanceSimulator,
  options: Partial<BinanceTradeClientOptions> = {},
): Harness {
  const metrics = createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
  const client = new BinanceTradeClient({
    url: sim.url,
    restUrl: sim.restUrl,
    symbols: sim.symbols,
    metrics,
    backoff: { initialMs: 20, maxMs: 200 },
    ...options,
  });
  const events: BinanceClientEvent[] = [];
  const ticks = new Map<string, Tick[]>();
  const done = (async () => {
    for await (const event of client) {
      events.push(event);
      if (event.type === 'tick') {
        const list = ticks.get(event.tick.symbol) ?? [];
        list.push(event.tick);
        ticks.set(event.tick.symbol, list);
      }
    }
  })();
  return { client, metrics, events, ticks, done };
}

/** Polls `predicate` every 10 ms until true; fails after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until every symbol's stream is open (subscribed) on the simulator. */
export async function waitOpen(h: Harness, sim: BinanceSimulator, connections = 1): Promise<void> {
  await waitFor(
    () => sim.connections().length >= connections && h.metrics.wsConnectionStatus !== undefined,
    'connections',
  );
  await waitFor(
    () =>
      h.events.filter((e) => e.type === 'connection' && e.state === 'open').length >= connections,
    'open event',
  );
}

/** Waits until the client delivered up to the simulator's last trade of every symbol. */
export async function waitCaughtUp(h: Harness, sim: BinanceSimulator, timeoutMs = 20_000) {
  await waitFor(
    () =>
      sim.symbols.every((s) => {
        const list = h.ticks.get(s);
        return list !== undefined && list[list.length - 1]!.tradeId === sim.lastTradeId(s);
      }),
    'client to catch up with the simulator',
    timeoutMs,
  );
}

/**
 * Exactly once, in order: from the first trade the client delivered, every
 * trade the simulator generated arrives once, with the same fields.
 */
export function expectExactlyOnce(h: Harness, sim: BinanceSimulator, minimum = 1): void {
  for (const symbol of sim.symbols) {
    const got = h.ticks.get(symbol) ?? [];
    expect(got.length, `${symbol} ticks`).toBeGreaterThanOrEqual(minimum);
    const first = got[0]!.tradeId;
    const truth = sim.truth(symbol).filter((t) => t.id >= first);
    expect(got.map((t) => t.tradeId)).toEqual(truth.map((t) => t.id));
    expect(got.map((t) => [t.price, t.quantity, t.tradeTime, t.isBuyerMaker, t.side])).toEqual(
      truth.map((t) => [
        t.price,
        t.quantity,
        t.time,
        t.isBuyerMaker,
        t.isBuyerMaker ? 'SELL' : 'BUY',
      ]),
    );
  }
}

export async function counterValue(
  metrics: TradingMetrics,
  name: keyof TradingMetrics,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = metrics[name] as {
    get(): Promise<{ values: { value: number; labels: object }[] }>;
  };
  const { values } = await metric.get();
  const match = values.find((v) =>
    Object.entries(labels).every(([k, val]) => (v.labels as Record<string, string>)[k] === val),
  );
  return match?.value ?? 0;
}

/**
 * After close(): from the first trade the client delivered to the last, every
 * trade the simulator generated arrived once, in order, except the ids of the
 * gaps the client reported open (`openGaps()` and its `gap-open` events),
 * which are exactly the ids missing.
 */
export function expectExactlyOnceUntilClose(h: Harness, sim: BinanceSimulator): void {
  const open = h.client.openGaps();
  expect(h.events.filter((e) => e.type === 'gap-open')).toEqual(
    open.map((gap) => ({ type: 'gap-open', ...gap })),
  );
  for (const symbol of sim.symbols) {
    const got = h.ticks.get(symbol)!.map((t) => t.tradeId);
    const truth = sim
      .truth(symbol)
      .map((t) => t.id)
      .filter((id) => id >= got[0]! && id <= got[got.length - 1]!);
    const missing = (id: number) =>
      open.some((g) => g.symbol === symbol && g.fromId <= id && id <= g.toId);
    expect(got).toEqual(truth.filter((id) => !missing(id)));
    expect(truth.filter(missing).length).toBe(
      open.filter((g) => g.symbol === symbol).reduce((n, g) => n + g.toId - g.fromId + 1, 0),
    );
  }
}
