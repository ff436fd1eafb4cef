/**
 * Milliseconds a `Retry-After` header asks to wait: delta-seconds (`"120"`)
 * or an HTTP date; `undefined` when absent or unreadable (never thrown: the
 * header comes from the network).
 *
 * @example
 * ```ts
 * parseRetryAfter(response.headers.get('retry-after'), Date.now()); // 2000 for "2"
 * ```
 */
export function parseRetryAfter(
  value: string | readonly string[] | null | undefined,
  now: number,
): number | undefined {
  const text = (typeof value === 'string' ? value : value?.[0])?.trim();
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) {
    const ms = Number(text) * 1000;
    return ms > 0 && Number.isFinite(ms) ? ms : undefined;
  }
  const at = Date.parse(text);
  return Number.isFinite(at) && at > now ? at - now : undefined;
}
