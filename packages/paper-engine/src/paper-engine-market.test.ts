import {
  ConfigError,
  createQuote,
  type BookTop,
  type Logger,
  type PaperFill,
  type Quote,
  type SymbolRules,
  type Tick,
} from '@trade/core';
import { createTradingMetrics } from '@trade/metrics';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { T0, tick } from '../test/ticks.js';
import { PaperEngine, type PaperEngineOptions } from './paper-engine.js';
import {
  HOLD,
  buySignal,
  sellSignal,
  type ExecutedFill,
  type OrderRejection,
  type Signal,
  type StrategyDefinition,
} from './strategy.js';

/** A strategy that answers from a script (trade id -> signal) and keeps what it is told. */
function scripted(script: Record<number, Signal>) {
  const told = { fills: [] as ExecutedFill[], rejections: [] as OrderRejection[] };
  const strategy: StrategyDefinition = {
    name: 'scripted',
    warmUpTicks: 0,
    create: () => ({
      onTick: (t: Tick) => script[t.tradeId] ?? HOLD,
      onFill: (f) => void told.fills.push(f),
      onRejected: (r) => void told.rejections.push(r),
    }),
  };
  return { strategy, told };
}

/** An engine over `script` that keeps every fill it writes. */
function engineWith(
  script: Record<number, Signal>,
  options: Partial<PaperEngineOptions> = {},
): { engine: PaperEngine; fills: PaperFill[]; told: ReturnType<typeof scripted>['told'] } {
  const { strategy, told } = scripted(script);
  const fills: PaperFill[] = [];
  const engine = new PaperEngine({
    strategy,
    portfolio: {
      initialCash: 10_000,
      sizing: { mode: 'notional', amount: 1000 },
      feeBps: 0,
      slippageBps: 5,
    },
    fillWriter: { write: (batch) => Promise.resolve(void fills.push(...batch)) },
    ...options,
  });
  return { engine, fills, told };
}

function quote(
  bid: string,
  ask: string,
  options: { updateId?: number; symbol?: string; receiveTime?: number; qty?: string } = {},
): Quote {
  return createQuote({
    symbol: options.symbol ?? 'BTCUSDT',
    updateId: options.updateId ?? 1,
    bidPrice: bid,
    bidQty: options.qty ?? '10',
    askPrice: ask,
    askQty: options.qty ?? '10',
    receiveTime: options.receiveTime ?? T0,
  });
}

const RULES: SymbolRules = {
  symbol: 'BTCUSDT',
  tickSize: '0.01000000',
  stepSize: '0.00100000',
  minQty: '0.00100000',
  minNotional: '5.00000000',
};

describe('PaperEngine fills at the touch', () => {
  it('buys at the ask and sells at the bid of the latest quote, without slippage', async () => {
    const { engine, fills, told } = engineWith({ 2: buySignal(), 3: sellSignal() });
    engine.onTick(tick('BTCUSDT', 1, '100'));
    engine.onQuote(quote('99.50', '100.50'));
    engine.onQuote(quote('1.00', '2.00', { symbol: 'ETHUSDT' }));
    engine.onTick(tick('BTCUSDT', 2, '100'));
    engine.onQuote(quote('101.25', '101.75', { updateId: 2 }));
    engine.onTick(tick('BTCUSDT', 3, '100'));
    await engine.close();
    // 1000 / 100.5 = 9.95024875..., sold at 101.25.
    expect(fills.map((f) => [f.side, f.price, f.quantity])).toEqual([
      ['BUY', '100.5', '9.95024875'],
      ['SELL', '101.25', '9.95024875'],
    ]);
    expect(told.fills.map((f) => [f.source, f.marketPrice, f.slippageCost])).toEqual([
      ['quote', 100.5, 0],
      ['quote', 101.25, 0],
    ]);
    expect(engine.state()).toMatchObject({ quotesReceived: 3 });
    expect(engine.state().portfolio.fillSources).toEqual({ book: 0, quote: 2, last: 0 });
  });

  it('fills at the last price with slippage when no quote is known, or only a stale one', () => {
    const { engine, told } = engineWith(
      { 1: buySignal(), 2: sellSignal() },
      { maxQuoteAgeMs: 5000 },
    );
    engine.onTick(tick('BTCUSDT', 1, '100'));
    // A quote 6 s before the trade of tick 2 (its trade time is T0 + 2 s).
    engine.onQuote(quote('99.50', '100.50', { receiveTime: T0 - 4001 }));
    engine.onTick(tick('BTCUSDT', 2, '100'));
    expect(told.fills.map((f) => [f.source, f.price])).toEqual([
      ['last', 100.05],
      ['last', 99.95],
    ]);
  });

  it('walks three levels of the book: one row at their exact volume-weighted price', async () => {
    const { engine, fills, told } = engineWith(
      { 1: buySignal() },
      { portfolio: { sizing: { mode: 'notional', amount: 250.65 }, feeBps: 0 } },
    );
    const top: BookTop = {
      symbol: 'BTCUSDT',
      updateId: 7,
      bids: [['99.90', '5']],
      asks: [
        ['100.10', '0.5'],
        ['100.20', '1.0'],
        ['100.40', '2.0'],
      ],
    };
    engine.onBook(top);
    engine.onBook({ ...top, asks: [] }); // a repeat: ignored
    engine.onTick(tick('BTCUSDT', 1, '100'));
    await engine.close();
    // 0.5 x 100.10 + 1 x 100.20 + 1 x 100.40 = 250.65 for 2.5 units.
    expect(fills).toEqual([
      expect.objectContaining({
        side: 'BUY',
        price: '100.26',
        quantity: '2.5',
        cashAfter: '9749.35',
      }),
    ]);
    expect(told.fills[0]).toMatchObject({ source: 'book', levels: 3, partial: false });
    expect(engine.state().bookTopsReceived).toBe(1);
  });

  it('fills what the visible depth holds of a larger order, and counts it as partial', () => {
    const { engine, told } = engineWith({ 1: buySignal() }, { portfolio: { feeBps: 0 } });
    engine.onBook({
      symbol: 'BTCUSDT',
      updateId: 1,
      bids: [],
      asks: [
        ['100', '2'],
        ['101', '1'],
      ],
    });
    engine.onTick(tick('BTCUSDT', 1, '100'));
    expect(told.fills[0]).toMatchObject({ quantity: 3, notional: 301, partial: true, levels: 2 });
    expect(engine.state().portfolio.partialFills).toBe(1);
  });
});

describe('PaperEngine under exchange rules', () => {
  it('rounds every order’s quantity down to the step', () => {
    const { engine, told } = engineWith(
      { 1: buySignal(), 2: sellSignal(0.5) },
      { rules: new Map([['BTCUSDT', RULES]]), portfolio: { feeBps: 0 } },
    );
    engine.onQuote(quote('99', '101'));
    engine.onTick(tick('BTCUSDT', 1, '100'));
    engine.onTick(tick('BTCUSDT', 2, '100'));
    // 1000 / 101 = 9.90099...: 9.9 at a step of 0.001; half of it, 4.95.
    expect(told.fills.map((f) => [f.side, f.exact.quantity, f.exact.positionAfter])).toEqual([
      ['BUY', '9.9', '9.9'],
      ['SELL', '4.95', '4.95'],
    ]);
  });

  it('refuses an order under the minimum notional and tells the strategy, the listener and the log', () => {
    const logged: { fields: object; message?: string }[] = [];
    const logger: Logger = {
      debug: () => undefined,
      info: (fields, message) => void logged.push({ fields, message }),
      warn: () => undefined,
      error: () => undefined,
    };
    const heard: OrderRejection[] = [];
    const { engine, told, fills } = engineWith(
      { 1: buySignal() },
      {
        rules: (symbol) => (symbol === 'BTCUSDT' ? RULES : undefined),
        portfolio: { sizing: { mode: 'notional', amount: 4 }, feeBps: 0 },
        onRejected: (r) => void heard.push(r),
        logger,
      },
    );
    engine.onQuote(quote('99', '100'));
    engine.onTick(tick('BTCUSDT', 1, '100'));
    const expected = {
      symbol: 'BTCUSDT',
      side: 'BUY',
      reason: 'below_min_notional',
      quantity: '0.04',
      price: '100',
      minimum: '5',
    };
    expect(told.rejections).toEqual([expect.objectContaining(expected)]);
    expect(heard).toEqual(told.rejections);
    expect(fills).toEqual([]);
    expect(engine.state().ordersRejected).toBe(1);
    expect(engine.state().portfolio.rejections.below_min_notional).toBe(1);
    expect(engine.state().portfolio.cash).toBe(10_000);
    expect(logged).toContainEqual({
      fields: expect.objectContaining({ reason: 'below_min_notional' }) as object,
      message: 'paper order rejected',
    });
  });

  it('checks a map of rules at once, and refuses orders whose looked-up rules are bad', async () => {
    expect(
      () => engineWith({}, { rules: new Map([['BTCUSDT', { ...RULES, stepSize: 'x' }]]) }).engine,
    ).toThrow(ConfigError);
    const metrics = createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
    const { engine, told } = engineWith(
      { 1: buySignal() },
      { rules: () => ({ ...RULES, tickSize: '-1' }), metrics },
    );
    engine.onTick(tick('BTCUSDT', 1, '100'));
    expect(told.rejections.map((r) => r.reason)).toEqual(['invalid_rules']);
    const errors = await metrics.errors.get();
    expect(errors.values.find((v) => v.labels.component === 'paper-engine')?.value).toBe(1);
  });
});

describe('PaperEngine money', () => {
  it('keeps cash exact over 1000 fills at prices whose products are noisy in numbers', async () => {
    // 1000 buys of 0.1 at 0.2 in numbers: the noise of 0.1 * 0.2 adds up.
    let float = 0;
    for (let i = 0; i < 1000; i++) float += 0.1 * 0.2;
    expect(float).not.toBe(20);

    const script: Record<number, Signal> = {};
    for (let id = 1; id <= 1000; id++) script[id] = id % 2 === 1 ? buySignal() : sellSignal();
    const { engine, fills } = engineWith(script, {
      portfolio: { initialCash: 1000, sizing: { mode: 'notional', amount: 0.03 }, feeBps: 10 },
    });
    for (let id = 1; id <= 1000; id++) {
      // Quotes move between 0.1 and 0.3, so every product has more digits than a double keeps exact.
      const bid = ['0.1', '0.2', '0.3'][id % 3]!;
      engine.onQuote(quote(bid, `${bid}3`, { updateId: id }));
      engine.onTick(tick('BTCUSDT', id, bid));
    }
    await engine.close();
    expect(fills).toHaveLength(1000);

    // An independent reference in integers of 10^-8: cash moves by the notional and the
    // fee, each rounded half-even to 8 places.
    const units = (text: string, scale = 8): bigint => {
      const [whole, fraction = ''] = text.split('.');
      return BigInt(whole! + fraction.padEnd(scale, '0').slice(0, scale));
    };
    const halfEven = (value: bigint, drop: bigint): bigint => {
      const q = value / drop;
      const r = value % drop;
      return 2n * r > drop || (2n * r === drop && q % 2n === 1n) ? q + 1n : q;
    };
    let cash = units('1000');
    for (const fill of fills) {
      for (const field of ['price', 'quantity', 'fee', 'cashAfter', 'positionAfter'] as const) {
        expect(fill[field]).toMatch(/^\d+(\.\d+)?$/);
      }
      expect(fill.cashAfter).toMatch(/^\d+(\.\d{1,8})?$/);
      expect(fill.fee).toMatch(/^\d+(\.\d{1,8})?$/);
      const notional = units(fill.price, 18) * units(fill.quantity, 18); // 10^-36
      const amount = halfEven(notional, 10n ** 28n);
      cash += fill.side === 'BUY' ? -amount - units(fill.fee) : amount - units(fill.fee);
      expect(units(fill.cashAfter)).toBe(cash);
    }
    const state = engine.state().portfolio;
    expect(state.exact.cash).toBe(fills.at(-1)!.cashAfter);
    expect(state.cash).toBe(Number(fills.at(-1)!.cashAfter));
    expect(String(state.cash)).toBe(fills.at(-1)!.cashAfter);
  });
});
