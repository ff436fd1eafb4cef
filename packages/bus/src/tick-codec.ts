import { InvalidInputError, createTick, type Tick } from '@trade/core';

/** The layout version written in every message (`"v":1`); a decoder refuses others. */
export const TICK_MESSAGE_VERSION = 1;

/**
 * Why a message of the bus did not decode into a tick: the JSON is broken,
 * it is not an object, it carries another layout version, a field is
 * missing or invalid, or its symbol is not the one its subject names.
 */
export const BUS_REJECT_REASONS = [
  'invalid_json',
  'not_an_object',
  'unknown_version',
  'missing_field',
  'invalid_field',
  'symbol_mismatch',
] as const;

/** One of {@link BUS_REJECT_REASONS}. */
export type BusRejectReason = (typeof BUS_REJECT_REASONS)[number];

/** What {@link decodeTick} returns: a tick, or why there is none. */
export type DecodedTick =
  | { readonly ok: true; readonly tick: Tick }
  | { readonly ok: false; readonly reason: BusRejectReason; readonly message: string };

const FIELDS = [
  'symbol',
  'tradeId',
  'price',
  'quantity',
  'isBuyerMaker',
  'tradeTime',
  'receiveTime',
] as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The bytes of a tick on the bus: one JSON object, prices and quantities as
 * the exchange's exact decimal strings, times in epoch milliseconds. The
 * side is not written: it follows from `isBuyerMaker`.
 *
 * @example
 * ```ts
 * new TextDecoder().decode(encodeTick(tick))
 * // {"v":1,"symbol":"BTCUSDT","tradeId":42,"price":"43250.01000000","quantity":"0.00100000",
 * //  "isBuyerMaker":true,"tradeTime":1700000000000,"receiveTime":1700000000002}
 * ```
 */
export function encodeTick(tick: Tick): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      v: TICK_MESSAGE_VERSION,
      symbol: tick.symbol,
      tradeId: tick.tradeId,
      price: tick.price,
      quantity: tick.quantity,
      isBuyerMaker: tick.isBuyerMaker,
      tradeTime: tick.tradeTime,
      receiveTime: tick.receiveTime,
    }),
  );
}

/**
 * Reads a tick back from a message, checked as `createTick` checks one.
 * Never throws: a malformed message comes back as `{ ok: false, reason,
 * message }`, for the caller to report and skip.
 *
 * @example
 * ```ts
 * const decoded = decodeTick(msg.data);
 * if (decoded.ok) handle(decoded.tick);
 * else logger.warn({ reason: decoded.reason }, decoded.message);
 * ```
 */
export function decodeTick(data: Uint8Array): DecodedTick {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch (error) {
    return refuse('invalid_json', `not JSON: ${messageOf(error)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return refuse('not_an_object', 'not a JSON object');
  }
  const fields = value as Record<string, unknown>;
  if (fields.v !== TICK_MESSAGE_VERSION) {
    return refuse(
      'unknown_version',
      `layout version ${fields.v === undefined ? 'missing' : JSON.stringify(fields.v)}, expected ${TICK_MESSAGE_VERSION}`,
    );
  }
  const missing = FIELDS.find((field) => fields[field] === undefined);
  if (missing !== undefined) return refuse('missing_field', `no ${missing}`);
  try {
    const tick = createTick({
      symbol: fields.symbol as string,
      tradeId: fields.tradeId as number,
      price: fields.price as string,
      quantity: fields.quantity as string,
      isBuyerMaker: fields.isBuyerMaker as boolean,
      tradeTime: fields.tradeTime as number,
      receiveTime: fields.receiveTime as number,
    });
    return { ok: true, tick };
  } catch (error) {
    if (InvalidInputError.isInstance(error)) return refuse('invalid_field', error.message);
    throw error;
  }
}

function refuse(reason: BusRejectReason, message: string): DecodedTick {
  return { ok: false, reason, message };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
