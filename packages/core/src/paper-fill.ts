import type { DecimalString } from './decimal.js';
import type { Side } from './side.js';

/**
 * One simulated fill of the paper engine: a row of `paper_trades`. Amounts
 * are decimal strings so the trade log stores exactly what the engine computed.
 */
export interface PaperFill {
  /** Name of the strategy that asked for it, e.g. `sma`. */
  readonly strategy: string;
  readonly symbol: string;
  readonly side: Side;
  /** Execution price after slippage. */
  readonly price: DecimalString;
  readonly quantity: DecimalString;
  /** Fee charged in the quote currency. */
  readonly fee: DecimalString;
  /** Portfolio cash right after the fill. */
  readonly cashAfter: DecimalString;
  /** Position in `symbol` right after the fill. */
  readonly positionAfter: DecimalString;
  /** Time of the tick that triggered it, milliseconds since the epoch. */
  readonly timestamp: number;
}

/** Where fills are written; the market-data package stores them in `paper_trades`. */
export interface PaperFillWriter {
  write(fills: readonly PaperFill[]): Promise<void>;
}
