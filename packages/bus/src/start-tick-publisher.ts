import { TickPublisher } from './tick-publisher.js';
import type { TickPublisherOptions } from './tick-publisher-options.js';

/**
 * Creates a {@link TickPublisher} and starts it: the packages' `startX`
 * idiom, released with `close()`. Options are checked here: a bad one
 * rejects with a `ConfigError` naming it. A spool left non-empty by an
 * earlier run is published before any tick offered now.
 *
 * @example
 * ```ts
 * const nc = await connect({ servers: 'nats://127.0.0.1:4222', maxReconnectAttempts: -1 });
 * await ensureTradeStream(await jetstreamManager(nc));
 * const spool = await openSpool('./data/bus-spool'); // a BusSpool, e.g. market-data's TickSpool
 * const publisher = await startTickPublisher({ nc, spool, metrics, logger });
 * publisher.offer(tick);
 * await publisher.close();
 * await spool.close();
 * await nc.drain();
 * ```
 */
export function startTickPublisher(options: TickPublisherOptions): Promise<TickPublisher> {
  // A bad option rejects rather than throws: the caller awaits either way.
  return Promise.resolve().then(() => {
    const publisher = new TickPublisher(options);
    publisher.start();
    return publisher;
  });
}
