import type { BacktestSummary } from '@trade/paper-engine';

/** One number of the report's summary table. */
export interface ReportField {
  /** The cell's stable `data-field` attribute: the summary's field name. */
  readonly field: string;
  readonly label: string;
  /** The value as the page shows it. */
  readonly text: string;
  /** Colours the cell: a gain, a loss, or neither. */
  readonly tone: 'up' | 'down' | 'flat';
}

// Fixed grouping and two decimals whatever the machine's locale: a report reads the same everywhere.
const grouped = new Intl.NumberFormat('en-US', {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});
const whole = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** Rounded to two places, without a negative zero. */
const cents = (x: number): number => Math.round(x * 100) / 100 || 0;

/** `12,345.67`, `-3.10`. */
export const formatMoney = (x: number): string => grouped.format(cents(x));
/** `+12.34%`, `-0.50%`, `0.00%`: a change, signed. */
export const formatChange = (fraction: number): string => {
  const pct = cents(fraction * 100);
  return `${pct > 0 ? '+' : ''}${grouped.format(pct)}%`;
};
/** `12.34%`: a share. */
export const formatShare = (fraction: number): string =>
  `${grouped.format(cents(fraction * 100))}%`;
/** `21,600`. */
export const formatCount = (n: number): string => whole.format(n);

/** A gain, a loss or neither, as `x` shows to two places (money, or a change in percent). */
const tone = (x: number): ReportField['tone'] =>
  cents(x) > 0 ? 'up' : cents(x) < 0 ? 'down' : 'flat';

/**
 * The summary's numbers as the report's table shows them, in order. The
 * report test reads the cells back by `field` and checks them against the
 * `--json` summary.
 */
export function reportFields(s: BacktestSummary): ReportField[] {
  const field = (
    name: keyof BacktestSummary,
    label: string,
    text: string,
    t: ReportField['tone'] = 'flat',
  ): ReportField => ({ field: name, label, text, tone: t });
  return [
    field('totalReturn', 'Total return', formatChange(s.totalReturn), tone(s.totalReturn * 100)),
    field('finalEquity', 'Final equity', formatMoney(s.finalEquity)),
    field(
      'maxDrawdown',
      'Max drawdown',
      formatShare(s.maxDrawdown),
      s.maxDrawdown > 0 ? 'down' : 'flat',
    ),
    field(
      'sharpe',
      `Sharpe (annualized, ${s.sharpe.period}ly)`,
      s.sharpe.annualized === null ? 'n/a' : s.sharpe.annualized.toFixed(2),
    ),
    field('winRate', 'Win rate', s.winRate === null ? 'n/a' : formatShare(s.winRate)),
    field('trades', 'Trades', formatCount(s.trades)),
    field('buys', 'Buys', formatCount(s.buys)),
    field('sells', 'Sells', formatCount(s.sells)),
    field('realizedPnl', 'Realized PnL', formatMoney(s.realizedPnl), tone(s.realizedPnl)),
    field('unrealizedPnl', 'Unrealized PnL', formatMoney(s.unrealizedPnl), tone(s.unrealizedPnl)),
    field('feesPaid', 'Fees paid', formatMoney(s.feesPaid)),
    field('slippageCost', 'Slippage', formatMoney(s.slippageCost)),
  ];
}
