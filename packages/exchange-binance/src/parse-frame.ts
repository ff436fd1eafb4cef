import type { Tick, TickRejectReason } from '@trade/core';
import { checkTrade, rejectTrade, type TradeFieldNames } from './trade-fields.js';

/** Which Binance trade stream a client reads: raw trades or aggregated trades. */
export type TradeStreamType = 'trade' | 'aggTrade';

/** What one frame from the exchange turned out to be. */
export type FrameResult =
  | { readonly kind: 'tick'; readonly tick: Tick }
  | { readonly kind: 'rejected'; readonly reason: TickRejectReason; readonly detail: string }
  /** `serverShutdown`: the server is going away, reconnect now. */
  | { readonly kind: 'shutdown' }
  /** A reply to a request (`{"result":..,"id":..}`), or an error reply when `error` is set. */
  | {
      readonly kind: 'reply';
      readonly id: unknown;
      readonly result?: unknown;
      readonly error?: { code: unknown; msg: unknown };
    };

/**
 * Frames larger than this are rejected (`oversized_frame`) without being
 * decoded or parsed: a trade frame is a few hundred bytes, and the largest
 * reply the client asks for (a SUBSCRIBE for 1024 streams) a few tens of KiB.
 */
export const MAX_FRAME_BYTES = 1 << 20;

/** A stream payload's field letters per stream type. */
const STREAM_FIELDS: Record<TradeStreamType, TradeFieldNames> = {
  trade: { symbol: 's', id: 't', price: 'p', quantity: 'q', time: 'T', isBuyerMaker: 'm' },
  aggTrade: { symbol: 's', id: 'a', price: 'p', quantity: 'q', time: 'T', isBuyerMaker: 'm' },
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The full parser: `JSON.parse` and a check of every field a tick needs.
 * Unknown fields are ignored. The fast path of `FrameParser` gives the
 * same answer for every frame it accepts.
 *
 * @example
 * ```ts
 * const r = parseFrameText('{"e":"trade","s":"BTCUSDT","t":1,"p":"1.5","q":"2","T":1700000000000,"m":true}', 'trade', Date.now());
 * if (r.kind === 'tick') r.tick.side // 'SELL'
 * ```
 */
export function parseFrameText(
  text: string,
  streamType: TradeStreamType,
  receiveTime: number,
): FrameResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return rejectTrade('invalid_json', text.length > 80 ? `${text.slice(0, 80)}…` : text);
  }
  return parseFrameValue(value, streamType, receiveTime);
}

/** {@link parseFrameText} for a value already parsed from JSON (a test fixture). */
export function parseFrameValue(
  value: unknown,
  streamType: TradeStreamType,
  receiveTime: number,
): FrameResult {
  if (!isObject(value)) return rejectTrade('not_an_object', describeType(value));
  if ('id' in value && ('result' in value || 'error' in value)) {
    const error = value.error;
    return isObject(error)
      ? { kind: 'reply', id: value.id, error: { code: error.code, msg: error.msg } }
      : { kind: 'reply', id: value.id, result: value.result };
  }
  if ('code' in value && 'msg' in value) {
    return rejectTrade('error_payload', `code ${String(value.code)}: ${String(value.msg)}`);
  }
  if ('error' in value) return rejectTrade('error_payload', JSON.stringify(value.error) ?? 'error');

  let data: Record<string, unknown> = value;
  let stream: string | undefined;
  if ('data' in value || 'stream' in value) {
    if (!('data' in value)) return rejectTrade('missing_field', 'data');
    if (!isObject(value.data)) return rejectTrade('invalid_field', 'data is not an object');
    data = value.data;
    if ('stream' in value) {
      if (typeof value.stream !== 'string') return rejectTrade('invalid_field', 'stream');
      stream = value.stream;
    }
  }

  const event = data.e;
  if (event === undefined) return rejectTrade('missing_field', 'e');
  if (event === 'serverShutdown') return { kind: 'shutdown' };
  if (event !== streamType) return rejectTrade('unknown_event', `e=${JSON.stringify(event)}`);

  const result = checkTrade(data, STREAM_FIELDS[streamType], receiveTime);
  if (result.kind === 'tick' && stream !== undefined) {
    const { symbol } = result.tick;
    if (stream !== `${symbol.toLowerCase()}@${streamType}`) {
      return rejectTrade('symbol_mismatch', `stream ${stream} carries ${symbol}`);
    }
  }
  return result;
}

/** `typeof`, telling `null` and arrays apart, for rejection details. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
