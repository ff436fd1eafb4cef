import {
  isDecimalString,
  MIN_PLAUSIBLE_TRADE_TIME,
  type Tick,
  type TickRejectReason,
} from '@trade/core';

/** A trade's fields checked: the tick, or why not. */
export type TradeCheck =
  | { readonly kind: 'tick'; readonly tick: Tick }
  | { readonly kind: 'rejected'; readonly reason: TickRejectReason; readonly detail: string };

/** Where a trade's fields are in an object: a stream payload's letters, or a REST row's names. */
export interface TradeFieldNames {
  readonly symbol: string;
  readonly id: string;
  readonly price: string;
  readonly quantity: string;
  readonly time: string;
  readonly isBuyerMaker: string;
}

const SYMBOL = /^[A-Z0-9]{2,30}$/;
const NON_ZERO_DIGIT = /[1-9]/;

export function rejectTrade(reason: TickRejectReason, detail: string): TradeCheck {
  return { kind: 'rejected', reason, detail };
}

function isEpochInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Checks every field a tick needs, in the order a stream payload and a REST
 * row share: presence, then types (decimal strings, safe non-negative
 * integers, a boolean), then plausibility (time after 2017, price and
 * quantity above zero). Unknown fields are ignored. `symbol`, when given,
 * replaces the object's own symbol field (a REST answer is for the symbol asked).
 */
export function checkTrade(
  fields: Record<string, unknown>,
  names: TradeFieldNames,
  receiveTime: number,
  symbol?: string,
): TradeCheck {
  const s = symbol ?? fields[names.symbol];
  if (s === undefined) return rejectTrade('missing_field', names.symbol);
  const id = fields[names.id];
  const p = fields[names.price];
  const q = fields[names.quantity];
  const T = fields[names.time];
  const m = fields[names.isBuyerMaker];
  if (id === undefined) return rejectTrade('missing_field', names.id);
  if (p === undefined) return rejectTrade('missing_field', names.price);
  if (q === undefined) return rejectTrade('missing_field', names.quantity);
  if (T === undefined) return rejectTrade('missing_field', names.time);
  if (m === undefined) return rejectTrade('missing_field', names.isBuyerMaker);
  if (typeof s !== 'string' || !SYMBOL.test(s)) return rejectTrade('invalid_field', names.symbol);
  if (!isEpochInt(id)) return rejectTrade('invalid_field', names.id);
  if (!isDecimalString(p)) return rejectTrade('invalid_field', names.price);
  if (!isDecimalString(q)) return rejectTrade('invalid_field', names.quantity);
  if (!isEpochInt(T)) return rejectTrade('invalid_field', names.time);
  if (typeof m !== 'boolean') return rejectTrade('invalid_field', names.isBuyerMaker);
  if (T < MIN_PLAUSIBLE_TRADE_TIME) return rejectTrade('implausible_time', `${names.time}=${T}`);
  if (!NON_ZERO_DIGIT.test(p)) return rejectTrade('non_positive', `${names.price}=${p}`);
  if (!NON_ZERO_DIGIT.test(q)) return rejectTrade('non_positive', `${names.quantity}=${q}`);
  return { kind: 'tick', tick: makeTick(s, id, p, q, m, T, receiveTime) };
}

/** One shape for every tick, whichever path built it. */
export function makeTick(
  symbol: string,
  tradeId: number,
  price: string,
  quantity: string,
  isBuyerMaker: boolean,
  tradeTime: number,
  receiveTime: number,
): Tick {
  return {
    symbol,
    tradeId,
    price,
    quantity,
    side: isBuyerMaker ? 'SELL' : 'BUY',
    isBuyerMaker,
    tradeTime,
    receiveTime,
  };
}
