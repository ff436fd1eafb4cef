/**
 * Why a quote or order-book message from the exchange was refused: the
 * trade reasons of `@trade/core` that apply (same words, same meaning),
 * plus `crossed_book` (a best bid at or above the best ask, which the
 * exchange's matching engine cannot leave standing). A closed set keeps a
 * metric label's cardinality bounded.
 */
export const BOOK_REJECT_REASONS = [
  'invalid_json',
  'not_an_object',
  'error_payload',
  'unknown_event',
  'missing_field',
  'invalid_field',
  'non_positive',
  'implausible_time',
  'symbol_mismatch',
  'crossed_book',
  /** A whole REST answer refused (a depth snapshot that fails a check). */
  'invalid_rest_answer',
] as const;

/** One of {@link BOOK_REJECT_REASONS}. */
export type BookRejectReason = (typeof BOOK_REJECT_REASONS)[number];

/** A message refused, with the reason and a short detail naming the field. */
export interface BookReject {
  readonly kind: 'rejected';
  readonly reason: BookRejectReason;
  readonly detail: string;
}

export function rejectBook(reason: BookRejectReason, detail: string): BookReject {
  return { kind: 'rejected', reason, detail };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `typeof`, telling `null` and arrays apart, for details. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A stream payload taken out of its combined-stream envelope, with the stream's name. */
export type Unwrapped =
  | { readonly kind: 'payload'; readonly data: Record<string, unknown>; readonly stream?: string }
  | BookReject;

/**
 * The payload of a frame: `{"stream":..,"data":{..}}` (a combined stream)
 * or the payload itself (a raw stream, a test fixture). Error payloads
 * (`{"code":..,"msg":..}`) are refused.
 */
export function unwrapPayload(value: unknown): Unwrapped {
  if (!isObject(value)) return rejectBook('not_an_object', describeType(value));
  if ('code' in value && 'msg' in value) {
    return rejectBook('error_payload', `code ${String(value.code)}: ${String(value.msg)}`);
  }
  if (!('data' in value) && !('stream' in value)) return { kind: 'payload', data: value };
  if (!('data' in value)) return rejectBook('missing_field', 'data');
  if (!isObject(value.data)) return rejectBook('invalid_field', 'data is not an object');
  if (!('stream' in value)) return { kind: 'payload', data: value.data };
  if (typeof value.stream !== 'string') return rejectBook('invalid_field', 'stream');
  return { kind: 'payload', data: value.data, stream: value.stream };
}

/** JSON text to a value, or `invalid_json` with the start of the text. */
export function parseJson(text: string): { kind: 'value'; value: unknown } | BookReject {
  try {
    return { kind: 'value', value: JSON.parse(text) };
  } catch {
    return rejectBook('invalid_json', text.length > 80 ? `${text.slice(0, 80)}…` : text);
  }
}
