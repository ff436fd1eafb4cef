import type { Tick } from '@trade/core';
import type { TickRepository } from '@trade/market-data';

/** `items` cut into arrays of `size` (the last one shorter). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Writes `batches` as the market-data service does: `writers` batches in
 * flight at once, each committing after the one before it.
 */
export async function writeInOrder(
  repository: TickRepository,
  batches: readonly Tick[][],
  writers: number,
): Promise<void> {
  let next = 0;
  let last: Promise<void> = Promise.resolve();
  const writer = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      const previous = last;
      let durable!: () => void;
      last = new Promise<void>((resolve) => (durable = resolve));
      try {
        await repository.insertTicks(batch, writers > 1 ? { commitAfter: previous } : {});
      } finally {
        durable();
      }
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
}
