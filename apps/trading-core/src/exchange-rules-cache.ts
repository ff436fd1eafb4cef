import type { SymbolRules } from '@trade/core';
import type { SymbolRulesRepository } from '@trade/market-data';
import { fetchSymbolRules } from '@trade/exchange-binance';
import type { Logger } from 'pino';

// A symbol whose rules could not be read is asked again after this long.
const RETRY_MS = 5 * 60_000;

/**
 * The exchange rules (tick size, step size, minimum notional) of the symbols
 * traded on paper, read from `exchangeInfo` once per symbol as they are
 * first needed, and saved to `symbol_rules` for backtests. While a
 * symbol's rules cannot be read, the ones saved last time are used; without
 * any, its orders go unbounded (quantities cut to 8 decimals): an error says
 * so, and the read is tried again after 5 minutes.
 *
 * @example
 * ```ts
 * const rules = new ExchangeRulesCache(config.restUrl, logger, storage.symbolRules);
 * await rules.ensure(['BTCUSDT']);
 * startPaperEngine({ strategy, rules: (symbol) => rules.get(symbol) });
 * ```
 */
export class ExchangeRulesCache {
  private readonly rules = new Map<string, SymbolRules>();
  /** When a symbol's rules were last asked for and not found. */
  private readonly failedAt = new Map<string, number>();

  /**
   * @param store where rules read are saved (for backtests), and read back
   *   when `exchangeInfo` cannot be reached
   */
  constructor(
    private readonly restUrl: string,
    private readonly logger: Logger,
    private readonly store?: Pick<SymbolRulesRepository, 'save' | 'load'>,
    private readonly fetchRules: typeof fetchSymbolRules = fetchSymbolRules,
    private readonly now: () => number = Date.now,
  ) {}

  get(symbol: string): SymbolRules | undefined {
    return this.rules.get(symbol);
  }

  /** Reads the rules of the symbols not known yet (one request); never throws. */
  async ensure(symbols: Iterable<string>): Promise<void> {
    const at = this.now();
    const missing = [...new Set(symbols)].filter(
      (s) => !this.rules.has(s) && at - (this.failedAt.get(s) ?? -Infinity) >= RETRY_MS,
    );
    if (missing.length === 0) return;
    try {
      const found = await this.fetchRules({ restUrl: this.restUrl, symbols: missing });
      for (const [symbol, rules] of found) {
        this.rules.set(symbol, rules);
        this.failedAt.delete(symbol);
      }
      this.logger.info({ rules: Object.fromEntries(found) }, 'exchange rules of the symbols');
      await this.store?.save([...found.values()]).catch((error: unknown) => {
        this.logger.warn({ err: error }, 'could not save the exchange rules for backtests');
      });
    } catch (error) {
      for (const symbol of missing) this.failedAt.set(symbol, at);
      const stored = await this.store?.load(missing).catch(() => undefined);
      for (const [symbol, rules] of stored ?? []) this.rules.set(symbol, rules);
      const unbounded = missing.filter((s) => !this.rules.has(s));
      this.logger.error(
        { err: error, symbols: missing, storedUsed: [...(stored?.keys() ?? [])], unbounded },
        unbounded.length === 0
          ? 'could not read the exchange rules (exchangeInfo): using the ones stored last time; asked again in 5 minutes'
          : 'could not read the exchange rules (exchangeInfo): paper orders of the symbols listed as unbounded are not bounded by tick size, step size or minimum notional; asked again in 5 minutes',
      );
    }
  }
}
