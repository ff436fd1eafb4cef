import type { TradingMetrics } from '@trade/metrics';
import type { PublishOutcome } from './publish-window.js';

/**
 * What a publisher's publishes came to: acks of new messages, acks that
 * said duplicate, failures by reason, kept here and in
 * `trading_bus_published_total`, `trading_bus_duplicates_total` and
 * `trading_bus_publish_failures_total`.
 *
 * @example
 * ```ts
 * const counters = new PublishCounters('trade', (tick: Tick) => tick.symbol, metrics);
 * counters.count(tick, { ok: true, duplicate: false });
 * counters.published // 1
 * ```
 */
export class PublishCounters<T> {
  readonly #channel: string;
  readonly #symbolOf: (record: T) => string;
  readonly #metrics: TradingMetrics | undefined;
  published = 0;
  duplicates = 0;
  failures = 0;
  /** The last failure, `<reason>: <message>`. */
  lastError: string | undefined;

  constructor(
    channel: string,
    symbolOf: (record: T) => string,
    metrics: TradingMetrics | undefined,
  ) {
    this.#channel = channel;
    this.#symbolOf = symbolOf;
    this.#metrics = metrics;
  }

  count(record: T, outcome: PublishOutcome): void {
    if (outcome.ok) {
      const labels = { channel: this.#channel, symbol: this.#symbolOf(record) };
      if (outcome.duplicate) {
        this.duplicates += 1;
        this.#metrics?.busDuplicates.inc(labels);
      } else {
        this.published += 1;
        this.#metrics?.busPublished.inc(labels);
      }
      return;
    }
    this.failures += 1;
    const { error } = outcome;
    this.lastError = `${outcome.reason}: ${error instanceof Error ? error.message : String(error)}`;
    this.#metrics?.busPublishFailures.inc({ reason: outcome.reason });
  }
}
