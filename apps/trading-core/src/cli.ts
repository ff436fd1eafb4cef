import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { ConfigError } from '@trade/core';
import { pino } from 'pino';
import { runLive } from './commands/live.js';
import { COMMANDS, effectiveArgs } from './args.js';
import { readMetricsConfig } from './config.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const USAGE = `trading-core ${version}

Usage: trading-core <command> [options]

Commands:
  live [--paper-trading]   ingest the trade stream and serve metrics (the default of \`pnpm start\`)

Options:
  -h, --help      show this help
  -v, --version   print the version

Environment:
  METRICS_HOST    interface of the metrics exporter (default 0.0.0.0)
  METRICS_PORT    port of the metrics exporter (default 9090)
`;

async function main(argv: string[]): Promise<number> {
  const args = effectiveArgs(argv, process.env.npm_lifecycle_event);
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        'paper-trading': { type: 'boolean' },
      },
    });
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  const [command, ...extra] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (!COMMANDS.has(command) || extra.length > 0) {
    process.stderr.write(`unknown command: ${[command, ...extra].join(' ')}\n\n${USAGE}`);
    return 2;
  }

  const metrics = readMetricsConfig(process.env);
  const logger = pino({ name: 'trading-core' });
  const stopSignal = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutdown requested; a second signal exits at once');
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      process.once('SIGINT', () => process.exit(130)).once('SIGTERM', () => process.exit(143));
      resolve();
    };
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  });
  await runLive({ metrics, version, logger, stopSignal });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (ConfigError.isInstance(error)) {
      process.stderr.write(`trading-core: invalid configuration: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`trading-core: ${message}\n`);
    process.exitCode = 1;
  },
);
