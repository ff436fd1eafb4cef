/** The length of one period of returns the Sharpe ratio is computed over. */
export type SharpePeriod = 'minute' | 'hour' | 'day';

const PERIOD_MS: Record<SharpePeriod, number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};
const YEAR_MS = 365 * 86_400_000;

/** A Sharpe ratio and the period it was measured over. */
export interface SharpeRatio {
  /** Per-period Sharpe times sqrt(periods per year); null with fewer than 2 periods or no variation. */
  readonly annualized: number | null;
  /** Mean over standard deviation (sample) of the per-period returns; null as above. */
  readonly perPeriod: number | null;
  /** The period of the returns: equity is sampled at the close of each, by trade time. */
  readonly period: SharpePeriod;
  /** Returns measured (periods without ticks count, with a zero return). */
  readonly periods: number;
  /** sqrt of periods in a 365-day year (crypto trades every day). */
  readonly annualizationFactor: number;
  /** Always 0: returns are not reduced by a risk-free rate. */
  readonly riskFreeRate: 0;
}

/**
 * Follows an equity curve tick by tick: the largest drawdown from a peak, and
 * the per-period returns of a Sharpe ratio. Each period's return is its
 * closing equity over the previous period's (the first over the starting
 * equity); a period without ticks has a zero return, as equity did not move.
 */
export class EquityTracker {
  private peak: number;
  private maxDrawdownValue = 0;
  private drawdownValue = 0;
  private readonly periodMs: number;
  private bucket = Number.NaN;
  private previousClose: number;
  private close: number;
  // Welford's running mean and sum of squared deviations of the closed periods' returns.
  private count = 0;
  private mean = 0;
  private m2 = 0;

  constructor(
    startEquity: number,
    private readonly period: SharpePeriod = 'hour',
  ) {
    this.peak = startEquity;
    this.previousClose = startEquity;
    this.close = startEquity;
    this.periodMs = PERIOD_MS[period];
  }

  /** Records the equity after a tick at `time` (ms since the epoch). */
  record(time: number, equity: number): void {
    if (equity > this.peak) {
      this.peak = equity;
      this.drawdownValue = 0;
    } else if (this.peak > 0) {
      const drawdown = (this.peak - equity) / this.peak;
      this.drawdownValue = drawdown;
      if (drawdown > this.maxDrawdownValue) this.maxDrawdownValue = drawdown;
    }
    const bucket = Math.floor(time / this.periodMs);
    if (Number.isNaN(this.bucket)) this.bucket = bucket;
    else if (bucket > this.bucket) {
      this.closePeriod();
      // Whole periods with no tick between the two: equity stood still.
      this.addZeros(bucket - this.bucket - 1);
      this.bucket = bucket;
    }
    this.close = equity;
  }

  /** The fall of the last equity recorded below the peak, as a fraction of the peak. */
  drawdown(): number {
    return this.drawdownValue;
  }

  /** The largest fall from a peak, as a fraction of the peak (0.25 = 25%). */
  maxDrawdown(): number {
    return this.maxDrawdownValue;
  }

  /** The Sharpe ratio of the periods seen so far, the current one included. */
  sharpe(): SharpeRatio {
    let { count: n, mean, m2 } = this;
    if (!Number.isNaN(this.bucket)) {
      const r = this.periodReturn();
      n += 1;
      const delta = r - mean;
      mean += delta / n;
      m2 += delta * (r - mean);
    }
    const factor = Math.sqrt(YEAR_MS / this.periodMs);
    const deviation = n >= 2 ? Math.sqrt(m2 / (n - 1)) : 0;
    const perPeriod = deviation > 0 ? mean / deviation : null;
    return {
      annualized: perPeriod === null ? null : perPeriod * factor,
      perPeriod,
      period: this.period,
      periods: n,
      annualizationFactor: factor,
      riskFreeRate: 0,
    };
  }

  private closePeriod(): void {
    const r = this.periodReturn();
    this.count += 1;
    const delta = r - this.mean;
    this.mean += delta / this.count;
    this.m2 += delta * (r - this.mean);
    this.previousClose = this.close;
  }

  /** Adds `k` zero returns at once (Chan et al.'s pairwise combination). */
  private addZeros(k: number): void {
    if (k <= 0) return;
    const n = this.count;
    const total = n + k;
    const delta = -this.mean;
    this.mean += (delta * k) / total;
    this.m2 += (delta * delta * n * k) / total;
    this.count = total;
  }

  private periodReturn(): number {
    return this.previousClose > 0 ? this.close / this.previousClose - 1 : 0;
  }
}
