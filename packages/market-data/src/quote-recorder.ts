import type { Quote } from '@trade/core';
import type { QuoteRepository } from './quote-repository.js';
import { RecordRecorder } from './record-recorder.js';
import type { RecordRecorderOptions } from './record-recorder-types.js';
import type { RecordCodec } from './record-spool.js';

/** Options of {@link startQuoteRecorder}: those of {@link RecordRecorder.start} but the row specifics. */
export interface QuoteRecorderOptions extends Omit<
  RecordRecorderOptions<Quote>,
  'insert' | 'codec' | 'name' | 'rejectedField'
> {
  repository: Pick<QuoteRepository, 'insert'>;
}

/** A {@link RecordRecorder} of quotes. */
export type QuoteRecorder = RecordRecorder<Quote>;

/**
 * A quote in the spool: `[symbol, updateId, bidPrice, bidQty, askPrice,
 * askQty, receiveTime]`, decimals as the strings received, the receive time
 * (the stored `timestamp`) in milliseconds exactly.
 */
export const quoteCodec: RecordCodec<Quote> = {
  encode: (q) => [q.symbol, q.updateId, q.bidPrice, q.bidQty, q.askPrice, q.askQty, q.receiveTime],
  decode(value) {
    if (!Array.isArray(value) || value.length !== 7) throw new TypeError('not a quote tuple');
    const [symbol, updateId, bidPrice, bidQty, askPrice, askQty, receiveTime] = value as unknown[];
    if (
      typeof symbol !== 'string' ||
      typeof updateId !== 'number' ||
      typeof bidPrice !== 'string' ||
      typeof bidQty !== 'string' ||
      typeof askPrice !== 'string' ||
      typeof askQty !== 'string' ||
      typeof receiveTime !== 'number'
    ) {
      throw new TypeError('not a quote tuple');
    }
    return { symbol, updateId, bidPrice, bidQty, askPrice, askQty, receiveTime };
  },
};

/**
 * Records quotes into `quote_data` through a {@link QuoteRepository}: in
 * batches, each (symbol, update id) once, spooled to `spoolDir` while the
 * database does not take them (see {@link RecordRecorder}). Refused quotes
 * go to `<spoolDir>/rejected.jsonl` as `{"at","reason","quote"}` lines.
 *
 * @example
 * ```ts
 * const quotes = await startQuoteRecorder({
 *   repository: new QuoteRepository(db),
 *   spoolDir: join(DATA_DIR, 'spool', 'quotes'),
 *   logger,
 * });
 * client.onQuote((quote) => quotes.offer(quote));
 * const { lost } = await quotes.close();
 * ```
 */
export function startQuoteRecorder(options: QuoteRecorderOptions): Promise<QuoteRecorder> {
  const { repository, ...rest } = options;
  return RecordRecorder.start<Quote>({
    ...rest,
    name: 'quotes',
    rejectedField: 'quote',
    codec: quoteCodec,
    async insert(rows) {
      const { inserted, duplicates, rejected } = await repository.insert(rows);
      return {
        inserted,
        duplicates,
        rejected: rejected.map((r) => ({ row: r.quote, reason: r.reason })),
      };
    },
  });
}
