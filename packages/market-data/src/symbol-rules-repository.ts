import { InvalidInputError, isDecimalString, type SymbolRules } from '@trade/core';
import type { Kysely } from 'kysely';
import type { MarketDataDatabase } from './schema.js';
import { SYMBOL } from './tick-rows.js';

/**
 * `symbol_rules`: each symbol's exchange rules (tick size, step size,
 * minimum quantity and notional) as `exchangeInfo` last gave them, exact
 * strings, one row per symbol. `live` and `paper` save what they read, so a
 * backtest bounds its orders by the same rules offline.
 *
 * @example
 * ```ts
 * const rules = new SymbolRulesRepository(db);
 * await rules.save([btcRules]);
 * (await rules.load(['BTCUSDT'])).get('BTCUSDT')?.stepSize; // '0.00001000'
 * ```
 */
export class SymbolRulesRepository {
  constructor(private readonly db: Kysely<MarketDataDatabase>) {}

  /** Stores `rules`, replacing what each symbol had. Throws on a value that is not a decimal string. */
  async save(rules: readonly SymbolRules[], at = new Date()): Promise<void> {
    if (rules.length === 0) return;
    for (const r of rules) {
      if (!SYMBOL.test(r.symbol))
        throw new InvalidInputError('symbol', r.symbol, 'a symbol of 2 to 30 capitals and digits');
      for (const field of ['tickSize', 'stepSize', 'minQty', 'minNotional'] as const) {
        if (!isDecimalString(r[field])) {
          throw new InvalidInputError(`${r.symbol}.${field}`, r[field], 'a decimal string');
        }
      }
    }
    await this.db
      .insertInto('symbol_rules')
      .values(
        rules.map((r) => ({
          symbol: r.symbol,
          tick_size: r.tickSize,
          step_size: r.stepSize,
          min_qty: r.minQty,
          min_notional: r.minNotional,
          updated_at: at,
        })),
      )
      .onConflict((oc) =>
        oc.column('symbol').doUpdateSet((eb) => ({
          tick_size: eb.ref('excluded.tick_size'),
          step_size: eb.ref('excluded.step_size'),
          min_qty: eb.ref('excluded.min_qty'),
          min_notional: eb.ref('excluded.min_notional'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  }

  /** The stored rules of `symbols` (those that have some). */
  async load(symbols: readonly string[]): Promise<Map<string, SymbolRules>> {
    if (symbols.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('symbol_rules')
      .selectAll()
      .where('symbol', 'in', [...symbols])
      .execute();
    return new Map(
      rows.map((row) => [
        row.symbol,
        {
          symbol: row.symbol,
          tickSize: row.tick_size,
          stepSize: row.step_size,
          minQty: row.min_qty,
          minNotional: row.min_notional,
        },
      ]),
    );
  }
}
