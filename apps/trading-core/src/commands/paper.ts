import { startTickConsumer, tradeSubject } from '@trade/bus';
import { startUptimeMonitor, type TradingMetrics } from '@trade/metrics';
import { startPaperEngine } from '@trade/paper-engine';
import type { Logger } from 'pino';
import { openStorageAndCache } from '../ingest.js';
import { listenOrExplain } from '../listen.js';
import { startBookConsumers } from '../book-consumers.js';
import { ExchangeRulesCache } from '../exchange-rules-cache.js';
import { connectBus, openTradeStream } from '../nats.js';
import type { PaperConfig } from '../paper-config.js';
import { PaperFeed } from '../paper-feed.js';
import { closeAll, type Resource } from '../resources.js';

// One progress line at most this often while ticks flow.
const PROGRESS_EVERY_MS = 10_000;

/** What `paper` needs from the CLI. */
export interface PaperOptions {
  readonly config: PaperConfig;
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
 * The paper trader of the bus: its own durable consumer (`paper-<strategy>`)
 * -> the paper engine -> `paper_trades` (PostgreSQL, or PGlite under
 * DATA_DIR). A new consumer starts at the messages published from then on,
 * not the stream's history; a restarted one continues where it stopped. On
 * stop: the batch in hand is traded and acked, the engine writes every
 * buffered fill, clients close. Resolves with the exit code: 1 when fills
 * could not be written at stop, 0 otherwise.
 */
export async function runPaper(options: PaperOptions): Promise<number> {
  const { config, metrics, logger, libraryLogger } = options;
  const { bus: busConfig, strategy, symbols } = config;
  const resources: Resource[] = [];
  try {
    const uptime = startUptimeMonitor({ gauge: metrics.uptimeSeconds });
    resources.push({ name: 'uptime monitor', close: () => uptime.close() });

    const bus = await connectBus(busConfig, 'trading-core paper', logger);
    resources.push({ name: 'NATS connection', close: () => bus.close() });
    await openTradeStream(bus, busConfig.stream, logger, libraryLogger);

    const { storage, cache } = await openStorageAndCache({
      config,
      metrics,
      libraryLogger,
      resources,
      stopRequested: options.stopRequested,
    });

    let fills = 0;
    const warmUp = symbols ?? [];
    const rules = new ExchangeRulesCache(config.restUrl, logger, storage.symbolRules);
    if (symbols) await rules.ensure(symbols);
    const engine = await startPaperEngine({
      strategy,
      rules: (symbol) => rules.get(symbol),
      metrics,
      recentTicks: cache.cache,
      fillWriter: storage.paperTrades,
      logger: libraryLogger.child({ component: 'paper-engine' }),
      warmUp,
      onFill: () => (fills += 1),
    });
    // Closed once: at stop, where a failure sets the exit code, or by closeAll after an error.
    let engineClosed: Promise<void> | undefined;
    const closeEngine = () => (engineClosed ??= engine.close());
    resources.push({
      name: 'paper engine',
      close: () => (engineClosed ? Promise.resolve() : closeEngine()),
    });
    const feed = new PaperFeed(engine, symbols, warmUp);

    // nats-server 2.9 takes one filter subject per consumer: one symbol's, or every trade.
    const only = symbols?.length === 1 ? symbols[0] : undefined;
    const consumer = await startTickConsumer({
      nc: bus.nc,
      stream: busConfig.stream,
      consumer: busConfig.consumer,
      ...(only === undefined ? {} : { filterSubject: tradeSubject(only) }),
      deliverPolicy: 'new',
      // A symbol first seen on the bus has its rules read before it is traded.
      handler: async (ticks) => {
        await rules.ensure(ticks.map((tick) => tick.symbol));
        return feed.take(ticks);
      },
      metrics,
      logger: libraryLogger.child({ component: 'bus' }),
    });
    resources.push({ name: 'consumer', close: () => consumer.close() });
    // Quotes and books, for fills at the touch or through the book: consumers of their
    // own, so their order against the ticks is the order they arrive in, not the stream's.
    const wanted = symbols === undefined ? undefined : new Set<string>(symbols);
    const market = await startBookConsumers({
      nc: bus.nc,
      stream: busConfig.stream,
      consumer: busConfig.consumer,
      deliverPolicy: 'new',
      handlers: {
        quotes: (quotes) => {
          for (const quote of quotes)
            if (!wanted || wanted.has(quote.symbol)) engine.onQuote(quote);
          return Promise.resolve();
        },
        books: (books) => {
          for (const { top } of books) if (!wanted || wanted.has(top.symbol)) engine.onBook(top);
          return Promise.resolve();
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
      },
      onError: (error) =>
        logger.child({ component: 'metrics' }).error({ err: error }, 'metrics collection failed'),
    });
    resources.push({ name: 'metrics server', close: () => server.close() });
    logger.info(
      {
        nats: busConfig.description,
        database: storage.description,
        cache: cache.description,
        metrics: `${server.url}/metrics`,
      },
      `metrics served on ${server.url}/metrics (listening on ${server.host}:${server.port})`,
    );
    logger.info(
      {
        stream: busConfig.stream,
        consumer: consumer.name,
        quoteAndBookConsumers: market.names,
        strategy: strategy.name,
        strategyOptions: strategy.options,
        symbols: symbols ?? 'all',
        pending: consumer.stats().pending,
      },
      `paper trading ${strategy.name} on stream ${busConfig.stream} as consumer ${consumer.name}`,
    );

    let reported = 0;
    const progress = setInterval(() => {
      const stats = consumer.stats();
      if (stats.ticks === reported) return;
      reported = stats.ticks;
      logger.info({ consumer: consumer.name, ...stats, ...feed.stats(), fills }, 'paper trading');
    }, PROGRESS_EVERY_MS);
    progress.unref();
    resources.push({ name: 'progress log', close: () => Promise.resolve(clearInterval(progress)) });

    await options.stopSignal;
    logger.info('stopping: trading the batch in hand, then writing every fill');
    const consumed = await consumer.close();
    await market.close();
    let written = true;
    try {
      await closeEngine();
    } catch (error) {
      written = false;
      logger.error(
        { err: error, fills: engine.state().pendingFills },
        'paper fills could not be written to paper_trades at stop; they are lost',
      );
    }
    await closeAll(resources, logger);
    logger.info(
      {
        consumer: consumer.name,
        strategy: strategy.name,
        ticks: consumed.ticks,
        ...feed.stats(),
        fills,
        returned: consumed.returned,
      },
      'stopped',
    );
    return written ? 0 : 1;
  } finally {
    await closeAll(resources, logger);
  }
}
