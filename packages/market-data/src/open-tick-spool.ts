import type { Logger } from '@trade/core';
import { TickSpool } from './tick-spool.js';

/** Options of {@link openTickSpool}. */
export interface OpenTickSpoolOptions {
  /** Size at which a segment file is sealed and the next one started. Default 8 MiB. */
  segmentBytes?: number;
  logger?: Logger;
  /** Told of each damaged record met on replay (it is quarantined and skipped). */
  onCorruptRecord?: () => void;
}

/**
 * Opens (creating it if needed) a durable tick spool in `dir`, for a
 * component other than the market-data service that must keep ticks on disk
 * in order: e.g. the spool of `@trade/bus`'s publisher. Batches left by an
 * earlier run are kept for replay. `append(ticks)` resolves once the batch
 * is fsync'd; `next()` gives the oldest batch not yet acknowledged, `ack()`
 * acknowledges it; `highestTradeIds()` says where each symbol's ticks in it
 * end; `close()` releases it. One process per directory, and never the
 * directory of a market-data service's spool.
 *
 * @example
 * ```ts
 * const spool = await openTickSpool('./data/bus-spool', { logger });
 * const publisher = await startTickPublisher({ nc, spool, metrics });
 * // on stop:
 * await publisher.close();
 * await spool.close();
 * ```
 */
export function openTickSpool(dir: string, options: OpenTickSpoolOptions = {}): Promise<TickSpool> {
  return TickSpool.open(dir, {
    ...(options.segmentBytes !== undefined ? { segmentBytes: options.segmentBytes } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.onCorruptRecord ? { onCorruptRecord: () => options.onCorruptRecord?.() } : {}),
  });
}
