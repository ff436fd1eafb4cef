/**
 * Why a frame from the exchange was not turned into a tick: the values of the
 * `reason` label of `trading_ticks_rejected_total`. A closed set keeps the
 * label's cardinality bounded.
 */
export const TICK_REJECT_REASONS = [
  'invalid_json',
  'not_an_object',
  'unknown_event',
  'missing_field',
  'invalid_field',
  'non_positive',
  'subscription_reply',
  'error_payload',
  'symbol_mismatch',
] as const;

/** One of {@link TICK_REJECT_REASONS}. */
export type TickRejectReason = (typeof TICK_REJECT_REASONS)[number];
