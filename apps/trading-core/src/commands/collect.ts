import { join } from 'node:path';
import type { Tick } from '@trade/core';
import { lastTradeIds, startTickPublisher, type TickPublisher } from '@trade/bus';
import { openTickSpool } from '@trade/market-data';
import { startUptimeMonitor, type TradingMetrics } from '@trade/metrics';
import type { Logger } from 'pino';
import { openBookPublishing } from '../book-publishing.js';
import type { BusConfig } from '../bus-config.js';
import type { Channel } from '../channels.js';
import type { LiveConfig } from '../config.js';
import { exchangeEndpoints, startExchangeClient } from '../exchange-endpoints.js';
import { closeAll, type Resource } from '../resources.js';
import { listenOrExplain } from '../listen.js';
import { connectBus, openTradeStream } from '../nats.js';

// Publishes waiting for their ack at once: at 20k ticks/s and more, 256 left the
// collector waiting for acks (a round trip takes milliseconds when the host is
// busy), and a backlog goes to the spool.
const MAX_IN_FLIGHT = 1_024;

/** What `collect` needs from the CLI. */
export interface CollectOptions {
  readonly config: LiveConfig;
  readonly bus: BusConfig;
  /** What to publish per symbol (`CHANNELS` / `--channels`). */
  readonly channels: readonly Channel[];
  readonly metrics: TradingMetrics;
  readonly logger: Logger;
  readonly libraryLogger: Logger;
  /** Start the built-in simulator on loopback and stream from it. */
  readonly sim: boolean;
  readonly simRate: number | 'max';
  readonly stopSignal: Promise<void>;
}

/**
 * The collector of the bus: the exchange's streams -> JetStream, each tick
 * (and quote, and book snapshot: `CHANNELS`) with its `Nats-Msg-Id`, so any
 * number of collectors leave one copy.
 * Each symbol resumes after the last trade in the stream (or in this
 * collector's spool, `DATA_DIR/bus-spool`, when it is newer), the gap
 * backfilled over REST as in `live`. On stop: the exchange stream closes,
 * every tick received is published or spooled, exit 0 (1 when some could be
 * neither).
 */
export async function runCollect(options: CollectOptions): Promise<number> {
  const { config, bus: busConfig, metrics, logger, libraryLogger } = options;
  const resources: Resource[] = [];
  try {
    const uptime = startUptimeMonitor({ gauge: metrics.uptimeSeconds });
    resources.push({ name: 'uptime monitor', close: () => uptime.close() });
    const bus = await connectBus(busConfig, 'trading-core collect', logger);
    resources.push({ name: 'NATS connection', close: () => bus.close() });
    await openTradeStream(bus, busConfig.stream, logger, libraryLogger);
    const spoolDir = join(config.dataDir, 'bus-spool');
    const spool = await openTickSpool(spoolDir, {
      logger: libraryLogger.child({ component: 'bus-spool' }),
      onCorruptRecord: () => metrics.spoolCorruptRecords.inc(),
    });
    resources.push({ name: 'bus spool', close: () => spool.close() });

    // After the last trade in the stream, or in the spool (a crash during an outage).
    const resume = await lastTradeIds(bus.jsm, busConfig.stream, config.symbols);
    for (const [symbol, id] of spool.highestTradeIds()) {
      if (config.symbols.includes(symbol) && id > (resume.get(symbol) ?? -1))
        resume.set(symbol, id);
    }
    const endpoints = await exchangeEndpoints({
      config,
      sim: options.sim,
      simRate: options.simRate,
      resume: resume,
      logger,
      libraryLogger,
      resources,
    });
    const resumeFrom = options.sim ? {} : Object.fromEntries(resume);

    const publisher = await startTickPublisher({
      nc: bus.nc,
      spool,
      stream: busConfig.stream,
      maxInFlight: MAX_IN_FLIGHT,
      metrics,
      logger: libraryLogger.child({ component: 'bus' }),
    });
    resources.push({ name: 'publisher', close: () => publisher.close() });
    const books = await openBookPublishing({
      channels: options.channels,
      nc: bus.nc,
      stream: busConfig.stream,
      dataDir: config.dataDir,
      bookSnapshotMs: config.bookSnapshotMs,
      metrics,
      libraryLogger,
      resources,
    });
    const client = await startExchangeClient({
      config,
      endpoints,
      resumeFrom,
      channels: options.channels,
      metrics,
      libraryLogger,
      resources,
    });

    let connected = false;
    const server = await listenOrExplain(config.metrics, {
      registry: metrics.registry,
      ready: {
        exchange: () => ({ ok: connected, reason: 'not connected to the exchange' }),
        bus: () => {
          const health = publisher.health();
          const blocked = books.blocked();
          return {
            ok: health.connected && !health.blocked && blocked === undefined,
            reason: `bus: ${health.reason ?? blocked ?? (health.connected ? 'blocked' : 'not connected')}`,
          };
        },
      },
      onError: (error) =>
        logger.child({ component: 'metrics' }).error({ err: error }, 'metrics collection failed'),
    });
    resources.push({ name: 'metrics server', close: () => server.close() });
    logger.info(
      {
        symbols: config.symbols,
        channels: options.channels,
        exchange: endpoints.exchangeUrl,
        nats: busConfig.description,
        stream: busConfig.stream,
        spool: spoolDir,
        resumeFrom,
        metrics: `${server.url}/metrics`,
      },
      `metrics served on ${server.url}/metrics (listening on ${server.host}:${server.port})`,
    );

    const notTaken: Tick[] = [];
    let quotesNotTaken = 0;
    let stopping = false;
    const pump = (async () => {
      for await (const event of client) {
        if (event.type === 'tick') {
          if (!(await offer(publisher, event.tick, () => stopping))) notTaken.push(event.tick);
        } else if (event.type === 'quote') {
          if (!(await books.offerQuote(event.quote, () => stopping))) quotesNotTaken++;
        } else if (event.type === 'book') {
          books.onBook(event.book, event.receiveTime);
        } else if (event.type === 'connection') {
          connected = event.state === 'open' || event.state === 'rotating';
          logger.info({ shard: event.shard, reason: event.reason }, `exchange ${event.state}`);
        } else if (event.type === 'gap') {
          logger.child({ component: 'exchange' }).info(
            {
              symbol: event.symbol,
              fromId: event.fromId,
              toId: event.toId,
              missed: event.missed,
            },
            'gap in trade ids handled',
          );
        }
      }
    })();
    pump.catch((error: unknown) => logger.error({ err: error }, 'the tick pipeline stopped'));
    await Promise.race([options.stopSignal, pump]);
    logger.info('stopping: closing the exchange stream, then publishing or spooling every tick');
    stopping = true;
    await client.close();
    await pump.catch(() => undefined);
    const result = await publisher.close();
    const lost = result.lost.length + notTaken.length;
    if (lost > 0) {
      logger.error({ lost }, 'ticks could be neither published nor spooled');
    }
    const booksResult = await books.close();
    const lostBooks = booksResult.lost + quotesNotTaken;
    if (lostBooks > 0) {
      logger.error(
        { lost: lostBooks },
        'quotes or book snapshots could be neither published nor spooled',
      );
    }
    await closeAll(resources, logger);
    logger.info(
      {
        published: result.published,
        duplicates: result.duplicates,
        spooled: result.spooled,
        leftInSpool: result.leftInSpool,
        lost,
        quotesAndBooks: { leftInSpool: booksResult.leftInSpool, lost: lostBooks },
        readUpTo: client.positions(),
      },
      'stopped',
    );
    return lost > 0 || lostBooks > 0 ? 1 : 0;
  } finally {
    await closeAll(resources, logger);
  }
}

/** Offers a tick, waiting while the publisher holds too many; false when it refused it at stop. */
async function offer(publisher: TickPublisher, tick: Tick, stopping: () => boolean) {
  while (!publisher.offer(tick)) {
    if (stopping()) return false;
    await Promise.race([
      publisher.whenWritable(),
      new Promise((resolve) => setTimeout(resolve, 1_000).unref()),
    ]);
  }
  return true;
}
