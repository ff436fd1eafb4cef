import { PaperEngine, type PaperEngineOptions } from './paper-engine.js';

/** Options of {@link startPaperEngine}: the engine's, and the symbols to warm up. */
export interface StartPaperEngineOptions extends PaperEngineOptions {
  /**
   * Symbols whose strategies are fed their recent ticks (read through
   * `recentTicks`) before the first live tick; none by default.
   */
  warmUp?: readonly string[];
}

/**
 * Creates a paper engine and warms its strategies up on the recent ticks of
 * `warmUp`: the packages' one idiom for what does I/O
 * (`await startX(options)`, released with `close()`). The same as
 * `new PaperEngine(options)` then `await engine.warmUp(symbols)`; with no
 * symbols to warm up, `new PaperEngine(options)` alone does no I/O.
 *
 * @example
 * ```ts
 * const engine = await startPaperEngine({
 *   strategy: strategyByName('sma'),
 *   recentTicks: tickCache,
 *   fillWriter: new PaperTradeRepository(db),
 *   warmUp: ['BTCUSDT', 'ETHUSDT'],
 * });
 * for await (const tick of ticks) engine.onTick(tick);
 * await engine.close(); // writes every buffered fill
 * ```
 */
export async function startPaperEngine(options: StartPaperEngineOptions): Promise<PaperEngine> {
  const { warmUp = [], ...engineOptions } = options;
  const engine = new PaperEngine(engineOptions);
  if (warmUp.length > 0) await engine.warmUp(warmUp);
  return engine;
}
