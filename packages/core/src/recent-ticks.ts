import type { Tick } from './tick.js';

/**
 * Read access to the most recent ticks of a symbol, newest first. The
 * market-data TickCache implements it; the paper engine reads through it.
 */
export interface RecentTicks {
  recent(symbol: string, count: number): Promise<readonly Tick[]>;
}
