import {
  InvalidInputError,
  isPositiveDecimalString,
  normalizeSymbol,
  type BookLevel,
  type BookTop,
} from '@trade/core';
import { readVersionedObject, refuse } from './codec-support.js';
import type { BusRecordKind, BusRejection } from './record-kind.js';
import { DEPTH_CHANNEL } from './subjects.js';

/**
 * The top of a symbol's order book and when it was taken: the shape of
 * `BookSnapshot` of `@trade/market-data` (one `book_snapshots` row), so
 * either passes for the other.
 */
export interface BusBookSnapshot {
  /** Symbol, update id, and the levels best first as `[price, qty]` exact decimal strings. */
  readonly top: BookTop;
  /** When it was taken, milliseconds since the epoch. */
  readonly timestamp: number;
}

/** The layout version written in every book snapshot message (`"v":1`); a decoder refuses others. */
export const BOOK_SNAPSHOT_MESSAGE_VERSION = 1;

/** What {@link decodeBookSnapshot} returns: a snapshot, or why there is none. */
export type DecodedBookSnapshot =
  { readonly ok: true; readonly snapshot: BusBookSnapshot } | BusRejection;

const FIELDS = ['symbol', 'updateId', 'timestamp', 'bids', 'asks'] as const;

const encoder = new TextEncoder();

/**
 * The bytes of a book snapshot on the bus: one JSON object, the levels as
 * `[["price","qty"],...]` with the exact strings, best first; the time in
 * epoch milliseconds.
 *
 * @example
 * ```ts
 * new TextDecoder().decode(encodeBookSnapshot({ top, timestamp: 1700000000000 }))
 * // {"v":1,"symbol":"BTCUSDT","updateId":1027024,"timestamp":1700000000000,
 * //  "bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}
 * ```
 */
export function encodeBookSnapshot(snapshot: BusBookSnapshot): Uint8Array {
  const { top, timestamp } = snapshot;
  return encoder.encode(
    JSON.stringify({
      v: BOOK_SNAPSHOT_MESSAGE_VERSION,
      symbol: top.symbol,
      updateId: top.updateId,
      timestamp,
      bids: top.bids,
      asks: top.asks,
    }),
  );
}

/**
 * Reads a book snapshot back from a message, checked (see
 * {@link checkBookSnapshot}) and frozen. Never throws: a malformed message
 * comes back as `{ ok: false, reason, message }` with the reasons of
 * {@link decodeTick}.
 *
 * @example
 * ```ts
 * const decoded = decodeBookSnapshot(msg.data);
 * if (decoded.ok) handle(decoded.snapshot.top.bids[0]);
 * ```
 */
export function decodeBookSnapshot(data: Uint8Array): DecodedBookSnapshot {
  const read = readVersionedObject(data, BOOK_SNAPSHOT_MESSAGE_VERSION, FIELDS);
  if (!read.ok) return read;
  const { fields } = read;
  try {
    const snapshot = checkBookSnapshot({
      top: {
        symbol: fields.symbol as string,
        updateId: fields.updateId as number,
        bids: fields.bids as BookLevel[],
        asks: fields.asks as BookLevel[],
      },
      timestamp: fields.timestamp as number,
    });
    return { ok: true, snapshot: freeze(snapshot) };
  } catch (error) {
    if (InvalidInputError.isInstance(error)) return refuse('invalid_field', error.message);
    throw error;
  }
}

/**
 * Returns `snapshot` when it can travel on the bus, and throws
 * {@link InvalidInputError} naming the first bad field otherwise: an upper
 * case symbol, a non-negative safe integer update id and timestamp, each
 * side a list of `[price, qty]` decimal strings greater than zero, best
 * first with no price twice (bids falling, asks rising), as
 * `book_snapshots` takes them.
 *
 * @example
 * ```ts
 * checkBookSnapshot({ top: { symbol: 'BTCUSDT', updateId: 7, bids: [['2', '1'], ['3', '1']], asks: [] }, timestamp: 0 });
 * // throws: invalid top.bids: expected levels [price, qty] of decimal strings > 0, best first, ...
 * ```
 */
export function checkBookSnapshot(snapshot: BusBookSnapshot): BusBookSnapshot {
  const top = (snapshot as Partial<BusBookSnapshot> | null)?.top as Partial<BookTop> | undefined;
  if (typeof top !== 'object' || top === null) {
    throw new InvalidInputError('top', top, 'the top of a book');
  }
  if (normalizeSymbol(top.symbol, 'top.symbol') !== top.symbol) {
    throw new InvalidInputError('top.symbol', top.symbol, 'an upper-case symbol');
  }
  if (!Number.isSafeInteger(top.updateId) || top.updateId! < 0) {
    throw new InvalidInputError('top.updateId', top.updateId, 'a non-negative safe integer');
  }
  const { timestamp } = snapshot;
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new InvalidInputError('timestamp', timestamp, 'milliseconds since the epoch');
  }
  checkSide(top.bids, -1, 'top.bids');
  checkSide(top.asks, 1, 'top.asks');
  return snapshot;
}

/**
 * Book snapshots on the bus: channel `depth`, message id by the book's
 * update id (`binance:depth:<SYMBOL>:<updateId>`), the body of
 * {@link encodeBookSnapshot}. A snapshot offered to a publisher is checked
 * with {@link checkBookSnapshot} first.
 *
 * @example
 * ```ts
 * const publisher = await startRecordPublisher({ nc, kind: bookSnapshotKind, spool });
 * ```
 */
export const bookSnapshotKind: BusRecordKind<BusBookSnapshot> = Object.freeze({
  channel: DEPTH_CHANNEL,
  noun: 'book snapshot',
  plural: 'book snapshots',
  encode: encodeBookSnapshot,
  decode: (data: Uint8Array) => {
    const decoded = decodeBookSnapshot(data);
    return decoded.ok ? { ok: true as const, record: decoded.snapshot } : decoded;
  },
  symbol: (snapshot: BusBookSnapshot) => snapshot.top.symbol,
  id: (snapshot: BusBookSnapshot) => snapshot.top.updateId,
  check: (snapshot: BusBookSnapshot) => void checkBookSnapshot(snapshot),
});

const LEVELS = 'levels [price, qty] of decimal strings > 0, best first, no price twice';

function checkSide(levels: unknown, direction: 1 | -1, field: string): void {
  if (!Array.isArray(levels)) throw new InvalidInputError(field, levels, `a list of ${LEVELS}`);
  let previous: string | undefined;
  for (let i = 0; i < levels.length; i++) {
    const level: unknown = levels[i];
    if (
      !Array.isArray(level) ||
      level.length !== 2 ||
      !isPositiveDecimalString(level[0]) ||
      !isPositiveDecimalString(level[1])
    ) {
      throw new InvalidInputError(`${field}[${i}]`, level, '[price, qty], decimal strings > 0');
    }
    const price = level[0];
    if (previous !== undefined && compareDecimals(price, previous) !== direction) {
      throw new InvalidInputError(
        `${field}[${i}]`,
        level,
        direction < 0
          ? `a price below ${previous} (bids fall)`
          : `a price above ${previous} (asks rise)`,
      );
    }
    previous = price;
  }
}

/**
 * Compares two plain non-negative decimal strings by value, exactly:
 * `"1.10"` equals `"1.1"`. Their integer parts have no leading zeros, as
 * `isPositiveDecimalString` requires.
 */
export function compareDecimals(a: string, b: string): -1 | 0 | 1 {
  const [aInt = '', aFrac = ''] = a.split('.');
  const [bInt = '', bFrac = ''] = b.split('.');
  if (aInt.length !== bInt.length) return aInt.length < bInt.length ? -1 : 1;
  if (aInt !== bInt) return aInt < bInt ? -1 : 1;
  const af = aFrac.replace(/0+$/, '');
  const bf = bFrac.replace(/0+$/, '');
  if (af === bf) return 0;
  return af < bf ? -1 : 1;
}

function freeze(snapshot: BusBookSnapshot): BusBookSnapshot {
  const { top } = snapshot;
  const side = (levels: readonly BookLevel[]) =>
    Object.freeze(levels.map((level) => Object.freeze([level[0], level[1]] as const)));
  return Object.freeze({
    top: Object.freeze({
      symbol: top.symbol,
      updateId: top.updateId,
      bids: side(top.bids),
      asks: side(top.asks),
    }),
    timestamp: snapshot.timestamp,
  });
}
