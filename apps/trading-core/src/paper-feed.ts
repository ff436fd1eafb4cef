import type { Tick } from '@trade/core';
import type { PaperEngine } from '@trade/paper-engine';

/** Counters of a {@link PaperFeed}. */
export interface PaperFeedStats {
  /** Ticks handed to the engine. */
  readonly traded: number;
  /** Ticks of symbols not traded (outside `--symbols`). */
  readonly skipped: number;
}

/**
 * What `paper` hands each batch of the bus to: ticks of the symbols traded
 * go to the engine, in order; the others are passed over (and acked with
 * the batch: they are not this consumer's business). A symbol's strategy is
 * warmed up on its recent ticks the first time the symbol is seen, unless
 * that was done at start.
 */
export class PaperFeed {
  readonly #engine: PaperEngine;
  readonly #symbols: ReadonlySet<string> | undefined;
  readonly #warmed: Set<string>;
  #traded = 0;
  #skipped = 0;

  /**
   * @param symbols the symbols traded; undefined: every symbol.
   * @param warmed the symbols already warmed up.
   */
  constructor(
    engine: PaperEngine,
    symbols: readonly string[] | undefined,
    warmed: readonly string[] = [],
  ) {
    this.#engine = engine;
    this.#symbols = symbols === undefined ? undefined : new Set(symbols);
    this.#warmed = new Set(warmed);
  }

  /** Feeds a batch; resolves once every tick of it reached the engine (or was passed over). */
  async take(ticks: readonly Tick[]): Promise<void> {
    for (const tick of ticks) {
      if (this.#symbols !== undefined && !this.#symbols.has(tick.symbol)) {
        this.#skipped += 1;
        continue;
      }
      if (!this.#warmed.has(tick.symbol)) {
        this.#warmed.add(tick.symbol);
        await this.#engine.warmUp([tick.symbol]);
      }
      this.#engine.onTick(tick);
      this.#traded += 1;
    }
  }

  stats(): PaperFeedStats {
    return { traded: this.#traded, skipped: this.#skipped };
  }
}
