import { InvalidInputError, createTick, type Tick } from '@trade/core';
import { readVersionedObject, refuse } from './codec-support.js';
import type { BusRecordKind, BusRejection } from './record-kind.js';
import { TRADE_CHANNEL } from './subjects.js';

export { BUS_REJECT_REASONS } from './record-kind.js';
export type { BusRejectReason } from './record-kind.js';

/** The layout version written in every message (`"v":1`); a decoder refuses others. */
export const TICK_MESSAGE_VERSION = 1;

/** What {@link decodeTick} returns: a tick, or why there is none. */
export type DecodedTick = { readonly ok: true; readonly tick: Tick } | BusRejection;

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
  const read = readVersionedObject(data, TICK_MESSAGE_VERSION, FIELDS);
  if (!read.ok) return read;
  const { fields } = read;
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

/**
 * Ticks on the bus: channel `trade`, message id by trade id, the body of
 * {@link encodeTick}.
 *
 * @example
 * ```ts
 * const consumer = await startRecordConsumer({ nc, kind: tickKind, consumer: 'audit', handler });
 * ```
 */
export const tickKind: BusRecordKind<Tick> = Object.freeze({
  channel: TRADE_CHANNEL,
  noun: 'tick',
  plural: 'ticks',
  encode: encodeTick,
  decode: (data: Uint8Array) => {
    const decoded = decodeTick(data);
    return decoded.ok ? { ok: true as const, record: decoded.tick } : decoded;
  },
  symbol: (tick: Tick) => tick.symbol,
  id: (tick: Tick) => tick.tradeId,
});
