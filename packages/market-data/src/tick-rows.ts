import { isPositiveDecimalString, isSide, sideFromBuyerMaker, type Tick } from '@trade/core';

/** What a stored symbol looks like: safe in an array literal as it is. */
export const SYMBOL = /^[A-Z0-9]{2,30}$/;
/** Latest instant PostgreSQL's timestamptz holds comfortably (year 9999), in ms. */
export const MAX_EPOCH_MS = 253_402_300_799_999;

/**
 * Why a tick cannot be stored, or `undefined` when it can. The checks are
 * what makes the array literals of {@link tickArrays} safe to build by
 * joining: no value can contain a comma, brace, quote or backslash.
 */
export function tickProblem(tick: Tick): string | undefined {
  if (typeof tick.symbol !== 'string' || !SYMBOL.test(tick.symbol)) return 'symbol';
  if (!Number.isSafeInteger(tick.tradeId) || tick.tradeId < 0) return 'tradeId';
  if (!isPositiveDecimalString(tick.price)) return 'price';
  if (!isPositiveDecimalString(tick.quantity)) return 'quantity';
  if (typeof tick.isBuyerMaker !== 'boolean') return 'isBuyerMaker';
  if (!isSide(tick.side) || tick.side !== sideFromBuyerMaker(tick.isBuyerMaker)) return 'side';
  if (
    !Number.isSafeInteger(tick.tradeTime) ||
    tick.tradeTime < 0 ||
    tick.tradeTime > MAX_EPOCH_MS
  ) {
    return 'tradeTime';
  }
  return undefined;
}

/**
 * The columns of `tick_data` as PostgreSQL array literals (`{a,b,c}`), one
 * text parameter each: building them by hand is several times faster than
 * letting the driver quote every element. `side` is left out: the statement
 * derives it from `is_buyer_maker`, which {@link tickProblem} has checked it
 * agrees with, and the database parses one array less. Trade times go as
 * offsets from the first tick's, the last parameter: a few digits a row
 * instead of thirteen. Only for ticks that passed {@link tickProblem}.
 */
export function tickArrays(ticks: readonly Tick[]): string[] {
  const n = ticks.length;
  const base = n > 0 ? ticks[0]!.tradeTime : 0;
  const symbols = new Array<string>(n);
  const ids = new Array<number>(n);
  const prices = new Array<string>(n);
  const quantities = new Array<string>(n);
  const makers = new Array<string>(n);
  const times = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const tick = ticks[i]!;
    symbols[i] = tick.symbol;
    ids[i] = tick.tradeId;
    prices[i] = tick.price;
    quantities[i] = tick.quantity;
    makers[i] = tick.isBuyerMaker ? 't' : 'f';
    times[i] = tick.tradeTime - base;
  }
  const columns = [symbols, ids, prices, quantities, makers, times].map(
    (column) => `{${column.join(',')}}`,
  );
  columns.push(String(base));
  return columns;
}

/**
 * `ticks` in key order, symbol then trade id, each (symbol, trade id) once:
 * the first occurrence is kept, as `ON CONFLICT DO NOTHING` would keep it.
 * Rows in key order reach each index leaf page in one run instead of
 * alternating between symbols, and a batch free of repeats can go in with
 * a plain `INSERT`. Linear when each symbol's ids already ascend, as the
 * exchange sends them.
 */
export function inKeyOrder(ticks: readonly Tick[]): Tick[] {
  const bySymbol = new Map<string, Tick[]>();
  for (const tick of ticks) {
    const list = bySymbol.get(tick.symbol);
    if (list) list.push(tick);
    else bySymbol.set(tick.symbol, [tick]);
  }
  // Code-unit order: the order of the column's "C" collation for these symbols.
  const symbols = [...bySymbol.keys()].sort();
  const ordered: Tick[] = [];
  for (const symbol of symbols) {
    const list = bySymbol.get(symbol)!;
    if (!idsAscend(list)) list.sort((a, b) => a.tradeId - b.tradeId); // stable: first stays first
    let previous = Number.NaN;
    for (const tick of list) {
      if (tick.tradeId !== previous) ordered.push(tick);
      previous = tick.tradeId;
    }
  }
  return ordered;
}

function idsAscend(ticks: readonly Tick[]): boolean {
  for (let i = 1; i < ticks.length; i++)
    if (ticks[i]!.tradeId < ticks[i - 1]!.tradeId) return false;
  return true;
}

/** A `text[]` literal of arbitrary strings, each quoted and escaped. */
export function textArrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

/** The fields of a tick in a fixed order: the spool's record shape. */
export type TickTuple = [
  symbol: string,
  tradeId: number,
  price: string,
  quantity: string,
  side: string,
  isBuyerMaker: boolean,
  tradeTime: number,
  receiveTime: number,
];

export function toTuple(t: Tick): TickTuple {
  return [
    t.symbol,
    t.tradeId,
    t.price,
    t.quantity,
    t.side,
    t.isBuyerMaker,
    t.tradeTime,
    t.receiveTime,
  ];
}

export function fromTuple(t: TickTuple): Tick {
  return {
    symbol: t[0],
    tradeId: t[1],
    price: t[2],
    quantity: t[3],
    side: t[4] as Tick['side'],
    isBuyerMaker: t[5],
    tradeTime: t[6],
    receiveTime: t[7],
  };
}
