import {
  Backoff,
  ConfigError,
  sideFromBuyerMaker,
  silentLogger,
  type Logger,
  type RecentTicks,
  type Tick,
} from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import type { Redis } from 'ioredis';
import { TickRing } from './tick-ring.js';

/** Options of {@link TickCache}. */
export interface TickCacheOptions {
  /**
   * The L2 cache; omit for memory-only mode (no `REDIS_URL`). The client
   * stays the caller's, who creates it with `commandTimeout` (e.g. 2000 ms):
   * ioredis then fails a command Redis has not answered in time, which the
   * cache counts as an update failure, and the connection stays in step.
   * The cache sets no timer of its own; without `commandTimeout` a Redis
   * that stops answering holds one update in flight (and {@link
   * TickCache.flush}) until the connection drops.
   */
  redis?: Redis;
  metrics?: TradingMetrics;
  logger?: Logger;
  /** Ticks kept per symbol, in memory and in Redis. Default 1000. */
  capacity?: number;
  /** Prepended to every key: keys are `<keyPrefix>tick:<SYMBOL>`. Default `''`. */
  keyPrefix?: string;
  /** EXPIRE set on a symbol's key at each update; 0 keeps keys forever. Default 0. */
  ttlSeconds?: number;
  /** Pause before writing to Redis again after a failure. Default 1000 ms. */
  retryIntervalMs?: number;
}

interface SymbolState {
  readonly symbol: string;
  readonly ring: TickRing;
  /** Ticks appended since Redis last took this symbol, oldest first. */
  unsynced: Tick[];
  /** Redis's list may not match memory: replace it whole from the ring. */
  rewrite: boolean;
}

/**
 * The hot cache of recent ticks: L1 is a ring of the latest `capacity`
 * ticks per symbol in memory, L2 a Redis list per symbol (`tick:<SYMBOL>`,
 * newest at the head, trimmed to `capacity`).
 *
 * {@link add} updates memory at once and Redis in the background: at most
 * one MULTI/EXEC pipeline in flight, carrying everything added since the
 * previous one (LPUSH + LTRIM per symbol). When Redis fails or is away, the
 * failures (a command timeout included: set `commandTimeout` on the
 * client) are counted in `trading_cache_update_failures_total` (one per
 * update that missed Redis), ingestion goes on, and when Redis is back each
 * affected symbol's list is rewritten from memory. Memory stays bounded by
 * the rings whatever Redis does.
 *
 * Redis entries are `tradeId|price|quantity|isBuyerMaker(1/0)|tradeTime|receiveTime`.
 *
 * @example
 * ```ts
 * const redis = new Redis(url, { commandTimeout: 2000, maxRetriesPerRequest: 1, enableOfflineQueue: false });
 * const cache = new TickCache({ redis, metrics });
 * cache.add(ticks);
 * const last50 = await cache.recent('BTCUSDT', 50); // newest first
 * ```
 */
export class TickCache implements RecentTicks {
  readonly #redis: Redis | undefined;
  readonly #metrics: TradingMetrics | undefined;
  readonly #logger: Logger;
  readonly #capacity: number;
  readonly #keyPrefix: string;
  readonly #ttlSeconds: number;
  /** The pause before writing to Redis again after a failure. */
  readonly #retry: Backoff;
  readonly #symbols = new Map<string, SymbolState>();
  readonly #dirty = new Set<SymbolState>();
  #updatesSinceSync = 0;
  #scheduled = false;
  #inFlight: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #failing = false;
  #closed = false;
  readonly #onReady = () => {
    this.#failing = false;
    this.#schedule();
  };

  constructor(options: TickCacheOptions = {}) {
    this.#redis = options.redis;
    this.#metrics = options.metrics;
    this.#logger = options.logger ?? silentLogger;
    this.#capacity = options.capacity ?? 1000;
    this.#keyPrefix = options.keyPrefix ?? '';
    this.#ttlSeconds = options.ttlSeconds ?? 0;
    const retryIntervalMs = options.retryIntervalMs ?? 1000;
    // The same pause every time: a failed update is not lost (the next one
    // rewrites the symbol whole), so there is nothing to gain by backing off.
    this.#retry = new Backoff({
      initialMs: retryIntervalMs,
      maxMs: retryIntervalMs,
      factor: 1,
      jitter: 0,
    });
    if (!Number.isSafeInteger(this.#capacity) || this.#capacity < 1) {
      throw new ConfigError('capacity', this.#capacity, 'a positive integer');
    }
    this.#redis?.on('ready', this.#onReady);
    if (this.#redis && typeof this.#redis.options.commandTimeout !== 'number') {
      this.#logger.warn(
        {},
        'cache: the Redis client has no commandTimeout; a Redis that stops answering stalls cache updates and flush()',
      );
    }
  }

  /** True when there is no Redis behind the memory cache. */
  get memoryOnly(): boolean {
    return this.#redis === undefined;
  }

  /** The Redis key of `symbol`. */
  keyOf(symbol: string): string {
    return `${this.#keyPrefix}tick:${symbol}`;
  }

  /**
   * Adds ticks (any symbols, any order): memory now, Redis in the
   * background. Repeats of a held trade id are ignored. Never throws for
   * Redis's sake.
   */
  add(ticks: readonly Tick[]): void {
    if (ticks.length === 0) return;
    for (const tick of ticks) {
      let state = this.#symbols.get(tick.symbol);
      if (!state) {
        state = {
          symbol: tick.symbol,
          ring: new TickRing(this.#capacity),
          unsynced: [],
          rewrite: false,
        };
        this.#symbols.set(tick.symbol, state);
      }
      const outcome = state.ring.add(tick);
      if (!this.#redis || outcome === 'duplicate' || outcome === 'too-old') continue;
      if (outcome === 'inserted' || state.unsynced.length >= this.#capacity) {
        // Out of order, or more than Redis keeps: send the ring whole.
        state.rewrite = true;
        state.unsynced = [];
      } else if (!state.rewrite) {
        state.unsynced.push(tick);
      }
      this.#dirty.add(state);
    }
    if (this.#redis) {
      this.#updatesSinceSync += 1;
      this.#schedule();
    }
  }

  /**
   * Up to `count` ticks of `symbol`, newest first, each trade once: from
   * memory when it holds enough, else merged with Redis. Counts one
   * `trading_cache_hits_total` when `count` ticks were found, one
   * `trading_cache_misses_total` otherwise (the caller would have to ask the
   * database). A Redis failure makes a smaller answer, never an error.
   */
  async recent(symbol: string, count: number): Promise<readonly Tick[]> {
    const wanted = Math.max(0, Math.floor(count));
    const key = symbol.toUpperCase();
    const fromMemory = this.#symbols.get(key)?.ring.newest(wanted) ?? [];
    let answer: Tick[] = fromMemory;
    if (fromMemory.length < wanted && this.#redis?.status === 'ready') {
      try {
        const entries = await this.#redis.lrange(this.keyOf(key), 0, wanted - 1);
        answer = mergeNewestFirst(
          fromMemory,
          entries.map((e) => decode(key, e)),
          wanted,
        );
      } catch (error) {
        this.#logger.debug(
          { err: error, symbol: key },
          'cache: Redis read failed; answering from memory',
        );
      }
    }
    if (answer.length >= wanted) this.#metrics?.cacheHits.inc();
    else this.#metrics?.cacheMisses.inc();
    return answer;
  }

  /**
   * Resolves when everything added so far has reached Redis, or the
   * attempt failed (and was counted). Immediate in memory-only mode.
   */
  async flush(): Promise<void> {
    if (this.#inFlight) await this.#inFlight;
    if (this.#dirty.size > 0) await this.#sync();
  }

  /** Stops background work after a last {@link flush}. The Redis client is left open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#redis?.off('ready', this.#onReady);
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight || this.#closed) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      if (!this.#failing) void this.#sync();
    });
  }

  #sync(): Promise<void> {
    if (this.#inFlight) return this.#inFlight;
    const redis = this.#redis;
    if (!redis || this.#dirty.size === 0) return Promise.resolve();
    const updates = this.#updatesSinceSync;
    this.#updatesSinceSync = 0;
    if (redis.status !== 'ready') {
      this.#failed(updates, new Error(`Redis is ${redis.status}`));
      return Promise.resolve();
    }
    const sent = [...this.#dirty];
    this.#dirty.clear();
    const multi = redis.multi();
    for (const state of sent) {
      const key = this.keyOf(state.symbol);
      if (state.rewrite) {
        multi.del(key);
        multi.rpush(key, ...state.ring.newest(this.#capacity).map(encode));
      } else {
        multi.lpush(key, ...state.unsynced.map(encode));
        multi.ltrim(key, 0, this.#capacity - 1);
      }
      if (this.#ttlSeconds > 0) multi.expire(key, this.#ttlSeconds);
      state.unsynced = [];
      state.rewrite = false;
    }
    // ioredis's commandTimeout ends an EXEC Redis does not answer: a failure like any other.
    const run = multi
      .exec()
      .then((results) => {
        const failure =
          results === null ? new Error('EXEC aborted') : results.find(([e]) => e)?.[0];
        if (failure) throw failure;
        if (this.#failing) this.#logger.info({}, 'cache: Redis writes succeed again');
        this.#failing = false;
        this.#retry.reset();
      })
      .catch((error: unknown) => {
        for (const state of sent) {
          state.rewrite = true;
          state.unsynced = [];
          this.#dirty.add(state);
        }
        this.#failed(updates, error);
      })
      .finally(() => {
        this.#inFlight = undefined;
        if (this.#dirty.size > 0 && !this.#failing) this.#schedule();
      });
    this.#inFlight = run;
    return run;
  }

  #failed(updates: number, error: unknown): void {
    this.#metrics?.cacheUpdateFailures.inc(updates);
    if (!this.#failing) {
      this.#logger.warn(
        { err: error },
        'cache: Redis update failed; memory cache goes on, Redis catches up later',
      );
    }
    this.#failing = true;
    if (this.#retryTimer || this.#closed) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#failing = false;
      this.#schedule();
    }, this.#retry.next());
    this.#retryTimer.unref();
  }
}

function encode(t: Tick): string {
  return `${t.tradeId}|${t.price}|${t.quantity}|${t.isBuyerMaker ? 1 : 0}|${t.tradeTime}|${t.receiveTime}`;
}

function decode(symbol: string, entry: string): Tick {
  const [id, price, quantity, maker, tradeTime, receiveTime] = entry.split('|');
  const isBuyerMaker = maker === '1';
  return {
    symbol,
    tradeId: Number(id),
    price: price!,
    quantity: quantity!,
    side: sideFromBuyerMaker(isBuyerMaker),
    isBuyerMaker,
    tradeTime: Number(tradeTime),
    receiveTime: Number(receiveTime),
  };
}

/** Newest first by trade id, each id once, at most `count`. */
function mergeNewestFirst(a: readonly Tick[], b: readonly Tick[], count: number): Tick[] {
  const byId = new Map<number, Tick>();
  for (const tick of a) byId.set(tick.tradeId, tick);
  for (const tick of b) if (!byId.has(tick.tradeId)) byId.set(tick.tradeId, tick);
  return [...byId.values()].sort((x, y) => y.tradeId - x.tradeId).slice(0, count);
}
