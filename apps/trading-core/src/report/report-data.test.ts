import type { BacktestRecording, BacktestSummary } from '@trade/paper-engine';
import { describe, expect, it } from 'vitest';
import { reportData } from './report-data.js';
import {
  formatChange,
  formatCount,
  formatMoney,
  formatShare,
  reportFields,
} from './report-fields.js';

const T = Date.UTC(2026, 0, 16);
const S = T / 1000;

describe('reportData', () => {
  it('gives the charts one point a second (the last), the drawdown in negative percent, the symbol fills', () => {
    const recording: BacktestRecording = {
      prices: {
        BTCUSDT: [
          { time: T, value: 100 },
          { time: T + 400, value: 101 },
          { time: T + 1000, value: 102 },
        ],
      },
      equity: [
        { time: T, value: 10_000 },
        { time: T + 1000, value: 9_950.123456789 },
      ],
      drawdown: [
        { time: T, value: 0 },
        { time: T + 1000, value: 0.00498765 },
      ],
      fills: [
        {
          time: T + 400,
          symbol: 'BTCUSDT',
          side: 'BUY',
          price: 101.0000000001,
          quantity: 1,
          fee: 0.101,
          realizedPnl: 0,
        },
        {
          time: T + 500,
          symbol: 'ETHUSDT',
          side: 'BUY',
          price: 5,
          quantity: 1,
          fee: 0,
          realizedPnl: 0,
        },
        {
          time: T + 1000,
          symbol: 'BTCUSDT',
          side: 'SELL',
          price: 102,
          quantity: 1,
          fee: 0.102,
          realizedPnl: 0.797,
        },
      ],
    };
    const data = reportData({ initialCash: 10_000 } as BacktestSummary, recording, 'BTCUSDT');
    expect(data.price).toEqual([
      [S, 101],
      [S + 1, 102],
    ]);
    expect(data.equity).toEqual([
      [S, 10_000],
      [S + 1, 9_950.1235],
    ]);
    expect(data.drawdown).toEqual([
      [S, 0],
      [S + 1, -0.4988],
    ]);
    expect(data.fills).toEqual([
      [T + 400, 'B', 101, 1, 0.101, 0],
      [T + 1000, 'S', 102, 1, 0.102, 0.797],
    ]);
    expect(data.pricePrecision).toBe(2);
  });

  it('shows more decimals for prices under 1', () => {
    const recording = {
      prices: { PEPEUSDT: [{ time: T, value: 0.00001234 }] },
      equity: [],
      drawdown: [],
      fills: [],
    };
    expect(
      reportData({ initialCash: 1 } as BacktestSummary, recording, 'PEPEUSDT').pricePrecision,
    ).toBe(8);
  });
});

describe('report fields', () => {
  it('formats for people, the same on every machine', () => {
    expect(formatChange(0.0048)).toBe('+0.48%');
    expect(formatChange(-0.12346)).toBe('-12.35%');
    expect(formatChange(-0.00001)).toBe('0.00%');
    expect(formatShare(0.0068)).toBe('0.68%');
    expect(formatMoney(12_345.678)).toBe('12,345.68');
    expect(formatMoney(-0.001)).toBe('0.00');
    expect(formatCount(21_600)).toBe('21,600');
  });

  it('names each cell by its summary field', () => {
    const fields = reportFields({
      totalReturn: -0.01,
      finalEquity: 9_900,
      maxDrawdown: 0.02,
      sharpe: { annualized: 1.234, period: 'hour' },
      winRate: 0.5,
      trades: 4,
      buys: 2,
      sells: 2,
      realizedPnl: -100,
      unrealizedPnl: 0,
      feesPaid: 4,
      slippageCost: 2,
    } as unknown as BacktestSummary);
    expect(Object.fromEntries(fields.map((f) => [f.field, f.text]))).toEqual({
      totalReturn: '-1.00%',
      finalEquity: '9,900.00',
      maxDrawdown: '2.00%',
      sharpe: '1.23',
      winRate: '50.00%',
      trades: '4',
      buys: '2',
      sells: '2',
      realizedPnl: '-100.00',
      unrealizedPnl: '0.00',
      feesPaid: '4.00',
      slippageCost: '2.00',
    });
    expect(fields.find((f) => f.field === 'totalReturn')?.tone).toBe('down');
  });
});
