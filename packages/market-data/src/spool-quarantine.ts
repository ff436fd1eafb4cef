import type { Logger } from '@trade/core';
import { mkdir, open } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { appendWhole, syncDirectory } from './spool-files.js';
import { NEWLINE, type RecordSlice } from './spool-record.js';

/** Subdirectory of the spool where damaged records are copied, one file per segment. */
export const QUARANTINE_DIR = 'quarantine';
// Damaged records described in one log line, at most.
const LOGGED_RECORDS = 20;

/** A record of a spool segment that could not be replayed, set aside in the quarantine. */
export interface CorruptSpoolRecord {
  /** The segment file it was read from. */
  readonly segment: string;
  /** Its line in the segment, from 1. */
  readonly line: number;
  /** Its first byte's offset in the segment. */
  readonly offset: number;
  /** Its length in bytes, newline excluded. */
  readonly bytes: number;
  /**
   * `checksum`: its bytes do not match its CRC-32; `unreadable`: no valid
   * header, or a record without checksum (legacy format) whose JSON or tick
   * count is wrong; `torn`: the segment ends part-way through it (an append
   * cut short by a crash).
   */
  readonly reason: 'checksum' | 'unreadable' | 'torn';
  /** The file its bytes were appended to; `undefined` when that failed and they were logged instead. */
  readonly quarantinedTo: string | undefined;
}

/** A damaged record of a segment, and why it cannot be replayed. */
export type DamagedRecord = RecordSlice & { readonly reason: CorruptSpoolRecord['reason'] };

/**
 * Copies damaged records of the segment at `segmentPath` to
 * `<spoolDir>/quarantine/<segment file name>`, fsync'd; logs them, and
 * reports each to `onCorruptRecord`. When the copy cannot be written (a
 * full disk), their bytes go to the error log in base64 instead: replay
 * never waits on a damaged record.
 */
export async function quarantine(
  spoolDir: string,
  segmentPath: string,
  records: readonly DamagedRecord[],
  logger: Logger,
  onCorruptRecord: ((record: CorruptSpoolRecord) => void) | undefined,
): Promise<void> {
  const dir = join(spoolDir, QUARANTINE_DIR);
  const target = join(dir, basename(segmentPath));
  let quarantinedTo: string | undefined = target;
  try {
    await mkdir(dir, { recursive: true });
    const handle = await open(target, 'a');
    try {
      const { size } = await handle.stat();
      await appendWhole(
        handle,
        Buffer.concat(records.flatMap((r) => [r.bytes, Buffer.of(NEWLINE)])),
        size,
      );
    } finally {
      await handle.close();
    }
    await syncDirectory(dir);
    await syncDirectory(spoolDir);
  } catch (error) {
    quarantinedTo = undefined;
    logger.error(
      {
        err: error,
        segment: segmentPath,
        records: records.map((r) => ({
          line: r.line,
          offset: r.offset,
          reason: r.reason,
          base64: r.bytes.toString('base64'),
        })),
      },
      'spool: cannot write the quarantine file; the damaged records are in this entry (base64)',
    );
  }
  logger.warn(
    {
      segment: segmentPath,
      quarantine: quarantinedTo,
      count: records.length,
      records: records.slice(0, LOGGED_RECORDS).map((r) => ({
        line: r.line,
        offset: r.offset,
        bytes: r.bytes.length,
        reason: r.reason,
      })),
    },
    'spool: damaged records set aside; the rest of the segment is replayed',
  );
  for (const r of records) {
    onCorruptRecord?.({
      segment: segmentPath,
      line: r.line,
      offset: r.offset,
      bytes: r.bytes.length,
      reason: r.reason,
      quarantinedTo,
    });
  }
}
