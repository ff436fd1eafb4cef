import type { Tick } from '@trade/core';
import { startTickConsumer } from '@trade/bus';
import type { MarketDataService } from '@trade/market-data';
import { startUptimeMonitor, type TradingMetrics } from '@trade/metrics';
import type { Logger } from 'pino';
import { startBookConsumers } from '../book-consumers.js';
import type { StoreConfig } from '../bus-config.js';
import { openIngest } from '../ingest.js';
import { closeAll, type Resource } from '../resources.js';
import { listenOrExplain } from '../listen.js';
import { connectBus, openTradeStream } from '../nats.js';

// One progress line at most this often while batches flow.
const PROGRESS_EVERY_MS = 10_000;
// A batch is one batch of the market-data service (5,000 ticks, one insert),
// so that under load the writer commits as large batches as `live` does; at a
// lower rate it goes after 50 ms (`live` flushes every 100 ms).
const BATCH_TICKS = 5_000;
const BATCH_WAIT_MS = 50;
// Unacked messages the consumer may hold (when this writer creates it): the
// batch being stored, the next one decoded meanwhile, the client's read-ahead
// and the acks going out.
const MAX_ACK_PENDING = 4 * BATCH_TICKS;

/** What `store` needs from the CLI. */
export interface StoreOptions {
  readonly config: StoreConfig;
  readonly metrics: TradingMetrics;
  readonly logger: Logger;
  /** Handed to the libraries: it logs without counting, since they count their own errors. */
  readonly libraryLogger: Logger;
  /** Resolves when the process is asked to stop. */
  readonly stopSignal: Promise<void>;
  /** Aborted at the same moment: start-up steps that wait give up. */
  readonly stopRequested?: AbortSignal;
}

/**
 * The writer of the bus: the durable consumer `NATS_CONSUMER` -> the
 * market-data service (PostgreSQL, the spool under DATA_DIR, the cache). A
 * batch is acked only once every tick of it is committed or spooled. On
 * stop: the batch in hand finishes and is acked, the rest goes back to
 * JetStream for the other writers, the service flushes, clients close.
 * Resolves with the exit code.
 */
export async function runStore(options: StoreOptions): Promise<number> {
  const { config, metrics, logger, libraryLogger } = options;
  const resources: Resource[] = [];
  try {
    const uptime = startUptimeMonitor({ gauge: metrics.uptimeSeconds });
    resources.push({ name: 'uptime monitor', close: () => uptime.close() });

    const bus = await connectBus(config.bus, 'trading-core store', logger);
    resources.push({ name: 'NATS connection', close: () => bus.close() });
    await openTradeStream(bus, config.bus.stream, logger, libraryLogger);

    const { storage, cache, service } = await openIngest({
      config,
      metrics,
      libraryLogger,
      resources,
      stopRequested: options.stopRequested,
    });
    let serviceClosed = false;
    let stopping = false;
    void options.stopSignal.then(() => (stopping = true));
    resources.push({
      name: 'market-data service',
      close: () => ((serviceClosed = true), service.close()),
    });

    const consumer = await startTickConsumer({
      nc: bus.nc,
      stream: config.bus.stream,
      consumer: config.bus.consumer,
      batchSize: BATCH_TICKS,
      maxWaitMs: BATCH_WAIT_MS,
      maxAckPending: MAX_ACK_PENDING,
      handler: (ticks) =>
        storeBatch(service, ticks, () =>
          serviceClosed
            ? 'the market-data service is closing'
            : stopping && service.health().blocked
              ? 'stopping while neither the database nor the disk takes ticks'
              : undefined,
        ),
      metrics,
      logger: libraryLogger.child({ component: 'bus' }),
    });
    resources.push({ name: 'consumer', close: () => consumer.close() });
    // Quotes and book snapshots go straight to their tables: a batch the database
    // does not take is nak'ed, and JetStream keeps it until it does.
    const bookWriters = await startBookConsumers({
      nc: bus.nc,
      stream: config.bus.stream,
      consumer: config.bus.consumer,
      handlers: {
        quotes: async (quotes) => {
          const { rejected } = await storage.quotes.insert(quotes);
          if (rejected.length > 0) {
            logger.error({ rejected: rejected.slice(0, 10) }, 'quotes the database refused');
          }
        },
        books: async (snapshots) => {
          const { rejected } = await storage.bookSnapshots.insert(snapshots);
          if (rejected.length > 0) {
            logger.error(
              { rejected: rejected.slice(0, 10).map((r) => r.reason) },
              'book snapshots the database refused',
            );
          }
        },
      },
      metrics,
      logger: libraryLogger.child({ component: 'bus' }),
      resources,
    });

    const server = await listenOrExplain(config.metrics, {
      registry: metrics.registry,
      ready: {
        bus: async () => {
          await bus.ping();
          return true;
        },
        database: async () => {
          await storage.ping();
          return true;
        },
        ingest: () => {
          const health = service.health();
          return { ok: !health.blocked, reason: `ingest blocked: ${health.reason ?? ''}` };
        },
      },
      onError: (error) =>
        logger.child({ component: 'metrics' }).error({ err: error }, 'metrics collection failed'),
    });
    resources.push({ name: 'metrics server', close: () => server.close() });
    logger.info(
      {
        nats: config.bus.description,
        stream: config.bus.stream,
        consumer: consumer.name,
        quoteAndBookConsumers: bookWriters.names,
        database: storage.description,
        cache: cache.description,
        metrics: `${server.url}/metrics`,
      },
      `metrics served on ${server.url}/metrics (listening on ${server.host}:${server.port})`,
    );
    logger.info(
      { stream: config.bus.stream, consumer: consumer.name, pending: consumer.stats().pending },
      `storing ticks from stream ${config.bus.stream} as consumer ${consumer.name}`,
    );

    let reported = 0;
    const progress = setInterval(() => {
      const stats = consumer.stats();
      if (stats.ticks === reported) return;
      reported = stats.ticks;
      logger.info({ consumer: consumer.name, ...stats }, 'storing');
    }, PROGRESS_EVERY_MS);
    progress.unref();
    resources.push({ name: 'progress log', close: () => Promise.resolve(clearInterval(progress)) });

    await options.stopSignal;
    logger.info('stopping: finishing the batch in hand, then flushing every tick');
    const consumed = await consumer.close();
    await bookWriters.close();
    serviceClosed = true;
    const { lostTicks, lost } = await service.close();
    if (lostTicks > 0) {
      // Only after a batch given up at stop: its messages were not acked, so JetStream
      // delivers them again to a writer; the exit code still says this one failed.
      logger.error(
        { lostTicks, lost: lost.slice(0, 20) },
        'ticks could be neither stored nor spooled; their messages were not acked and will be delivered again',
      );
    }
    await closeAll(resources, logger);
    const stats = service.stats();
    logger.info(
      { consumer: consumer.name, ...consumed, stored: stats.stored, spooled: stats.spooled },
      'stopped',
    );
    return lostTicks > 0 ? 1 : 0;
  } finally {
    await closeAll(resources, logger);
  }
}

/**
 * Offers a batch, waiting while the service has no room, and resolves once
 * every tick of it is committed or in the spool: then the consumer acks it.
 * Rejects (the batch is not acked; JetStream delivers it again, to this
 * writer or another) when `giveUp` names a reason: the service is closing,
 * or a stop was asked for while neither the database nor the disk takes
 * ticks, which would otherwise hold the stop until one of them returns.
 */
async function storeBatch(
  service: MarketDataService,
  ticks: readonly Tick[],
  giveUp: () => string | undefined,
): Promise<void> {
  for (const tick of ticks) {
    while (!service.offer(tick)) await watch(service.whenWritable(), giveUp);
  }
  const flushed = service.flush();
  flushed.catch(() => undefined);
  await watch(flushed, giveUp);
  // A flush cut short by close: whether the ticks are safe is not known here.
  const reason = giveUp();
  if (reason !== undefined) throw new Error(`batch not acked: ${reason}`);
}

// How often a wait for the service looks whether to give up.
const GIVE_UP_CHECK_MS = 500;

/** Waits for `work`, looking every half second whether to give up instead. */
async function watch(work: Promise<void>, giveUp: () => string | undefined): Promise<void> {
  for (;;) {
    const reason = giveUp();
    if (reason !== undefined) throw new Error(`batch not acked: ${reason}`);
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      work.then(() => true),
      new Promise<boolean>(
        (resolve) => (timer = setTimeout(() => resolve(false), GIVE_UP_CHECK_MS)),
      ),
    ]);
    clearTimeout(timer);
    if (done) return;
  }
}
