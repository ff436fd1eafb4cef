/**
 * Two streams each ordered by `(time, id)` as one, in that order; an item
 * whose key is in both (a day archived and still in the database, or made
 * again by a late backfill) comes once, from `first`. Reads one item ahead
 * in each, so memory stays flat however long the streams.
 *
 * @example
 * ```ts
 * const ticks = mergeByTime(
 *   repository.ticks('BTCUSDT', { from, to }),
 *   archive.ticks('BTCUSDT', from, to),
 *   (t) => [t.tradeTime, t.tradeId],
 * );
 * ```
 */
export async function* mergeByTime<T>(
  first: AsyncIterable<T>,
  second: AsyncIterable<T>,
  keyOf: (item: T) => readonly [time: number, id: number],
): AsyncGenerator<T> {
  const a = first[Symbol.asyncIterator]();
  const b = second[Symbol.asyncIterator]();
  try {
    let [x, y] = await Promise.all([a.next(), b.next()]);
    while (x.done !== true || y.done !== true) {
      if (y.done === true) {
        yield x.value as T;
        x = await a.next();
        continue;
      }
      if (x.done === true) {
        yield y.value;
        y = await b.next();
        continue;
      }
      const order = compareKeys(keyOf(x.value), keyOf(y.value));
      if (order <= 0) {
        yield x.value;
        if (order === 0) y = await b.next();
        x = await a.next();
      } else {
        yield y.value;
        y = await b.next();
      }
    }
  } finally {
    await Promise.all([a.return?.(), b.return?.()]);
  }
}

function compareKeys(p: readonly [number, number], q: readonly [number, number]): number {
  return p[0] - q[0] || p[1] - q[1];
}
