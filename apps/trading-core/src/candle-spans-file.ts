import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@trade/core';

const FILE = 'candle-spans.json';

/** The trade times of one symbol's ticks whose minutes need their candles made true. */
export type CandleSpans = Map<string, { from: number; to: number }>;

/**
 * Records, in `DATA_DIR/candle-spans.json`, the spans whose candles could not
 * be made true at stop (their ticks were still in the spool, or the refresh
 * failed): the next `live` takes them over and refreshes them at its stop,
 * once the spool is replayed.
 */
export async function savePendingCandleSpans(dataDir: string, spans: CandleSpans): Promise<void> {
  const path = join(dataDir, FILE);
  const list = [...spans].map(([symbol, { from, to }]) => ({ symbol, from, to }));
  // Written whole then renamed: a crash mid-write leaves the previous file, never half of one.
  await writeFile(`${path}.tmp`, `${JSON.stringify(list, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

/** Forgets the pending spans once their candles are true. */
export async function clearPendingCandleSpans(dataDir: string): Promise<void> {
  await rm(join(dataDir, FILE), { force: true });
}

/** The spans an earlier run left pending; none without a file, or when it is unreadable (logged). */
export async function loadPendingCandleSpans(
  dataDir: string,
  logger: Logger,
): Promise<CandleSpans> {
  const path = join(dataDir, FILE);
  const spans: CandleSpans = new Map();
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return spans;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed)) throw new Error('not an array');
    for (const item of parsed as { symbol?: unknown; from?: unknown; to?: unknown }[]) {
      const { symbol, from, to } = item ?? {};
      if (typeof symbol !== 'string' || !Number.isSafeInteger(from) || !Number.isSafeInteger(to)) {
        continue;
      }
      widenSpan(spans, symbol, from as number, to as number);
    }
  } catch (error) {
    logger.error(
      { err: error, path },
      'pending candle spans unreadable; migrate makes every candle true',
    );
  }
  return spans;
}

/** Widens `symbol`'s span in `spans` to cover `[from, to]`. */
export function widenSpan(spans: CandleSpans, symbol: string, from: number, to: number): void {
  const span = spans.get(symbol);
  if (span === undefined) spans.set(symbol, { from, to });
  else {
    span.from = Math.min(span.from, from);
    span.to = Math.max(span.to, to);
  }
}
