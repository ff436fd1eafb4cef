import type { SymbolRules } from '@trade/core';
import { fetchSymbolRules } from '@trade/exchange-binance';
import type { Logger } from 'pino';

// A symbol whose rules could not be read is asked again after this long.
const RETRY_MS = 5 * 60_000;

/**
 * The exchange rules (tick size, step size, minimum notional) of the symbols
 * traded on paper, read from `exchangeInfo` once per symbol as they are
 * first needed. While a symbol's rules cannot be read, its orders go
 * unbounded (quantities cut to 8 decimals): an error says so, and the read
 * is tried again after 5 minutes.
 *
 * @example
 * ```ts
 * const rules = new ExchangeRulesCache(config.restUrl, logger);
 * await rules.ensure(['BTCUSDT']);
 * startPaperEngine({ strategy, rules: (symbol) => rules.get(symbol) });
 * ```
 */
export class ExchangeRulesCache {
  private readonly rules = new Map<string, SymbolRules>();
  /** When a symbol's rules were last asked for and not found. */
  private readonly failedAt = new Map<string, number>();

  constructor(
    private readonly restUrl: string,
    private readonly logger: Logger,
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
    } catch (error) {
      for (const symbol of missing) this.failedAt.set(symbol, at);
      this.logger.error(
        { err: error, symbols: missing },
        'could not read the exchange rules (exchangeInfo): paper orders of these symbols are not bounded by tick size, step size or minimum notional; asked again in 5 minutes',
      );
    }
  }
}
