import type { RecordedGap } from './open-gaps-file.js';

/**
 * A readiness check that fails while a gap in trade ids stays open longer
 * than `limitMs`: a symbol whose backfill keeps failing delivers nothing
 * after its gap, which a connected stream alone would not show.
 */
export function gapReadiness(
  openGaps: () => readonly RecordedGap[],
  limitMs: number,
  now: () => number = Date.now,
): () => { ok: boolean; reason: string } {
  // When each open gap was first seen: a gap is known by its symbol and first missing id.
  let firstSeen = new Map<string, number>();
  return () => {
    const at = now();
    const seen = new Map<string, number>();
    const stale: string[] = [];
    for (const gap of openGaps()) {
      const key = `${gap.symbol}:${gap.fromId}`;
      const since = firstSeen.get(key) ?? at;
      seen.set(key, since);
      if (at - since >= limitMs) {
        stale.push(
          `${gap.symbol} trade ids ${gap.fromId}-${gap.toId} missing for ${Math.round((at - since) / 1000)} s`,
        );
      }
    }
    firstSeen = seen;
    return { ok: stale.length === 0, reason: `gaps not backfilled: ${stale.join('; ')}` };
  };
}
