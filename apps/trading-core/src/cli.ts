import { createRequire } from 'node:module';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, TradeError } from '@trade/core';
import { createTradingMetrics } from '@trade/metrics';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { COMMANDS, effectiveArgs } from './args.js';
import { runBacktestCommand } from './commands/backtest.js';
import { runCandlesCommand } from './commands/candles.js';
import { runLive } from './commands/live.js';
import { runMigrate } from './commands/migrate.js';
import { runSim } from './commands/sim.js';
import { runStore } from './commands/store.js';
import { runCollect } from './commands/collect.js';
import { runPaper } from './commands/paper.js';
import { readChannels } from './channels.js';
import { readBusConfig, readStoreConfig } from './bus-config.js';
import {
  checkDataDir,
  readLiveConfig,
  readLogFormat,
  readLogLevel,
  readPositiveIntegerFlag,
  readRate,
} from './config.js';
import { lockDataDir } from './data-dir-lock.js';
import { StartupStoppedError } from './storage.js';
import { COMMAND_HELP, usage } from './help.js';
import { readPaperConfig } from './paper-config.js';
import { STRATEGY_EXPECTED } from './strategy-loader.js';
import { createLogger, prettyLines, wantsColor } from './logger.js';
import { passwordsIn, Scrubber, scrubbingStream } from './secrets.js';
import { onShutdown } from './shutdown.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  'paper-trading': { type: 'boolean' },
  strategy: { type: 'string' },
  'strategy-options': { type: 'string' },
  sim: { type: 'boolean' },
  'sim-rate': { type: 'string' },
  symbols: { type: 'string' },
  'exchange-url': { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  rate: { type: 'string' },
  seed: { type: 'string' },
  symbol: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  json: { type: 'boolean' },
  nats: { type: 'string' },
  channels: { type: 'string' },
  interval: { type: 'string' },
  report: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/** Which flags each command accepts; any other is refused by name. */
const ACCEPTS: Readonly<Record<string, readonly (keyof typeof OPTIONS)[]>> = {
  live: [
    'paper-trading',
    'strategy',
    'strategy-options',
    'sim',
    'sim-rate',
    'symbols',
    'exchange-url',
    'channels',
  ],
  sim: ['port', 'host', 'rate', 'symbols', 'seed'],
  migrate: [],
  backtest: ['strategy', 'strategy-options', 'symbol', 'from', 'to', 'json', 'report'],
  store: ['nats'],
  collect: ['nats', 'symbols', 'channels', 'sim', 'sim-rate', 'exchange-url'],
  paper: ['nats', 'strategy', 'strategy-options', 'symbols'],
  candles: ['symbol', 'interval', 'from', 'to', 'json'],
};

class UsageError extends TradeError {}

// Whatever the process prints goes through it: no password of a URL setting is ever shown.
let scrubber = new Scrubber(passwordsIn(process.env));

async function main(argv: string[]): Promise<number> {
  const args = effectiveArgs(argv, process.env.npm_lifecycle_event);
  // URL flags hold passwords too; they are known before parsing can fail.
  scrubber = new Scrubber(passwordsIn(process.env, args));
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  const [command, ...extra] = positionals;
  if (command === undefined) {
    process.stdout.write(usage(version));
    return values.help ? 0 : 2;
  }
  if (!COMMANDS.has(command) || extra.length > 0) {
    throw new UsageError(`unknown command: ${[command, ...extra].join(' ')}`);
  }
  if (values.help) {
    process.stdout.write(COMMAND_HELP[command] ?? usage(version));
    return 0;
  }
  const given = Object.keys(values).filter((k) => values[k as keyof typeof values] !== undefined);
  const refused = given.filter(
    (k) => !(ACCEPTS[command] ?? []).includes(k as keyof typeof OPTIONS),
  );
  if (refused.length > 0) {
    throw new UsageError(`${command} does not take --${refused.join(', --')}`);
  }

  const level = readLogLevel(process.env);
  const metrics = createTradingMetrics({ registry: new Registry(), version });
  // A backtest's and candles' result is stdout (`--json` pipes it); their logs go to stderr.
  const toStderr = command === 'backtest' || command === 'candles';
  const terminal = (toStderr ? process.stderr : process.stdout).isTTY;
  const fd = pino.destination({ dest: toStderr ? 2 : 1, sync: true });
  const destination = scrubbingStream(
    readLogFormat(process.env, terminal) === 'pretty'
      ? prettyLines(fd, { colorize: wantsColor(process.env, terminal) })
      : fd,
    scrubber,
  );
  const logger = createLogger(metrics, { level }, destination);
  // The libraries count their own errors: the logger they get must not count them again.
  const libraryLogger = createLogger(undefined, { level }, destination);
  const shutdown = onShutdown(logger);

  switch (command) {
    case 'live': {
      const config = readLiveConfig(process.env, {
        symbols: values.symbols,
        exchangeUrl: values['exchange-url'],
      });
      return withDataDir(config.dataDir, true, () =>
        runLive({
          config,
          metrics,
          logger,
          libraryLogger,
          channels: readChannels(process.env, values.channels),
          paperTrading: values['paper-trading'] ?? false,
          strategy: values.strategy ?? 'sma',
          strategyOptions: values['strategy-options'],
          sim: values.sim ?? false,
          simRate: readRate(values['sim-rate'], '--sim-rate', 20),
          stopSignal: shutdown.requested,
          stopRequested: shutdown.signal,
        }),
      );
    }
    case 'sim': {
      const config = readLiveConfig(process.env, { symbols: values.symbols });
      await runSim({
        host: values.host ?? '127.0.0.1',
        port: readPositiveIntegerFlag(values.port, '--port', 9443, 0, 65535),
        rate: readRate(values.rate, '--rate', 10),
        symbols: config.symbols,
        seed: readPositiveIntegerFlag(values.seed, '--seed', 1, 0, 2 ** 31 - 1),
        logger: libraryLogger.child({ component: 'simulator' }),
        stopSignal: shutdown.requested,
      });
      return 0;
    }
    case 'store': {
      const config = readStoreConfig(process.env, { nats: values.nats });
      return withDataDir(config.dataDir, true, () =>
        runStore({
          config,
          metrics,
          logger,
          libraryLogger,
          stopSignal: shutdown.requested,
          stopRequested: shutdown.signal,
        }),
      );
    }
    case 'collect': {
      const bus = readBusConfig(process.env, { nats: values.nats });
      const config = readLiveConfig(process.env, {
        symbols: values.symbols,
        exchangeUrl: values['exchange-url'],
      });
      const channels = readChannels(process.env, values.channels);
      return withDataDir(config.dataDir, true, () =>
        runCollect({
          config,
          bus,
          channels,
          metrics,
          logger,
          libraryLogger,
          sim: values.sim ?? false,
          simRate: readRate(values['sim-rate'], '--sim-rate', 20),
          stopSignal: shutdown.requested,
        }),
      );
    }
    case 'paper': {
      const config = await readPaperConfig(process.env, {
        nats: values.nats,
        strategy: values.strategy,
        strategyOptions: values['strategy-options'],
        symbols: values.symbols,
      });
      // DATA_DIR holds nothing of paper's but the embedded database.
      return withDataDir(config.dataDir, config.databaseUrl === undefined, () =>
        runPaper({
          config,
          metrics,
          logger,
          libraryLogger,
          stopSignal: shutdown.requested,
          stopRequested: shutdown.signal,
        }),
      );
    }
    case 'candles': {
      const { symbol, interval } = values;
      if (symbol === undefined)
        throw new ConfigError('--symbol', undefined, 'a symbol such as BTCUSDT');
      if (interval === undefined)
        throw new ConfigError('--interval', undefined, '1m, 5m, 1h or 1d');
      const config = readLiveConfig(process.env);
      await withDataDir(config.dataDir, config.databaseUrl === undefined, () =>
        runCandlesCommand({
          symbol,
          interval,
          from: values.from,
          to: values.to,
          json: values.json ?? false,
          storage: config,
          logger: libraryLogger.child({ component: 'candles' }),
        }),
      );
      return 0;
    }
    case 'migrate': {
      const config = readLiveConfig(process.env);
      await withDataDir(config.dataDir, config.databaseUrl === undefined, () =>
        runMigrate(config, libraryLogger, shutdown.signal),
      );
      return 0;
    }
    default: {
      const { strategy, symbol } = values;
      if (strategy === undefined) throw new ConfigError('--strategy', undefined, STRATEGY_EXPECTED);
      if (symbol === undefined)
        throw new ConfigError('--symbol', undefined, 'a symbol such as BTCUSDT');
      const config = readLiveConfig(process.env);
      const abort = new AbortController();
      void shutdown.requested.then(() => abort.abort());
      await withDataDir(config.dataDir, config.databaseUrl === undefined, () =>
        runBacktestCommand({
          strategy,
          strategyOptions: values['strategy-options'],
          symbol,
          from: values.from,
          to: values.to,
          json: values.json ?? false,
          report: values.report,
          storage: config,
          logger: libraryLogger.child({ component: 'backtest' }),
          signal: abort.signal,
        }),
      );
      return 0;
    }
  }
}

/**
 * Runs `run` with `DATA_DIR` checked and held by this process when the
 * command uses it (the spool, the embedded database): one process per directory.
 */
async function withDataDir<T>(dataDir: string, uses: boolean, run: () => Promise<T>): Promise<T> {
  if (!uses) return run();
  await checkDataDir(dataDir);
  const lock = await lockDataDir(dataDir);
  try {
    return await run();
  } finally {
    await lock.release();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const say = (text: string) => process.stderr.write(scrubber.scrub(text));
    if (error instanceof StartupStoppedError) {
      // Asked to stop before anything ran: a clean stop.
      say(`trading-core: ${error.message}\n`);
      process.exitCode = 0;
    } else if (ConfigError.isInstance(error)) {
      say(`trading-core: invalid configuration: ${error.message}\n`);
      process.exitCode = 2;
    } else if (error instanceof UsageError) {
      say(`trading-core: ${error.message}\n\n${usage(version)}`);
      process.exitCode = 2;
    } else {
      const message = error instanceof Error ? error.message : String(error);
      say(`trading-core: ${message}\n`);
      process.exitCode = 1;
    }
  },
);
