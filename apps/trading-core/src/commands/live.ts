import type { Tick } from '@trade/core';
import { DAY_MS, dayOf, lostRanges, type LostTickRange } from '@trade/market-data';
import { startUptimeMonitor, type MetricsServer, type TradingMetrics } from '@trade/metrics';
import { startPaperEngine, type PaperEngine } from '@trade/paper-engine';
import type { Logger } from 'pino';
import { openBookRecording } from '../book-recording.js';
import {
  clearPendingCandleSpans,
  loadPendingCandleSpans,
  savePendingCandleSpans,
  widenSpan,
  type CandleSpans,
} from '../candle-spans-file.js';
import type { Channel } from '../channels.js';
import type { LiveConfig } from '../config.js';
import type { Storage } from '../storage.js';
import { ExchangeRulesCache } from '../exchange-rules-cache.js';
import { gapReadiness } from '../gap-readiness.js';
import { openIngest } from '../ingest.js';
import { exchangeEndpoints, startExchangeClient } from '../exchange-endpoints.js';
import { closeAll, type Resource } from '../resources.js';
import { listenOrExplain } from '../listen.js';
import { loadOpenGaps, resumeBeforeGaps, saveOpenGaps } from '../open-gaps-file.js';
import { loadStrategy } from '../strategy-loader.js';

// A batch of 5,000 rows takes ~20 ms; one taking this long is retried or spooled.

/** What `live` needs from the CLI. */
export interface LiveOptions {
  readonly config: LiveConfig;
  readonly metrics: TradingMetrics;
  readonly logger: Logger;
  /** Handed to the libraries: it logs without counting, since they count their own errors. */
  readonly libraryLogger: Logger;
  /** What to stream per symbol (`CHANNELS` / `--channels`). */
  readonly channels: readonly Channel[];
  /** Run the strategy on the stream. */
  readonly paperTrading: boolean;
  /** A built-in name or the path of a strategy module. */
  readonly strategy: string;
  /** `--strategy-options`: `key=value,...`. */
  readonly strategyOptions?: string | undefined;
  /** Start the built-in simulator on loopback and stream from it. */
  readonly sim: boolean;
  /** Trades per second per symbol of the built-in simulator. */
  readonly simRate: number | 'max';
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM/SIGHUP...). */
  readonly stopSignal: Promise<void>;
  /** Aborted at the same moment: start-up steps that wait give up. */
  readonly stopRequested?: AbortSignal;
}

/**
 * The whole pipeline: exchange stream -> market-data service (PostgreSQL or
 * PGlite, spool, cache) -> paper engine, with the exporter on the side. On
 * stop: stop reading, flush every tick, close clients. Resolves with the
 * exit code: 1 when some ticks could be neither stored nor spooled (they are
 * logged per symbol and id range, and recorded for the next start to fetch
 * again), 0 otherwise.
 */
export async function runLive(options: LiveOptions): Promise<number> {
  const { config, metrics, logger, libraryLogger } = options;
  const strategy = options.paperTrading
    ? await loadStrategy(options.strategy, options.strategyOptions, '--strategy', config.symbols[0])
    : undefined;
  const resources: Resource[] = [];

  try {
    const uptime = startUptimeMonitor({ gauge: metrics.uptimeSeconds });
    resources.push({ name: 'uptime monitor', close: () => uptime.close() });

    const { storage, cache, service } = await openIngest({
      config,
      metrics,
      libraryLogger,
      resources,
      stopRequested: options.stopRequested,
    });
    resources.push({ name: 'market-data service', close: () => service.close() });
    const recording = await openBookRecording({
      channels: options.channels,
      storage,
      dataDir: config.dataDir,
      bookSnapshotMs: config.bookSnapshotMs,
      logger: libraryLogger,
      resources,
    });
    // Ticks read from the exchange that the service could not take at stop (it was blocked).
    const notTaken: Tick[] = [];
    // The trade times each symbol's ticks of this run span: their minutes get true candles at
    // stop, with those an earlier run left pending (its ticks were still in the spool).
    const spans = await loadPendingCandleSpans(config.dataDir, logger);
    let stopping = false;
    let wake: (() => void) | undefined;
    const offer = async (tick: Tick): Promise<void> => {
      while (!service.offer(tick)) {
        // Blocked at stop: nothing will take the tick; it is lost and recorded as such.
        if (stopping && service.health().blocked) {
          notTaken.push(tick);
          return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          void service.whenWritable().then(resolve);
          // Stopping: look again each second whether the service has become blocked.
          if (stopping) setTimeout(resolve, 1_000);
        });
        wake = undefined;
      }
    };

    // Where each symbol resumes: after the newest trade stored, or held in the
    // spool (a crash with the database down leaves newer ones there).
    const stored = await storage.ticks.latestTradeIds(config.symbols);
    for (const [symbol, id] of service.spooledTradeIds()) {
      if (config.symbols.includes(symbol) && id > (stored.get(symbol) ?? -1))
        stored.set(symbol, id);
    }
    const endpoints = await exchangeEndpoints({
      config,
      sim: options.sim,
      simRate: options.simRate,
      resume: stored,
      logger,
      libraryLogger,
      resources,
    });
    // Gaps an earlier run stopped with: resume before them, so they are fetched again.
    const recordedGaps = await loadOpenGaps(config.dataDir, logger);
    if (recordedGaps.length > 0) {
      logger.info({ gaps: recordedGaps }, 'backfilling the gaps the last run stopped with');
    }
    const resumeFrom = options.sim
      ? {}
      : Object.fromEntries(resumeBeforeGaps(stored, recordedGaps));

    let engine: PaperEngine | undefined;
    if (strategy) {
      const rules = new ExchangeRulesCache(endpoints.restUrl, logger, storage.symbolRules);
      await rules.ensure(config.symbols);
      engine = await startPaperEngine({
        strategy,
        rules: (symbol) => rules.get(symbol),
        metrics,
        recentTicks: cache.cache,
        fillWriter: storage.paperTrades,
        logger: libraryLogger.child({ component: 'paper-engine' }),
        warmUp: config.symbols,
      });
      const paper = engine;
      resources.push({ name: 'paper engine', close: () => paper.close() });
    }

    // Its events wait in its queue until the pump below reads them.
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
    let pipelineError: string | undefined;
    const server: MetricsServer = await listenOrExplain(config.metrics, {
      registry: metrics.registry,
      health: {
        pipeline: () => ({ ok: pipelineError === undefined, reason: pipelineError ?? '' }),
      },
      ready: {
        exchange: () => ({ ok: connected, reason: 'not connected to the exchange' }),
        gaps: gapReadiness(() => client.openGaps(), config.readyMaxGapMs),
        ingest: () => {
          const health = service.health();
          return { ok: !health.blocked, reason: `ingest blocked: ${health.reason ?? ''}` };
        },
        quotes: () => {
          const blocked = recording.blocked();
          return { ok: blocked === undefined, reason: `recording blocked: ${blocked ?? ''}` };
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
        symbols: config.symbols,
        exchange: endpoints.exchangeUrl,
        database: storage.description,
        cache: cache.description,
        channels: options.channels,
        paperTrading: strategy ? options.strategy : false,
        resumeFrom,
        metrics: `${server.url}/metrics`,
      },
      `metrics served on ${server.url}/metrics (listening on ${server.host}:${server.port})`,
    );

    const pump = (async () => {
      for await (const event of client) {
        if (event.type === 'tick') {
          await offer(event.tick);
          engine?.onTick(event.tick);
          widenSpan(spans, event.tick.symbol, event.tick.tradeTime, event.tick.tradeTime);
        } else if (event.type === 'quote') {
          recording.onQuote(event.quote);
          engine?.onQuote(event.quote);
        } else if (event.type === 'book') {
          recording.onBook(event.book, event.receiveTime);
          engine?.onBook(event.book);
        } else if (event.type === 'connection') {
          connected = event.state === 'open' || event.state === 'rotating';
          logger.info(
            { shard: event.shard, reason: event.reason, retryInMs: event.retryInMs },
            `exchange ${event.state}`,
          );
        } else if (event.type === 'gap') {
          // The client has already logged (and counted) an unrecoverable gap as an error.
          const level = event.missed > 0 ? 'warn' : 'info';
          logger.child({ component: 'exchange' })[level](
            {
              symbol: event.symbol,
              fromId: event.fromId,
              toId: event.toId,
              recovered: event.recovered,
              missed: event.missed,
            },
            event.missed > 0
              ? 'gap in trade ids not fully recovered'
              : 'gap in trade ids backfilled',
          );
        }
        // 'gap-open' (at close): recorded from client.openGaps() once the stream has ended.
      }
    })();

    pump.catch((error: unknown) => {
      pipelineError = error instanceof Error ? error.message : String(error);
      logger.error({ err: error }, 'the tick pipeline stopped');
    });
    await Promise.race([options.stopSignal, pump]);
    logger.info('stopping: closing the exchange stream, then flushing every tick');
    stopping = true;
    wake?.();
    await client.close();
    await pump;
    const { lost: serviceLost } = await service.close();
    await keepCandlesTrue(storage, spans, service.spooledTradeIds().size > 0, config, logger);
    const { lostQuotes, lostSnapshots } = await recording.close();
    if (lostQuotes + lostSnapshots > 0) {
      logger.error(
        { lostQuotes, lostSnapshots },
        'quotes or book snapshots could be neither stored nor spooled (the database and the disk both failed)',
      );
    }
    const lost = mergeLost(serviceLost, lostRanges([notTaken]));
    const lostTicks = lost.reduce((sum, range) => sum + range.count, 0);
    // The ticks after each open gap were delivered, and lost ticks lie before newer stored
    // ones: record both, or the next start, resuming after the newest stored id, skips them.
    const openGaps = client.openGaps();
    let recorded = true;
    try {
      await saveOpenGaps(config.dataDir, [...openGaps, ...lost]);
    } catch (error) {
      // A full disk, say: the ranges are in the log lines below, and the exit code says it.
      recorded = false;
      logger.error(
        { err: error, gaps: openGaps, lost: lost.slice(0, LOGGED_RANGES) },
        'could not record the gaps and lost ranges for the next start; fetch them again by hand (RESUME_MAX_TRADES)',
      );
    }
    if (openGaps.length > 0) {
      logger.warn(
        { gaps: openGaps },
        'stopping with gaps REST has not filled; the next start backfills them',
      );
    }
    if (lostTicks > 0) {
      logger.error(
        { lostTicks, lost: lost.slice(0, LOGGED_RANGES), ranges: lost.length },
        `${lostTicks} ticks could be neither stored nor spooled (the database and the disk both failed); the next start fetches them again over REST`,
      );
    }
    await closeAll(resources, logger);
    const stats = service.stats();
    // The last trade id taken from the exchange per symbol: everything up to it is stored or
    // spooled, except the lost ranges.
    logger.info(
      { stored: stats.stored, spooled: stats.spooled, lostTicks, readUpTo: client.positions() },
      'stopped',
    );
    return lostTicks > 0 || lostQuotes + lostSnapshots > 0 || !recorded ? 1 : 0;
  } finally {
    await closeAll(resources, logger);
  }
}

/**
 * Makes the one-minute candles of the minutes this run's ticks fall in true
 * to what is stored (late and backfilled ticks included). Ticks still in
 * the spool are stored by the next run: their spans are recorded for it to
 * refresh at its stop, as are the spans of a refresh that failed. Days
 * retention is about to drop are left as they are (their candles were made
 * from the whole day before it went). A failure is logged: the ticks are
 * stored either way.
 */
async function keepCandlesTrue(
  storage: Storage,
  spans: CandleSpans,
  ticksSpooled: boolean,
  config: Pick<LiveConfig, 'dataDir' | 'retentionDays'>,
  logger: Logger,
): Promise<void> {
  const kept =
    config.retentionDays === undefined
      ? Number.NEGATIVE_INFINITY
      : (dayOf(Date.now()) - config.retentionDays) * DAY_MS;
  let written = 0;
  let refreshed = true;
  try {
    for (const [symbol, { from, to }] of spans) {
      if (to < kept) continue;
      written += await storage.candles.refresh(symbol, Math.max(from, kept), to + 1);
    }
    logger.info({ written, symbols: spans.size }, 'one-minute candles true to the stored ticks');
  } catch (error) {
    refreshed = false;
    logger.error(
      { err: error },
      'could not refresh the one-minute candles; the next live or migrate refreshes them',
    );
  }
  try {
    if (ticksSpooled || !refreshed) {
      await savePendingCandleSpans(config.dataDir, spans);
      if (ticksSpooled) {
        logger.info('ticks left in the spool: the next live makes their candles true once stored');
      }
    } else {
      await clearPendingCandleSpans(config.dataDir);
    }
  } catch (error) {
    logger.error(
      { err: error },
      'could not record the candle spans left pending; migrate refreshes them',
    );
  }
}

// Lost ranges named in the log line; the file of gaps holds them all.
const LOGGED_RANGES = 20;

/** The ranges of both lists as one, per symbol and id (they never overlap: a tick is lost once). */
function mergeLost(a: readonly LostTickRange[], b: readonly LostTickRange[]): LostTickRange[] {
  return [...a, ...b].sort((x, y) =>
    x.symbol === y.symbol ? x.fromId - y.fromId : x.symbol < y.symbol ? -1 : 1,
  );
}
