import type { DecimalString } from './decimal.js';

/** One price level of an order book: `[price, quantity]`, exact strings as the exchange wrote them. */
export type BookLevel = readonly [price: DecimalString, quantity: DecimalString];

/** The top of an order book at one update id: levels best first. */
export interface BookTop {
  readonly symbol: string;
  /** The book's update id (the last diff applied, or the snapshot's `lastUpdateId`). */
  readonly updateId: number;
  /** Highest price first. */
  readonly bids: readonly BookLevel[];
  /** Lowest price first. */
  readonly asks: readonly BookLevel[];
}
