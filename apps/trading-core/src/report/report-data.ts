import type { BacktestRecording, BacktestSample, BacktestSummary } from '@trade/paper-engine';

/** A chart point: time in whole seconds since the epoch (what the charts take), value. */
export type ChartPoint = readonly [time: number, value: number];

/**
 * A fill as the page marks and lists it, as a tuple: thousands of fills stay
 * a small part of the page. Time in ms since the epoch; side `B` or `S`.
 */
export type ReportFill = readonly [
  time: number,
  side: 'B' | 'S',
  price: number,
  quantity: number,
  fee: number,
  realizedPnl: number,
];

/** What the report's script draws, embedded in the page as JSON. */
export interface ReportData {
  readonly symbol: string;
  readonly initialCash: number;
  /** Decimals the price axis shows. */
  readonly pricePrecision: number;
  readonly price: readonly ChartPoint[];
  readonly equity: readonly ChartPoint[];
  /** Below the running peak, in percent: 0 or less. */
  readonly drawdown: readonly ChartPoint[];
  readonly fills: readonly ReportFill[];
}

/**
 * The recording of a one-symbol backtest as the report draws it: times in
 * whole seconds with one point a second at most (the last), the drawdown in
 * negative percent, the symbol's fills.
 */
export function reportData(
  summary: BacktestSummary,
  recording: BacktestRecording,
  symbol: string,
): ReportData {
  const price = perSecond(recording.prices[symbol] ?? [], (v) => v);
  return {
    symbol,
    initialCash: summary.initialCash,
    pricePrecision: precisionFor(price),
    price,
    equity: perSecond(recording.equity, (v) => round(v, 1e4)),
    drawdown: perSecond(recording.drawdown, (v) => (v === 0 ? 0 : -round(v * 100, 1e4))),
    fills: recording.fills
      .filter((f) => f.symbol === symbol)
      .map((f) => [
        f.time,
        f.side === 'BUY' ? 'B' : 'S',
        round(f.price, 1e8),
        round(f.quantity, 1e8),
        round(f.fee, 1e8),
        round(f.realizedPnl, 1e8),
      ]),
  };
}

/** `x` to `1 / scale`: what a chart or a table shows, in fewer characters than a double. */
const round = (x: number, scale: number): number => Math.round(x * scale) / scale;

/** Samples in ms as chart points in seconds, the last of each second kept. */
function perSecond(samples: readonly BacktestSample[], value: (v: number) => number): ChartPoint[] {
  const points: ChartPoint[] = [];
  for (const sample of samples) {
    const time = Math.floor(sample.time / 1000);
    const point: ChartPoint = [time, value(sample.value)];
    if (points.length > 0 && points[points.length - 1]![0] === time)
      points[points.length - 1] = point;
    else points.push(point);
  }
  return points;
}

/** Two decimals, more for prices under 1 so that a cent coin still moves on the axis. */
function precisionFor(points: readonly ChartPoint[]): number {
  const low = points.reduce((min, [, v]) => (v > 0 && v < min ? v : min), Number.POSITIVE_INFINITY);
  if (!(low < 1)) return 2;
  return Math.min(8, Math.max(2, Math.ceil(-Math.log10(low)) + 3));
}
