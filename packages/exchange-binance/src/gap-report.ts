import type { Logger } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import type { BinanceClientEvent } from './client-events.js';
import type { GapOutcome } from './gap-filler.js';

/**
 * Tells about a gap's outcome, whoever ended it (the backfill, or the
 * sequencer's `maxHeldTrades` bound): missed ids in {@link tradesMissed},
 * `trading_ticks_unrecovered_total` and an error log; a `gap` event when
 * anything was recovered or missed.
 */
export class GapReport {
  /** Trade ids given up since start. */
  tradesMissed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly metrics: TradingMetrics | undefined,
    private readonly emit: (event: BinanceClientEvent) => void,
  ) {}

  /** `bannedUntil` is set when the gap was given up for a REST ban (418). */
  report(symbol: string, gap: GapOutcome, bannedUntil?: number): void {
    const { fromId, toId, recovered, missed } = gap;
    if (missed > 0) {
      this.tradesMissed += missed;
      this.metrics?.ticksUnrecovered.inc(missed);
      this.metrics?.errors.inc({ component: 'exchange' });
      if (bannedUntil === undefined) {
        this.logger.error(
          { symbol, fromId, toId, missed },
          'binance: trades could not be recovered',
        );
      } else {
        const until = new Date(bannedUntil).toISOString();
        this.logger.error(
          { symbol, fromId, toId, missed, bannedUntil: until },
          `binance: trades could not be recovered: the IP is banned from REST (HTTP 418) until ${until}`,
        );
      }
    } else if (recovered > 0) {
      this.logger.info({ symbol, fromId, toId, recovered }, 'binance: gap filled over REST');
    }
    if (recovered > 0 || missed > 0) {
      this.emit({ type: 'gap', symbol, fromId, toId, recovered, missed });
    }
  }
}
