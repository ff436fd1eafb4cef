import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@trade/core';

const FILE = 'open-gaps.json';

/** Trade ids of one symbol that REST had not delivered when the app stopped. */
export interface RecordedGap {
  readonly symbol: string;
  readonly fromId: number;
  readonly toId: number;
}

/**
 * Writes the gaps left open at stop to `DATA_DIR/open-gaps.json` (replacing
 * the last run's), so the next start backfills them: the ticks after a gap
 * are stored, so resuming after the newest stored id alone would skip it.
 */
export async function saveOpenGaps(dataDir: string, gaps: readonly RecordedGap[]): Promise<void> {
  const path = join(dataDir, FILE);
  // Written whole then renamed: a crash mid-write leaves the previous file, never half of one.
  await writeFile(`${path}.tmp`, `${JSON.stringify(gaps, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

/** The gaps an earlier run left open; none when there is no file or it is unreadable (logged). */
export async function loadOpenGaps(dataDir: string, logger: Logger): Promise<RecordedGap[]> {
  const path = join(dataDir, FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed)) throw new Error('not an array');
    return parsed.filter(isGap);
  } catch (error) {
    logger.error({ err: error, path }, 'open gaps of the last run unreadable; not backfilled');
    return [];
  }
}

function isGap(value: unknown): value is RecordedGap {
  const gap = value as Partial<RecordedGap> | null;
  return (
    typeof gap?.symbol === 'string' &&
    Number.isSafeInteger(gap.fromId) &&
    Number.isSafeInteger(gap.toId) &&
    gap.fromId! <= gap.toId!
  );
}

/**
 * Resume points that refetch each recorded gap: a symbol resumes before its
 * oldest recorded gap when that is earlier than where it would resume anyway
 * (what is refetched after the gap is stored once: the repository skips repeats).
 */
export function resumeBeforeGaps(
  resumeFrom: Map<string, number>,
  gaps: readonly RecordedGap[],
): Map<string, number> {
  const out = new Map(resumeFrom);
  for (const gap of gaps) {
    const at = out.get(gap.symbol);
    if (at !== undefined && gap.fromId - 1 < at) out.set(gap.symbol, gap.fromId - 1);
  }
  return out;
}
