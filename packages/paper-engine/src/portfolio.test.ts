import { ConfigError } from '@trade/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Portfolio, type OrderResult } from './portfolio.js';
import type { ExecutedFill, OrderRejection } from './strategy.js';

const T = 1_700_000_000_000;

function filled(result: OrderResult): ExecutedFill {
  if (!result.ok) throw new Error(`expected a fill, got ${result.rejection.reason}`);
  return result.fill;
}

function refused(result: OrderResult): OrderRejection {
  if (result.ok) throw new Error('expected a rejection, got a fill');
  return result.rejection;
}

describe('Portfolio', () => {
  it('charges the fee on both sides and keeps the average cost with the buy fee', () => {
    const p = new Portfolio({
      initialCash: 10_000,
      sizing: { mode: 'notional', amount: 1001 },
      feeBps: 10,
      slippageBps: 0,
    });
    // Budget 1001 fee included: notional 1001 / 1.001 = 1000, fee 1, 10 units at 100.
    const buy = filled(p.execute('BTCUSDT', 'BUY', 100, 1, T));
    expect(buy.notional).toBeCloseTo(1000, 9);
    expect(buy.fee).toBeCloseTo(1, 9);
    expect(buy.quantity).toBeCloseTo(10, 9);
    expect(buy.cashAfter).toBe(8999);
    expect(p.snapshot().positions[0]!.averageCost).toBeCloseTo(100.1, 9);

    p.mark('BTCUSDT', 110);
    // 8999 + 10 * 110; unrealized 1100 - 1001.
    expect(p.equity()).toBeCloseTo(10_099, 9);
    expect(p.unrealizedPnl()).toBeCloseTo(99, 9);

    // Sell 10 at 110: notional 1100, fee 1.1, cash + 1098.9; realized 1098.9 - 1001.
    const sell = filled(p.execute('BTCUSDT', 'SELL', 110, 1, T + 1));
    expect(sell.fee).toBeCloseTo(1.1, 9);
    expect(sell.realizedPnl).toBeCloseTo(97.9, 9);
    expect(sell.positionAfter).toBe(0);
    const s = p.snapshot();
    expect(s.cash).toBeCloseTo(10_097.9, 9);
    expect(s.feesPaid).toBeCloseTo(2.1, 9);
    expect(s.realizedPnl).toBeCloseTo(97.9, 9);
    expect(s.unrealizedPnl).toBe(0);
    expect(s.pnl).toBeCloseTo(97.9, 9);
    expect(s.roundTrips).toEqual({ closed: 1, wins: 1, losses: 0, winRate: 1 });
  });

  it('moves the price against the taker by the slippage and counts its cost', () => {
    const p = new Portfolio({
      initialCash: 10_000,
      sizing: { mode: 'notional', amount: 1000 },
      feeBps: 0,
      slippageBps: 50,
    });
    // BUY at 100 * 1.005 = 100.5: 1000 / 100.5 = 9.9502487562... units, cut to 8 decimals;
    // notional 999.999999375 -> 999.99999938 (half-even), slippage 0.5 per unit.
    const buy = filled(p.execute('BTCUSDT', 'BUY', 100, 1, T));
    expect(buy.exact).toMatchObject({
      price: '100.5',
      quantity: '9.95024875',
      notional: '999.999999375',
      cashAfter: '9000.00000062',
    });
    expect(buy.marketPrice).toBe(100);
    expect(buy.slippageCost).toBe(4.97512438);
    // SELL at 100 * 0.995 = 99.5: proceeds 990.049750625 -> 990.04975062; the round trip lost.
    const sell = filled(p.execute('BTCUSDT', 'SELL', 100, 1, T + 1));
    expect(sell.price).toBe(99.5);
    expect(sell.exact.realizedPnl).toBe('-9.95024876');
    const s = p.snapshot();
    expect(s.exact.slippageCost).toBe('9.95024876');
    expect(s.exact.cash).toBe('9990.04975124');
    expect(s.roundTrips).toEqual({ closed: 1, wins: 0, losses: 1, winRate: 0 });
  });

  it('refuses what it cannot afford or does not hold, and changes nothing', () => {
    const p = new Portfolio({
      initialCash: 1000,
      sizing: { mode: 'notional', amount: 1500 },
      feeBps: 10,
      slippageBps: 5,
    });
    const before = p.snapshot();
    const rejection = refused(p.execute('BTCUSDT', 'BUY', 100, 1, T));
    expect(rejection).toEqual({
      symbol: 'BTCUSDT',
      side: 'BUY',
      reason: 'insufficient_cash',
      required: 1500,
      available: 1000,
      timestamp: T,
    });
    expect(refused(p.execute('BTCUSDT', 'SELL', 100, 1, T)).reason).toBe('no_position');
    expect(refused(p.execute('BTCUSDT', 'BUY', 100, 0, T)).reason).toBe('zero_quantity');
    const after = p.snapshot();
    expect(after.cash).toBe(before.cash);
    expect(after.fills).toBe(0);
    expect(after.feesPaid).toBe(0);
    expect(after.rejections).toEqual({
      insufficient_cash: 1,
      no_position: 1,
      zero_quantity: 1,
      below_min_qty: 0,
      below_min_notional: 0,
      no_liquidity: 0,
      invalid_rules: 0,
    });
    // Half the budget fits; the quantity is cut to 8 decimals, so a little of it is left.
    const half = filled(p.execute('BTCUSDT', 'BUY', 100, 0.5, T)).cashAfter;
    expect(half).toBeGreaterThanOrEqual(250);
    expect(half).toBeLessThan(250 + 100.05 * 1.001 * 1e-8);
  });

  it('sizes by a fraction of equity marked to each symbol’s last price', () => {
    const p = new Portfolio({
      initialCash: 10_000,
      sizing: { mode: 'fraction', fraction: 0.5 },
      feeBps: 0,
      slippageBps: 0,
    });
    // 5000 into A at 100: 50 units.
    expect(filled(p.execute('AAAUSDT', 'BUY', 100, 1, T)).quantity).toBe(50);
    p.mark('AAAUSDT', 120);
    // Equity 5000 + 50 * 120 = 11000; half is 5500 > 5000 cash: refused.
    expect(p.equity()).toBe(11_000);
    expect(refused(p.execute('BBBUSDT', 'BUY', 10, 1, T)).required).toBe(5500);
    // Marking B does not move A's value; A falling to 80 makes equity 9000, budget 4500.
    p.mark('BBBUSDT', 12);
    expect(p.equity()).toBe(11_000);
    p.mark('AAAUSDT', 80);
    const b = filled(p.execute('BBBUSDT', 'BUY', 10, 1, T + 1));
    expect(b.notional).toBe(4500);
    expect(b.quantity).toBe(450);
    // Cash 500, A 50 * 80, B 450 * 10.
    expect(p.equity()).toBe(500 + 4000 + 4500);
    expect(p.snapshot().positions.map((x) => [x.symbol, x.marketValue])).toEqual([
      ['AAAUSDT', 4000],
      ['BBBUSDT', 4500],
    ]);
  });

  it('sells part of a position at its average cost and closes the round trip only when flat', () => {
    const p = new Portfolio({
      initialCash: 1000,
      sizing: { mode: 'notional', amount: 100 },
      feeBps: 0,
      slippageBps: 0,
    });
    filled(p.execute('BTCUSDT', 'BUY', 10, 1, T)); // 10 units, cost 100
    filled(p.execute('BTCUSDT', 'BUY', 20, 1, T)); // 5 units, cost 100: average 200/15
    const half = filled(p.execute('BTCUSDT', 'SELL', 16, 0.6, T)); // 9 units
    expect(half.quantity).toBeCloseTo(9, 12);
    expect(half.realizedPnl).toBeCloseTo(9 * 16 - (200 / 15) * 9, 9);
    expect(p.roundTrips().closed).toBe(0);
    const rest = filled(p.execute('BTCUSDT', 'SELL', 8, 1, T));
    expect(rest.quantity).toBeCloseTo(6, 12);
    expect(rest.realizedPnl).toBeCloseTo(6 * 8 - (200 / 15) * 6, 9);
    // Trip: 144 + 48 - 200 = -8.
    expect(p.roundTrips()).toEqual({ closed: 1, wins: 0, losses: 1, winRate: 0 });
    expect(p.cash).toBeCloseTo(992, 9);
  });

  it('names a bad option', () => {
    expect(() => new Portfolio({ initialCash: 0 })).toThrow(/initialCash/);
    expect(() => new Portfolio({ feeBps: -1 })).toThrow(ConfigError);
    expect(() => new Portfolio({ sizing: { mode: 'fraction', fraction: 1.5 } })).toThrow(
      /sizing\.fraction/,
    );
    expect(() => new Portfolio({ sizing: { mode: 'notional', amount: 0 } })).toThrow(
      /sizing\.amount/,
    );
  });

  it('property: cash and positions reconcile with the fills; pnl = realized + unrealized', () => {
    const symbols = ['AAAUSDT', 'BBBUSDT', 'CCCUSDT'];
    const order = fc.record({
      symbol: fc.constantFrom(...symbols),
      side: fc.constantFrom('BUY' as const, 'SELL' as const),
      price: fc.double({ min: 0.01, max: 100_000, noNaN: true }),
      size: fc.double({ min: 0.01, max: 1, noNaN: true }),
    });
    fc.assert(
      fc.property(
        fc.record({
          fraction: fc.double({ min: 0.01, max: 1, noNaN: true }),
          feeBps: fc.integer({ min: 0, max: 100 }),
          slippageBps: fc.integer({ min: 0, max: 100 }),
          notional: fc.option(fc.double({ min: 1, max: 5000, noNaN: true }), { nil: undefined }),
        }),
        fc.array(order, { maxLength: 80 }),
        (config, orders) => {
          const p = new Portfolio({
            initialCash: 10_000,
            sizing:
              config.notional === undefined
                ? { mode: 'fraction', fraction: config.fraction }
                : { mode: 'notional', amount: config.notional },
            feeBps: config.feeBps,
            slippageBps: config.slippageBps,
          });
          const fills: ExecutedFill[] = [];
          orders.forEach((o, i) => {
            const result = p.execute(o.symbol, o.side, o.price, o.size, T + i);
            if (result.ok) fills.push(result.fill);
          });
          let cash = 10_000;
          const held = new Map<string, number>();
          let fees = 0;
          for (const f of fills) {
            expect(f.cashAfter).toBeGreaterThanOrEqual(0);
            const flow =
              f.side === 'BUY' ? -(f.price * f.quantity + f.fee) : f.price * f.quantity - f.fee;
            cash += flow;
            const q = (held.get(f.symbol) ?? 0) + (f.side === 'BUY' ? f.quantity : -f.quantity);
            held.set(f.symbol, q);
            fees += f.fee;
          }
          const s = p.snapshot();
          const tolerance = 1e-9 * Math.max(10_000, s.equity);
          expect(Math.abs(s.cash - cash)).toBeLessThan(tolerance);
          expect(Math.abs(s.feesPaid - fees)).toBeLessThan(tolerance);
          for (const position of s.positions) {
            const q = held.get(position.symbol) ?? 0;
            expect(Math.abs(position.quantity - q)).toBeLessThanOrEqual(1e-9 * Math.max(1, q));
            expect(position.quantity).toBeGreaterThanOrEqual(0);
          }
          const marked = s.positions.reduce((v, x) => v + x.marketValue, s.cash);
          expect(Math.abs(s.equity - marked)).toBeLessThan(tolerance);
          expect(Math.abs(s.pnl - (s.realizedPnl + s.unrealizedPnl))).toBeLessThan(tolerance);
          expect(s.fills).toBe(fills.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
