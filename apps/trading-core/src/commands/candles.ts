import type { Logger } from '@trade/core';
import { ConfigError, normalizeSymbol } from '@trade/core';
import { CANDLE_INTERVALS, type CandleInterval } from '@trade/market-data';
import type { LiveConfig } from '../config.js';
import { openStorage } from '../storage.js';
import { parseTime } from './backtest.js';

/** Options of `trading-core candles`. */
export interface CandlesCommandOptions {
  readonly symbol: string;
  readonly interval: string;
  readonly from: string | undefined;
  readonly to: string | undefined;
  readonly json: boolean;
  readonly storage: Pick<LiveConfig, 'databaseUrl' | 'dataDir'>;
  readonly logger: Logger;
  readonly out?: NodeJS.WritableStream;
}

/**
 * Prints the candles of one symbol from `candles_1m` at 1m, 5m, 1h or 1d,
 * UTC-aligned, whose start lies in `[--from, --to)`: a table, or JSON with
 * `--json`.
 */
export async function runCandlesCommand(options: CandlesCommandOptions): Promise<void> {
  const symbol = normalizeSymbol(options.symbol, '--symbol');
  if (!(CANDLE_INTERVALS as readonly string[]).includes(options.interval)) {
    throw new ConfigError('--interval', options.interval, CANDLE_INTERVALS.join(', '));
  }
  const interval = options.interval as CandleInterval;
  const from = parseTime(options.from, '--from');
  const to = parseTime(options.to, '--to');
  if (from !== undefined && to !== undefined && from > to) {
    throw new ConfigError('--to', options.to, `a time after --from (${options.from})`);
  }
  const out = options.out ?? process.stdout;
  const storage = await openStorage({
    databaseUrl: options.storage.databaseUrl,
    dataDir: options.storage.dataDir,
    logger: options.logger,
  });
  try {
    const candles = await storage.candles.candles(symbol, interval, {
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
    });
    if (options.json) {
      out.write(`${JSON.stringify({ symbol, interval, candles }, null, 2)}\n`);
      return;
    }
    const header = ['time (UTC)', 'open', 'high', 'low', 'close', 'volume', 'trades'];
    const rows = candles.map((c) => [
      new Date(c.openTime).toISOString(),
      c.open,
      c.high,
      c.low,
      c.close,
      c.volume,
      String(c.trades),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
    const lines = [
      `${symbol} ${interval}: ${candles.length} candles`,
      line(header),
      ...rows.map(line),
    ];
    out.write(`${lines.map((l) => l.trimEnd()).join('\n')}\n`);
  } finally {
    await storage.close();
  }
}
