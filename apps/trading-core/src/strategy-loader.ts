import { spawnSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '@trade/core';
import { STRATEGY_NAMES, strategyByName, type StrategyDefinition } from '@trade/paper-engine';
import {
  DEFINITION_SHAPE,
  checkDefinition,
  describeError,
  guardedDefinition,
} from './strategy-shape.js';

/** What `--strategy` takes, as its error messages say it. */
export const STRATEGY_EXPECTED = `${STRATEGY_NAMES.join(', ')} or the path of a strategy module such as ./my-strategy.mjs`;

const OPTIONS_SETTING = '--strategy-options';
const MODULE_EXTENSIONS = ['.mjs', '.js', '.cjs'];
const KEY = /^[A-Za-z][A-Za-z0-9_-]*$/;
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const PAIRS = 'key=value pairs separated by commas, such as fast=10,slow=50';

/**
 * A strategy module that could not be loaded, or whose default export has
 * the wrong shape. The message names the module as given and what is wrong;
 * `file` is its resolved path.
 */
export class StrategyModuleError extends ConfigError {
  readonly file: string;

  constructor(setting: string, spec: string, file: string, problem: string) {
    super(setting, spec, 'a strategy module');
    this.name = 'StrategyModuleError';
    this.file = file;
    this.message = `${setting} ${spec}: ${problem}`;
  }
}

/**
 * Reads `--strategy-options`: `key=value` pairs separated by commas, each
 * value a number. Throws {@link ConfigError} naming `setting` and the part
 * that is not a pair, not a number, or a key given twice.
 *
 * @example
 * ```ts
 * parseStrategyOptions('fast=10, slow=50'); // { fast: 10, slow: 50 }
 * parseStrategyOptions('fast=ten'); // --strategy-options: expected a number for fast, got "fast=ten"
 * ```
 */
export function parseStrategyOptions(
  text: string,
  setting = OPTIONS_SETTING,
): Readonly<Record<string, number>> {
  const options: Record<string, number> = {};
  for (const part of text.split(',')) {
    const at = part.indexOf('=');
    const key = at < 0 ? '' : part.slice(0, at).trim();
    const raw = at < 0 ? '' : part.slice(at + 1).trim();
    if (!KEY.test(key)) throw new ConfigError(setting, part.trim(), PAIRS);
    if (!NUMBER.test(raw) || !Number.isFinite(Number(raw))) {
      throw new ConfigError(setting, part.trim(), `a number for ${key}`);
    }
    if (Object.hasOwn(options, key)) {
      throw new ConfigError(setting, part.trim(), `${key} given once`);
    }
    options[key] = Number(raw);
  }
  return options;
}

/** Whether `--strategy` names a module file rather than a built-in strategy. */
export function isStrategyPath(spec: string): boolean {
  return /[/\\]/.test(spec) || /\.(mjs|js|cjs)$/i.test(spec.trim());
}

/**
 * The strategy `spec` names, with `optionsText` (`--strategy-options`) applied:
 * a built-in (`sma`, `rsi`, case-insensitive) or the path of a module,
 * relative to the current directory, whose default export is a
 * {@link StrategyDefinition} or a function of the options returning one.
 * A module's definition is checked, and its `create` called once with
 * `symbol` to check the strategy it makes; the definition returned checks
 * each strategy and signal it makes later too (a bad signal is a failed tick,
 * which the engine treats as HOLD).
 *
 * Throws {@link ConfigError} naming `setting` or `--strategy-options`, or
 * {@link StrategyModuleError} naming the module and what is wrong with it.
 *
 * @example
 * ```ts
 * await loadStrategy('sma', 'fast=10,slow=50');
 * await loadStrategy('./strategies/momentum.mjs', 'rising=3');
 * ```
 */
export async function loadStrategy(
  spec: string,
  optionsText: string | undefined,
  setting = '--strategy',
  symbol = 'BTCUSDT',
): Promise<StrategyDefinition> {
  const options = optionsText === undefined ? {} : parseStrategyOptions(optionsText);
  if (!isStrategyPath(spec)) return builtInStrategy(spec, options, setting);
  const file = resolve(spec.trim());
  const fail = (problem: string, at = setting) => new StrategyModuleError(at, spec, file, problem);
  const exported = await importDefault(file, fail);
  const made = await definitionOf(exported, options, fail);
  const checked = checkDefinition(made.definition, made.subject, made.expected, symbol, fail);
  return guardedDefinition(checked, options, made.subject, fail);
}

/**
 * The definition a module exported, or made by calling its default export
 * with the options; `subject` and `expected` say it in messages.
 */
async function definitionOf(
  exported: unknown,
  options: Readonly<Record<string, number>>,
  fail: (problem: string, setting?: string) => StrategyModuleError,
): Promise<{ definition: unknown; subject: string; expected: string }> {
  if (typeof exported !== 'function') {
    if (Object.keys(options).length > 0 && typeof exported === 'object' && exported !== null) {
      throw fail(
        'takes no options: its default export is a definition, not a function (options) => definition',
        OPTIONS_SETTING,
      );
    }
    return {
      definition: exported,
      subject: 'its default export',
      expected: `${DEFINITION_SHAPE} or a function (options) => definition`,
    };
  }
  try {
    return {
      definition: await (exported as (options: object) => unknown)({ ...options }),
      subject: 'the definition its default export returned',
      expected: DEFINITION_SHAPE,
    };
  } catch (error) {
    throw fail(
      `its default export threw when called with the options ${JSON.stringify(options)}: ${describeError(error)}`,
    );
  }
}

function builtInStrategy(
  name: string,
  options: Readonly<Record<string, number>>,
  setting: string,
): StrategyDefinition {
  const key = name.trim().toLowerCase();
  if (!(STRATEGY_NAMES as readonly string[]).includes(key)) {
    throw new ConfigError(setting, name, STRATEGY_EXPECTED);
  }
  const known = Object.keys(strategyByName(key).options ?? {});
  for (const [option, value] of Object.entries(options)) {
    if (!known.includes(option)) {
      throw new ConfigError(
        OPTIONS_SETTING,
        `${option}=${value}`,
        `options of ${key} (${known.join(', ')})`,
      );
    }
  }
  try {
    return strategyByName(key, options, setting);
  } catch (error) {
    // A value out of range, e.g. `sma.fast: expected ...`: said as the flag that set it.
    if (!ConfigError.isInstance(error)) throw error;
    const wrapped = new ConfigError(OPTIONS_SETTING, undefined, '');
    wrapped.message = `${OPTIONS_SETTING}: ${error.message}`;
    throw wrapped;
  }
}

/** The module's default export; a StrategyModuleError when it cannot be read or has none. */
async function importDefault(
  file: string,
  fail: (problem: string) => StrategyModuleError,
): Promise<unknown> {
  if (!MODULE_EXTENSIONS.includes(extname(file).toLowerCase())) {
    throw fail('not a JavaScript module: expected a file ending in .mjs, .js or .cjs');
  }
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => error);
  if (info instanceof Error) {
    throw fail(
      info.code === 'ENOENT'
        ? `no such file (looked for ${file})`
        : `cannot be read: ${info.message}`,
    );
  }
  if (!info.isFile()) throw fail(`not a file (${file})`);
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw fail(loadFailure(error, file));
  }
  if (!Object.hasOwn(namespace, 'default')) {
    throw fail(
      `has no default export: expected \`export default\` of ${DEFINITION_SHAPE} or of a function (options) => definition`,
    );
  }
  const exported = namespace.default;
  // CommonJS compiled from `export default`: the definition is `exports.default`.
  if (
    typeof exported === 'object' &&
    exported !== null &&
    (exported as { __esModule?: unknown }).__esModule === true &&
    'default' in exported
  ) {
    return exported.default;
  }
  return exported;
}

/** What went wrong importing `file`: a syntax error (with its line when Node finds it), or a throw. */
function loadFailure(error: unknown, file: string): string {
  if (error instanceof SyntaxError && !thrownBy(error, file)) {
    const line = syntaxErrorLine(file);
    // The file itself parses: the error is in a module it imports.
    if (line === undefined) return `failed to load: ${describeError(error)}`;
    return `has a syntax error${line}: ${error.message}`;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_')) {
    return `failed to load: ${describeError(error)}`;
  }
  return `threw while loading: ${describeError(error)}`;
}

/**
 * Whether the code of `file` threw `error` as it ran (`JSON.parse` at import
 * throws a SyntaxError too): a frame of its stack is in the file.
 */
function thrownBy(error: Error, file: string): boolean {
  const url = pathToFileURL(file).href;
  return (error.stack ?? '')
    .split('\n')
    .some(
      (line) => /^\s+at /.test(line) && (line.includes(`${file}:`) || line.includes(`${url}:`)),
    );
}

/**
 * Where `node --check` finds a syntax error in `file`: ` at line N`, or ''
 * when it names no line of the file; undefined when the file parses.
 */
function syntaxErrorLine(file: string): string | undefined {
  const check = spawnSync(process.execPath, ['--check', file], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (check.status === 0) return undefined;
  const first = /^(.*):(\d+)$/m.exec(check.stderr ?? '');
  return first?.[1] === file ? ` at line ${first[2]}` : '';
}
