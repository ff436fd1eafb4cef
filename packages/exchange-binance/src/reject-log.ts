import type { Logger, TickRejectReason } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';

/**
 * Counts rejected frames and REST rows per reason (`trading_ticks_rejected_total`)
 * and logs them at most once per interval per reason, with how many were
 * not logged since: a hostile stream must not flood the log.
 */
export class RejectLog {
  /** Rejections per reason since start. */
  readonly counts: Partial<Record<TickRejectReason, number>> = {};
  private readonly logged = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly metrics: TradingMetrics | undefined,
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {}

  reject(reason: TickRejectReason, detail: string): void {
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
    this.metrics?.ticksRejected.inc({ reason });
    const at = this.now();
    const entry = this.logged.get(reason);
    if (entry === undefined || at - entry.at >= this.intervalMs) {
      this.logger.warn(
        { reason, detail, suppressed: entry?.suppressed ?? 0 },
        'binance: frame rejected',
      );
      this.logged.set(reason, { at, suppressed: 0 });
    } else {
      entry.suppressed++;
    }
  }
}
