import type { Logger, Quote } from '@trade/core';
import { normalizeSymbol, ConfigError } from '@trade/core';
import {
  BacktestRecorder,
  runBacktest,
  type BacktestSummary,
  type TimedBookTop,
} from '@trade/paper-engine';
import { mergeByTime } from '@trade/market-data';
import type { LiveConfig } from '../config.js';
import { createProgressBar } from '../progress-bar.js';
import { openStorage } from '../storage.js';
import { openArchive } from '../storage-life.js';
import { checkReportPath, writeBacktestReport } from '../report/write-report.js';
import { loadStrategy } from '../strategy-loader.js';

/** Options of `trading-core backtest`. */
export interface BacktestCommandOptions {
  /** A built-in name or the path of a strategy module. */
  readonly strategy: string;
  /** `--strategy-options`: `key=value,...`. */
  readonly strategyOptions?: string | undefined;
  readonly symbol: string;
  readonly from: string | undefined;
  readonly to: string | undefined;
  readonly json: boolean;
  /** `--report FILE`: also write the HTML report of the run there. */
  readonly report?: string | undefined;
  readonly storage: Pick<LiveConfig, 'databaseUrl' | 'dataDir'> &
    Partial<Pick<LiveConfig, 'archiveDir'>>;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly out?: NodeJS.WritableStream;
}

/**
 * Replays the stored ticks of one symbol through a strategy and prints the
 * summary. The symbol's stored quotes and book snapshots over the same range
 * go with them, merged by time, so orders fill as they would have live: at
 * the touch, or walking the book's levels. Without any, orders fill at the
 * last price with slippage, as before. With `ARCHIVE_DIR`, the days archived
 * to Parquet are read too, as if they were stored.
 */
export async function runBacktestCommand(options: BacktestCommandOptions): Promise<void> {
  const symbol = normalizeSymbol(options.symbol, '--symbol');
  const strategy = await loadStrategy(
    options.strategy,
    options.strategyOptions,
    '--strategy',
    symbol,
  );
  const from = parseTime(options.from, '--from');
  const to = parseTime(options.to, '--to');
  if (from !== undefined && to !== undefined && from > to) {
    throw new ConfigError('--to', options.to, `a time after --from (${options.from})`);
  }
  if (options.report !== undefined) await checkReportPath(options.report);
  // Downsampled to one point a second at most, 5 000 a series: a report of any length stays small.
  const recorder =
    options.report === undefined
      ? undefined
      : new BacktestRecorder({ everyMs: 1000, maxPoints: 5_000 });
  const out = options.out ?? process.stdout;
  const storage = await openStorage({
    databaseUrl: options.storage.databaseUrl,
    dataDir: options.storage.dataDir,
    logger: options.logger,
  });
  const archive = await openArchive(options.storage, options.logger).catch(async (error) => {
    await storage.close();
    throw error;
  });
  try {
    const ranged = from !== undefined || to !== undefined;
    const expected = ranged || archive ? undefined : await storage.ticks.countTicks(symbol);
    // Ranges are [from, to) for ticks, quotes and books alike.
    const fromMs = from ?? Number.NEGATIVE_INFINITY;
    const toMs = to ?? Number.POSITIVE_INFINITY;
    const storedTicks = storage.ticks.ticks(symbol, {
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
    });
    const storedQuotes = storage.quotes.quotesBetween(symbol, fromMs, toMs);
    const quotes = await unlessEmpty<Quote>(
      archive
        ? mergeByTime(storedQuotes, archive.quotes(symbol, fromMs, toMs), (q) => [
            q.receiveTime,
            q.updateId,
          ])
        : storedQuotes,
    );
    const books = await unlessEmpty<TimedBookTop>(
      storage.bookSnapshots.snapshotsBetween(symbol, fromMs, toMs),
    );
    // The exchange rules live and paper saved when they read them: orders bounded alike.
    const rules = await storage.symbolRules.load([symbol]);
    if (rules.size === 0) {
      options.logger.warn(
        { symbol },
        'no exchange rules stored for the symbol (live or paper saves them): orders are not bounded by tick size, step size or minimum notional',
      );
    }
    const bar = createProgressBar();
    const summary = await runBacktest({
      ticks: archive
        ? mergeByTime(storedTicks, archive.ticks(symbol, fromMs, toMs), (t) => [
            t.tradeTime,
            t.tradeId,
          ])
        : storedTicks,
      ...(quotes !== undefined ? { quotes } : {}),
      ...(books !== undefined ? { books } : {}),
      ...(rules.size > 0 ? { rules } : {}),
      strategy,
      signal: options.signal,
      ...(expected !== undefined ? { expectedTicks: expected } : {}),
      ...(recorder !== undefined ? { recorder } : {}),
      onProgress: (p) =>
        bar.update(p.ticks, p.expectedTicks, `${p.fills} fills, equity ${p.equity.toFixed(2)}`),
    });
    bar.finish();
    out.write(options.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
    if (options.report !== undefined && recorder !== undefined) {
      const bytes = await writeBacktestReport({
        file: options.report,
        symbol,
        summary,
        recording: recorder.recording(),
      });
      options.logger.info(
        { file: options.report, bytes },
        `backtest report written to ${options.report}`,
      );
    }
  } finally {
    await archive?.close();
    await storage.close();
  }
}

/**
 * `source` as it was, or `undefined` when it holds nothing: a backtest
 * without stored quotes or books then takes the plain tick loop. The first
 * item, already read, is handed out again.
 */
async function unlessEmpty<T>(source: AsyncGenerator<T>): Promise<AsyncIterable<T> | undefined> {
  const first = await source.next();
  if (first.done === true) return undefined;
  return (async function* () {
    yield first.value;
    yield* source;
  })();
}

/** An ISO 8601 `--from`/`--to` as epoch ms; a ConfigError naming `flag` when it is not one. */
export function parseTime(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const ms = Date.parse(raw);
  if (raw.trim() === '' || Number.isNaN(ms)) {
    throw new ConfigError(flag, raw, 'an ISO 8601 time such as 2026-01-16T00:00:00Z');
  }
  return ms;
}

const fillSources = (s: BacktestSummary): string => {
  const { book, quote, last } = s.fillSources;
  return `${book} in the book, ${quote} at the quote, ${last} at the last price`;
};
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const usd = (x: number) => x.toFixed(2);

/** The summary as an operator reads it. */
export function formatSummary(s: BacktestSummary): string {
  const sharpe =
    s.sharpe.annualized === null
      ? `n/a (fewer than 2 ${s.sharpe.period}s with returns)`
      : `${s.sharpe.annualized.toFixed(2)} annualized from ${s.sharpe.periods} ${s.sharpe.period}ly returns (per ${s.sharpe.period}: ${s.sharpe.perPeriod?.toFixed(4)})`;
  const lines = [
    `backtest ${s.strategy} on ${s.symbols.join(', ') || '(no ticks)'}${s.aborted ? ' (ABORTED: partial)' : ''}`,
    `  period        ${s.from ?? '-'} .. ${s.to ?? '-'}`,
    `  ticks         ${s.ticks}${s.ticksSkipped ? ` (${s.ticksSkipped} skipped as repeated)` : ''}`,
    `  market data   ${s.quotes} quotes, ${s.bookTops} book snapshots replayed`,
    `  trades        ${s.trades} (${s.buys} buys, ${s.sells} sells; ${fillSources(s)})`,
    `  total return  ${pct(s.totalReturn)} (${usd(s.initialCash)} -> ${usd(s.finalEquity)})`,
    `  max drawdown  ${pct(s.maxDrawdown)}`,
    `  sharpe        ${sharpe}`,
    `  win rate      ${s.winRate === null ? 'n/a (no closed round trip)' : `${pct(s.winRate)} of ${s.roundTrips.closed} closed round trips`}`,
    `  fees paid     ${usd(s.feesPaid)}`,
    `  slippage      ${usd(s.slippageCost)}`,
    `  realized PnL  ${usd(s.realizedPnl)}, unrealized ${usd(s.unrealizedPnl)}`,
  ];
  return `${lines.join('\n')}\n`;
}
