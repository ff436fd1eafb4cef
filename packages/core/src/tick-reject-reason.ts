/**
 * Reasons one stream frame can be rejected for, judged from that frame alone
 * (its bytes, its fields, its size). A simulator can produce each of them
 * with a single frame.
 */
export const FRAME_REJECT_REASONS = [
  'invalid_json',
  'not_an_object',
  'unknown_event',
  'missing_field',
  'invalid_field',
  'non_positive',
  'subscription_reply',
  'error_payload',
  'symbol_mismatch',
  /** A frame larger than a trade could be (over 1 MiB): skipped unread. */
  'oversized_frame',
  /** A trade time before Binance opened (2017-01-01T00:00:00Z). */
  'implausible_time',
] as const;

/** One of {@link FRAME_REJECT_REASONS}. */
export type FrameRejectReason = (typeof FRAME_REJECT_REASONS)[number];

/**
 * Why something from the exchange was not turned into a tick: the values of
 * the `reason` label of `trading_ticks_rejected_total`. A closed set keeps the
 * label's cardinality bounded. Besides {@link FRAME_REJECT_REASONS}:
 *
 * - `ahead_of_exchange`: a trade whose id is beyond the newest trade id the
 *   exchange's REST API reports (a bogus id that would stall the symbol);
 * - `invalid_rest_answer`: a whole REST answer refused (more rows than asked,
 *   ids outside the asked range, another symbol, a body too large); counted
 *   once per answer;
 * - `crossed_book`: a quote or order book whose best bid is at or above its
 *   best ask (the exchange's matching engine cannot leave one standing).
 */
export const TICK_REJECT_REASONS = [
  ...FRAME_REJECT_REASONS,
  'ahead_of_exchange',
  'invalid_rest_answer',
  'crossed_book',
] as const;

/** One of {@link TICK_REJECT_REASONS}. */
export type TickRejectReason = (typeof TICK_REJECT_REASONS)[number];

/**
 * No trade on Binance is older than this (2017-01-01T00:00:00Z, epoch ms):
 * the exchange opened in July 2017. A trade time before it is a broken frame.
 */
export const MIN_PLAUSIBLE_TRADE_TIME = 1_483_228_800_000;
