import { positiveDecimal, type DecimalString } from './decimal.js';
import { InvalidInputError } from './errors.js';
import { sideFromBuyerMaker, type Side } from './side.js';
import { normalizeSymbol, type TradingSymbol } from './symbol.js';

/** One trade as the exchange reported it. */
export interface Tick {
  /** Upper-case symbol, e.g. `BTCUSDT`. */
  readonly symbol: TradingSymbol;
  /** The exchange's trade id, consecutive per symbol. */
  readonly tradeId: number;
  /** Price exactly as received, e.g. `"43250.01000000"`. */
  readonly price: DecimalString;
  /** Quantity exactly as received. */
  readonly quantity: DecimalString;
  /** The taker's side: `SELL` when the buyer is the maker. */
  readonly side: Side;
  readonly isBuyerMaker: boolean;
  /** Trade time, milliseconds since the epoch (Binance `T`). */
  readonly tradeTime: number;
  /** When this process received it, milliseconds since the epoch. */
  readonly receiveTime: number;
}

/** What {@link createTick} takes: a tick whose side is derived from `isBuyerMaker`. */
export interface TickInput {
  symbol: string;
  tradeId: number;
  price: string;
  quantity: string;
  isBuyerMaker: boolean;
  tradeTime: number;
  receiveTime?: number;
}

/**
 * Builds a validated, frozen {@link Tick}. Throws {@link InvalidInputError}
 * naming the first bad field.
 *
 * @example
 * ```ts
 * const tick = createTick({ symbol: 'btcusdt', tradeId: 1, price: '43250.01',
 *   quantity: '0.5', isBuyerMaker: true, tradeTime: Date.now() });
 * tick.side // 'SELL'
 * ```
 */
export function createTick(input: TickInput): Tick {
  const symbol = normalizeSymbol(input.symbol);
  if (!Number.isSafeInteger(input.tradeId) || input.tradeId < 0) {
    throw new InvalidInputError('tradeId', input.tradeId, 'a non-negative safe integer');
  }
  const price = positiveDecimal(input.price, 'price');
  const quantity = positiveDecimal(input.quantity, 'quantity');
  if (typeof input.isBuyerMaker !== 'boolean') {
    throw new InvalidInputError('isBuyerMaker', input.isBuyerMaker, 'a boolean');
  }
  const tradeTime = epochMillis(input.tradeTime, 'tradeTime');
  const receiveTime =
    input.receiveTime === undefined ? Date.now() : epochMillis(input.receiveTime, 'receiveTime');
  return Object.freeze({
    symbol,
    tradeId: input.tradeId,
    price,
    quantity,
    side: sideFromBuyerMaker(input.isBuyerMaker),
    isBuyerMaker: input.isBuyerMaker,
    tradeTime,
    receiveTime,
  });
}

function epochMillis(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError(field, value, 'milliseconds since the epoch');
  }
  return value;
}
