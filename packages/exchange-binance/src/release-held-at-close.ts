import type { Logger, TickRejectReason } from '@trade/core';
import type { BinanceClientEvent, OpenGap } from './client-events.js';
import type { SymbolSequencer } from './symbol-sequencer.js';

/** A followed symbol whose held ticks are released at close. */
export interface HeldSymbol {
  readonly symbol: string;
  readonly sequencer: SymbolSequencer;
}

/** What {@link releaseHeldAtClose} tells the client closing. */
export interface ReleaseHooks {
  readonly logger: Logger;
  reject(reason: TickRejectReason, detail: string): void;
  /** A `gap-open` event, pushed before the ticks released after it. */
  emit(event: BinanceClientEvent): void;
}

/**
 * Nothing will fill the gaps now: the ticks behind them go to the consumer
 * (so they are stored) and the gaps are reported instead of the ticks being lost.
 * Returns the gaps left open, every symbol's in order.
 */
export function releaseHeldAtClose(slots: Iterable<HeldSymbol>, hooks: ReleaseHooks): OpenGap[] {
  const gaps: OpenGap[] = [];
  for (const slot of slots) {
    const seq = slot.sequencer;
    for (const tick of seq.dropUnconfirmed()) {
      hooks.reject(
        'ahead_of_exchange',
        `${slot.symbol} ${tick.tradeId}: not confirmed by the exchange before close`,
      );
    }
    if (!seq.hasGap) continue;
    const ranges = seq.missingRanges();
    for (const range of ranges) {
      gaps.push({ symbol: slot.symbol, ...range });
      hooks.emit({ type: 'gap-open', symbol: slot.symbol, ...range });
    }
    const held = seq.held;
    seq.releaseHeld();
    hooks.logger.warn(
      { symbol: slot.symbol, gaps: ranges, delivered: held },
      'binance: closing with gaps REST has not filled: the ticks after them are delivered, the gaps reported (openGaps())',
    );
  }
  return gaps;
}
