/** The commands `trading-core` knows. */
export const COMMANDS = new Set([
  'live',
  'sim',
  'migrate',
  'backtest',
  'store',
  'collect',
  'paper',
  'candles',
]);

/**
 * The arguments as the CLI reads them: every literal `--` dropped (`pnpm start -- live`
 * hands one over), and under `pnpm start` (npm_lifecycle_event=start) a missing
 * command means `live --paper-trading`, so `pnpm start -- --sim` adds to that default.
 */
export function effectiveArgs(
  argv: readonly string[],
  lifecycleEvent: string | undefined,
): string[] {
  const args = argv.filter((arg) => arg !== '--');
  const first = args[0];
  const hasCommand = first !== undefined && !first.startsWith('-');
  const wantsHelp = args.some((arg) => ['-h', '--help', '-v', '--version'].includes(arg));
  if (lifecycleEvent === 'start' && !hasCommand && !wantsHelp) {
    return ['live', '--paper-trading', ...args];
  }
  return args;
}
