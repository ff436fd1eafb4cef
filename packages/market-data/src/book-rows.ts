import { isPositiveDecimalString, type BookLevel, type BookTop } from '@trade/core';
import { MAX_EPOCH_MS, SYMBOL } from './tick-rows.js';

/** The top of an order book and when it was taken: one `book_snapshots` row. */
export interface BookSnapshot {
  readonly top: BookTop;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
}

/**
 * Why a snapshot cannot be stored, or `undefined` when it can: the key
 * fields, and each side a list of `[price, qty]` decimal strings greater
 * than zero, best first with no price twice (bids falling, asks rising).
 */
export function bookSnapshotProblem(snapshot: BookSnapshot): string | undefined {
  const top = snapshot.top as BookTop | undefined;
  if (typeof top !== 'object' || top === null) return 'top';
  if (typeof top.symbol !== 'string' || !SYMBOL.test(top.symbol)) return 'symbol';
  if (!Number.isSafeInteger(top.updateId) || top.updateId < 0) return 'updateId';
  if (
    !Number.isSafeInteger(snapshot.timestamp) ||
    snapshot.timestamp < 0 ||
    snapshot.timestamp > MAX_EPOCH_MS
  ) {
    return 'timestamp';
  }
  if (!isSide(top.bids, -1)) return 'bids';
  if (!isSide(top.asks, 1)) return 'asks';
  return undefined;
}

/** True when `levels` are valid levels whose prices move in `direction` (-1: falling). */
function isSide(levels: unknown, direction: 1 | -1): levels is readonly BookLevel[] {
  if (!Array.isArray(levels)) return false;
  let previous: string | undefined;
  for (const level of levels as unknown[]) {
    if (!Array.isArray(level) || level.length !== 2) return false;
    const [price, qty] = level as unknown[];
    if (!isPositiveDecimalString(price) || !isPositiveDecimalString(qty)) return false;
    if (previous !== undefined && compareDecimals(price, previous) !== direction) return false;
    previous = price;
  }
  return true;
}

/**
 * Compares two plain non-negative decimal strings by value (`-1`, `0`, `1`),
 * exactly: `"1.10"` equals `"1.1"`. Their integer parts have no leading
 * zeros, as {@link isPositiveDecimalString} requires.
 */
export function compareDecimals(a: string, b: string): -1 | 0 | 1 {
  const [aInt = '', aFrac = ''] = a.split('.');
  const [bInt = '', bFrac = ''] = b.split('.');
  if (aInt.length !== bInt.length) return aInt.length < bInt.length ? -1 : 1;
  if (aInt !== bInt) return aInt < bInt ? -1 : 1;
  // Without trailing zeros, fractions compare as strings.
  const af = aFrac.replace(/0+$/, '');
  const bf = bFrac.replace(/0+$/, '');
  if (af === bf) return 0;
  return af < bf ? -1 : 1;
}

/**
 * The snapshots as one JSON parameter for `jsonb_to_recordset`, levels as
 * `[["price","qty"],...]`, the strings as given. Only for snapshots that
 * passed {@link bookSnapshotProblem}.
 */
export function bookSnapshotsJson(snapshots: readonly BookSnapshot[]): string {
  return JSON.stringify(
    snapshots.map(({ top, timestamp }) => ({
      symbol: top.symbol,
      update_id: top.updateId,
      ms: timestamp,
      bids: top.bids.map(([price, qty]) => [price, qty]),
      asks: top.asks.map(([price, qty]) => [price, qty]),
    })),
  );
}
