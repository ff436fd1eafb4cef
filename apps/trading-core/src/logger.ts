import type { TradingMetrics } from '@trade/metrics';
import { pino, type Logger, type LoggerOptions } from 'pino';
import { prettyFactory } from 'pino-pretty';

const ERROR_LEVEL = 50;

/**
 * The app's pino logger. With `metrics`, every record at error level or above
 * increments `trading_errors_total{component}`, where `component` is the child
 * logger's binding (`logger.child({ component: 'database' })`), `app` otherwise.
 * Without, it only logs: the libraries count their own errors, so the logger
 * handed to them must not count them again.
 */
export function createLogger(
  metrics: Pick<TradingMetrics, 'errors'> | undefined,
  options: LoggerOptions = {},
  destination?: pino.DestinationStream,
): Logger {
  const hooks: LoggerOptions['hooks'] = {
    logMethod(args, method, level) {
      if (metrics && level >= ERROR_LEVEL) {
        const { component } = this.bindings() as { component?: unknown };
        metrics.errors.inc({ component: typeof component === 'string' ? component : 'app' });
      }
      method.apply(this, args);
    },
  };
  const merged: LoggerOptions = {
    name: 'trading-core',
    level: 'info',
    ...options,
    hooks,
  };
  return destination ? pino(merged, destination) : pino(merged);
}

/** Where log lines go: anything with a `write` of text. */
export interface LineSink {
  write(chunk: string): unknown;
}

/**
 * `destination` fed readable lines instead of JSON: pino-pretty's printer,
 * one line per event (local time, level word, the component, the message,
 * then the other fields as compact JSON, errors included).
 */
export function prettyLines(destination: LineSink, options: { colorize: boolean }): LineSink {
  const format = prettyFactory({
    colorize: options.colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name,component',
    // The component before the message, unless the message already starts with it.
    messageFormat: (log, messageKey) => {
      const raw = log[messageKey];
      const message = typeof raw === 'string' ? raw : JSON.stringify(raw ?? '');
      const { component } = log;
      return typeof component === 'string' && !message.startsWith(`${component}:`)
        ? `${component}: ${message}`
        : message;
    },
    singleLine: true,
    // Errors stay on their line too (pino-pretty would print their stack over several).
    errorLikeObjectKeys: [],
  });
  return {
    write(chunk: string) {
      destination.write(format(chunk));
    },
  };
}

/**
 * Colours for readable lines: on a terminal, or wherever `FORCE_COLOR` asks
 * (set and not `0`); never with `NO_COLOR` (no-color.org).
 */
export function wantsColor(env: NodeJS.ProcessEnv, terminal: boolean): boolean {
  if (env.NO_COLOR !== undefined) return false;
  const force = env.FORCE_COLOR;
  return force !== undefined ? force !== '0' && force !== 'false' : terminal;
}
