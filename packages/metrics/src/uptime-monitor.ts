import type { Gauge } from 'prom-client';

/** Options of {@link startUptimeMonitor}. */
export interface UptimeMonitorOptions {
  /** The gauge to keep current, normally `metrics.uptimeSeconds`. */
  gauge: Gauge;
  /** Update period. Default `1000` ms. */
  intervalMs?: number;
  /** Clock in milliseconds, for tests. Default `performance.now` (monotonic). */
  now?: () => number;
}

/** A running monitor; `close()` ends its timer. */
export interface UptimeMonitor {
  /**
   * Ends the timer; the gauge keeps its last value. Resolves at once: it
   * returns a promise like every other `close()` of the toolkit, so shutdown
   * code can await them all alike.
   */
  close(): Promise<void>;
  /** @deprecated Use {@link UptimeMonitor.close}; this calls it. */
  stop(): void;
}

/**
 * Sets `gauge` to the whole seconds elapsed since the call, now and then
 * every `intervalMs`. The timer never keeps the process alive.
 *
 * @example
 * ```ts
 * const uptime = startUptimeMonitor({ gauge: metrics.uptimeSeconds });
 * // on shutdown
 * await uptime.close();
 * ```
 */
export function startUptimeMonitor(options: UptimeMonitorOptions): UptimeMonitor {
  const now = options.now ?? (() => performance.now());
  const startedAt = now();
  const update = () => options.gauge.set(Math.floor((now() - startedAt) / 1000));
  update();
  const timer = setInterval(update, options.intervalMs ?? 1000);
  timer.unref();
  const close = (): Promise<void> => {
    clearInterval(timer);
    return Promise.resolve();
  };
  return {
    close,
    stop() {
      void close();
    },
  };
}
