/**
 * Why a message of the bus did not decode into a record: the JSON is
 * broken, it is not an object, it carries another layout version, a field
 * is missing or invalid, or its symbol is not the one its subject names.
 */
export const BUS_REJECT_REASONS = [
  'invalid_json',
  'not_an_object',
  'unknown_version',
  'missing_field',
  'invalid_field',
  'symbol_mismatch',
] as const;

/** One of {@link BUS_REJECT_REASONS}. */
export type BusRejectReason = (typeof BUS_REJECT_REASONS)[number];

/** Why a message did not decode: what every decoder of the bus returns instead of a record. */
export interface BusRejection {
  readonly ok: false;
  readonly reason: BusRejectReason;
  readonly message: string;
}

/** What {@link BusRecordKind.decode} returns: a record, or why there is none. */
export type DecodedRecord<T> = { readonly ok: true; readonly record: T } | BusRejection;

/**
 * How one kind of record travels on the bus: its channel (the subject's
 * `md.binance.<channel>.<SYMBOL>` and the message id's
 * `binance:<channel>:<SYMBOL>:<id>`), its body, its symbol and its id.
 * The publisher, the consumer and their spool handling are the same for
 * every kind: {@link tickKind}, {@link quoteKind} and
 * {@link bookSnapshotKind} are the ones of the bus.
 *
 * @example
 * ```ts
 * const publisher = await startRecordPublisher({ nc, kind: quoteKind, spool });
 * const consumer = await startRecordConsumer({ nc, kind: quoteKind, consumer: 'store-quotes', handler });
 * ```
 */
export interface BusRecordKind<T> {
  /** The channel token of its subjects and message ids: `trade`, `bookTicker`, `depth`. */
  readonly channel: string;
  /** One record, in logs and errors: `tick`, `quote`, `book snapshot`. */
  readonly noun: string;
  /** More than one: `ticks`, `quotes`, `book snapshots`. */
  readonly plural: string;
  /** The message body. */
  readonly encode: (record: T) => Uint8Array;
  /** Reads a body back, checked; never throws. */
  readonly decode: (data: Uint8Array) => DecodedRecord<T>;
  /** The record's symbol, upper case. */
  readonly symbol: (record: T) => string;
  /** The id of its message id: the trade id, or the update id. */
  readonly id: (record: T) => number;
  /**
   * Throws an `InvalidInputError` naming the first bad field of a record
   * offered to a publisher; absent for kinds whose type is only made by a
   * checking factory (`createTick`, `createQuote`).
   */
  readonly check?: (record: T) => void;
}
