import { Backoff, type BackoffOptions, type Logger } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import type { Progress } from './progress.js';
import type { BusRecordSpool, SpoolFeeder } from './spool-feeder.js';

/** Options of {@link SpoolReplayer}. */
export interface SpoolReplayerOptions<T> {
  spool: BusRecordSpool<T>;
  /** The records on their way into the spool: an append under way is waited for. */
  feeder: Pick<SpoolFeeder<T>, 'busy' | 'settled'>;
  /** Delays between attempts JetStream refused. */
  retry: BackoffOptions;
  /** Told when an attempt should not wait: the connection came back, or closing. */
  alarm: Progress;
  logger: Logger;
  metrics?: TradingMetrics | undefined;
  /** Publishes one batch; true once every record of it is acked. */
  publish: (records: readonly T[]) => Promise<boolean>;
  /** Whether to go on: still spooling and not closing. */
  active: () => boolean;
  connected: () => boolean;
  /** The spool is empty and no append is under way: publishing may be direct again. */
  onEmpty: () => void;
  /** The last publish error, for the log. */
  lastError: () => string | undefined;
}

/**
 * The replay loop of a publisher: publishes the spool's batches in order,
 * acknowledging each to the spool once all of it is acked by JetStream,
 * and retrying a batch with a growing delay while JetStream refuses (at
 * once when the connection comes back). Ends when the spool is empty,
 * telling `onEmpty`, or when `active()` turns false.
 *
 * @example
 * ```ts
 * const replayer = new SpoolReplayer({ spool, feeder, retry, alarm, logger, publish, active, connected, onEmpty, lastError });
 * await replayer.run();
 * ```
 */
export class SpoolReplayer<T> {
  readonly #o: SpoolReplayerOptions<T>;
  #replayed = 0;

  constructor(options: SpoolReplayerOptions<T>) {
    this.#o = options;
  }

  /** Records published from the spool so far. */
  get replayed(): number {
    return this.#replayed;
  }

  async run(): Promise<void> {
    const o = this.#o;
    const backoff = new Backoff(o.retry);
    while (o.active()) {
      if (!o.connected()) {
        await o.alarm.next();
        continue;
      }
      try {
        const ticks = await o.spool.next();
        if (!o.active()) return;
        if (ticks === undefined) {
          // An append under way puts a batch in the spool: it goes before the rest.
          if (o.feeder.busy) await o.feeder.settled();
          else o.onEmpty();
          continue;
        }
        if (await o.publish(ticks)) {
          await o.spool.ack();
          this.#replayed += ticks.length;
          backoff.reset();
          continue;
        }
        if (backoff.attempt % 10 === 0) {
          o.logger.warn(
            { error: o.lastError(), spooled: o.spool.rowCount, attempt: backoff.attempt + 1 },
            'bus: replaying the spool failed; retrying',
          );
        }
      } catch (error) {
        o.logger.error({ err: error }, 'bus: reading the spool failed; retrying');
        o.metrics?.errors.inc({ component: 'bus' });
      }
      await o.alarm.next(backoff.next());
    }
  }
}
