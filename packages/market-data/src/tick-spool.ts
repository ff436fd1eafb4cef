import { ConfigError, TradeError, silentLogger, type Logger, type Tick } from '@trade/core';
import { mkdir, open, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { RejectedLog } from './rejected-log.js';
import {
  TornAppendError,
  appendWhole,
  ignoreMissing,
  messageOf,
  syncDirectory,
} from './spool-files.js';
import { quarantine, type CorruptSpoolRecord, type DamagedRecord } from './spool-quarantine.js';
import {
  checkRecord,
  encodeRecord,
  parseRecord,
  splitRecords,
  type RecordSlice,
} from './spool-record.js';
import { indexSegments, noteHighestIds, segmentName, type Segment } from './spool-segment.js';
import type { RejectedTick } from './tick-repository.js';

export { QUARANTINE_DIR } from './spool-quarantine.js';
export type { CorruptSpoolRecord } from './spool-quarantine.js';

/** Options of {@link TickSpool.open}. */
export interface TickSpoolOptions {
  /** A segment file is closed and a new one started past this size. Default 8 MiB. */
  segmentBytes?: number;
  /**
   * `rejected.jsonl` is rotated before an append would take it past this
   * size: it becomes `rejected.1.jsonl`, the older ones shift up. Default
   * 16 MiB.
   */
  rejectedFileBytes?: number;
  /**
   * Rotated files kept (`rejected.1.jsonl`...`rejected.<n>.jsonl`); the
   * oldest beyond is deleted. Disk use of refused ticks stays within about
   * `(n + 1) * rejectedFileBytes`. Default 3.
   */
  rejectedFilesKept?: number;
  logger?: Logger;
  /**
   * Called once for each damaged record met while reading a segment back,
   * after its bytes were copied to the quarantine (the market-data service
   * counts them in `trading_spool_corrupt_records_total`).
   */
  onCorruptRecord?: (record: CorruptSpoolRecord) => void;
}

interface ActiveSegment {
  readonly segment: Segment;
  readonly handle: FileHandle;
  /** Bytes of whole records written: where a failed append is cut back to. */
  size: number;
}

interface Reader {
  readonly segment: Segment;
  /** The segment's records that passed their checks, parsed one at a time. */
  readonly records: (RecordSlice & { readonly count: number })[];
  index: number;
  /** The batch of `records[index]` once parsed: what {@link TickSpool.next} returned. */
  current: Tick[] | undefined;
}

/**
 * The durable spool of ticks the database has not taken yet: append-only
 * segment files in one directory, one batch per line, each append fsync'd
 * before it resolves. Batches are read back in the order they were
 * appended, across restarts; a segment is deleted once every batch in it
 * is acknowledged.
 *
 * A record is `<tick count> <CRC-32, 8 hex digits> <JSON array of tick
 * tuples>\n`; the checksum covers the count, its space and the JSON
 * (`crc32(json, crc32('<count> '))` with `node:zlib`). Records of the
 * earlier format, `<tick count> <JSON>\n` without checksum, are still read
 * (a legacy record is checked for valid JSON and count only); every new
 * append carries a checksum.
 *
 * An append either reaches the disk whole or fails: a short or failed write
 * (a full disk) is cut back to the last whole record and rejects, and the
 * segment it was written to takes the next append, so a disk that keeps
 * refusing never leaves torn records or a trail of empty files.
 *
 * A record that fails its checksum, cannot be read, or was torn by a crash
 * mid-append is copied byte for byte (plus a newline) to
 * `quarantine/<segment file name>`, logged, reported through
 * `onCorruptRecord`, and skipped; the segment's other records are replayed.
 * If the quarantine file cannot be written either (a full disk), the bytes
 * go to the error log in base64 instead, so replay is never stuck behind a
 * damaged record. A crash during replay may copy a record there twice.
 *
 * A crash between a batch's insert and its acknowledgement replays that
 * segment again after restart: the repository stores each tick once, so
 * that is harmless.
 *
 * One process per directory.
 */
export class TickSpool {
  readonly #dir: string;
  readonly #segmentBytes: number;
  readonly #logger: Logger;
  readonly #onCorruptRecord: ((record: CorruptSpoolRecord) => void) | undefined;
  readonly #segments: Segment[];
  #nextSeq: number;
  #active: ActiveSegment | undefined;
  #reader: Reader | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #pendingAppends = 0;
  #tickCount: number;
  readonly #rejected: RejectedLog;

  private constructor(
    dir: string,
    segments: Segment[],
    tickCount: number,
    options: TickSpoolOptions,
  ) {
    this.#dir = dir;
    this.#segments = segments;
    this.#tickCount = tickCount;
    this.#nextSeq = (segments.at(-1)?.seq ?? 0) + 1;
    this.#segmentBytes = options.segmentBytes ?? 8 * 1024 * 1024;
    this.#logger = options.logger ?? silentLogger;
    this.#rejected = new RejectedLog(
      dir,
      options.rejectedFileBytes ?? 16 * 1024 * 1024,
      options.rejectedFilesKept ?? 3,
      this.#logger,
    );
    this.#onCorruptRecord = options.onCorruptRecord;
  }

  /**
   * Opens (creating it if needed) the spool in `dir`; segments left by an
   * earlier run are kept for replay, empty ones deleted. Damaged records are
   * left out of {@link tickCount} and {@link highestTradeIds}; they are
   * quarantined when their segment is replayed.
   */
  static async open(dir: string, options: TickSpoolOptions = {}): Promise<TickSpool> {
    const { rejectedFileBytes, rejectedFilesKept } = options;
    if (rejectedFileBytes !== undefined && !(rejectedFileBytes > 0)) {
      throw new ConfigError('rejectedFileBytes', rejectedFileBytes, 'a positive number of bytes');
    }
    if (
      rejectedFilesKept !== undefined &&
      !(Number.isSafeInteger(rejectedFilesKept) && rejectedFilesKept >= 0)
    ) {
      throw new ConfigError('rejectedFilesKept', rejectedFilesKept, 'a non-negative integer');
    }
    await mkdir(dir, { recursive: true });
    const segments = await indexSegments(dir);
    const tickCount = segments.reduce((sum, segment) => sum + segment.ticks, 0);
    return new TickSpool(dir, segments, tickCount, options);
  }

  /** True when no batch waits in the spool and no append is under way. */
  get isEmpty(): boolean {
    return this.#pendingAppends === 0 && this.#segments.every((s) => s.bytes === 0);
  }

  /** Ticks in the spool not yet acknowledged, those left by an earlier run included. */
  get tickCount(): number {
    return this.#tickCount;
  }

  /** Segment files holding records not yet replayed. */
  get segmentCount(): number {
    return this.#segments.filter((s) => s.bytes > 0).length;
  }

  /**
   * The highest trade id of each symbol in the spool's segments, those left
   * by an earlier run included (read when the spool is opened). An upper
   * bound: a segment's ticks count until the whole segment is replayed and
   * deleted, so a value may belong to a tick already stored. A symbol is
   * absent when the spool holds none of its ticks. Where to resume the
   * exchange stream is the larger of this and the database's newest id.
   */
  highestTradeIds(): Map<string, number> {
    const highest = new Map<string, number>();
    for (const segment of this.#segments) {
      for (const [symbol, id] of segment.highestIds) {
        if (id > (highest.get(symbol) ?? -Infinity)) highest.set(symbol, id);
      }
    }
    return highest;
  }

  /**
   * Appends one batch durably: resolves once all of it is written and
   * fsync'd. Rejects with a retryable {@link TradeError} when the disk took
   * less (full, failing); the segment is then cut back to its last whole
   * record, so nothing of the batch is in the spool.
   */
  async append(ticks: readonly Tick[]): Promise<void> {
    if (ticks.length === 0) return;
    const record = encodeRecord(ticks);
    this.#pendingAppends += 1;
    try {
      const segment = await this.#serial(() => this.#write(record));
      noteHighestIds(segment.highestIds, ticks);
      segment.ticks += ticks.length;
      this.#tickCount += ticks.length;
    } finally {
      this.#pendingAppends -= 1;
    }
  }

  /**
   * The oldest batch not yet acknowledged, or `undefined` when the spool is
   * empty. The same batch comes back until {@link ack} is called. Damaged
   * records met on the way are quarantined (see the class notes).
   */
  async next(): Promise<Tick[] | undefined> {
    for (;;) {
      if (!this.#reader) {
        const oldest = this.#segments[0];
        if (!oldest) return undefined;
        if (this.#active?.segment === oldest) {
          if (this.#active.size === 0) return undefined;
          // Appends go to a new segment from now on; re-read the list after.
          await this.#serial(() => this.#seal());
          continue;
        }
        this.#reader = await this.#load(oldest);
      }
      const reader = this.#reader;
      while (reader.index < reader.records.length) {
        if (reader.current) return reader.current;
        const record = reader.records[reader.index]!;
        const ticks = parseRecord(record.bytes);
        if (ticks) {
          reader.current = ticks;
          return ticks;
        }
        // Its checksum matched but it does not parse: written wrong, not damaged on disk.
        await this.#quarantine(reader.segment, [{ ...record, reason: 'unreadable' }]);
        this.#forget(reader.segment, record.count);
        reader.index += 1;
      }
      await this.#finishSegment();
    }
  }

  /**
   * Marks the batch last returned by {@link next} as stored. It is counted
   * off {@link tickCount} at once, before the returned promise settles (a
   * finished segment is deleted meanwhile).
   */
  async ack(): Promise<void> {
    const reader = this.#reader;
    if (!reader?.current) throw new TradeError('spool: ack without a batch read');
    this.#forget(reader.segment, reader.current.length);
    reader.current = undefined;
    reader.index += 1;
    if (reader.index >= reader.records.length) await this.#finishSegment();
  }

  /**
   * Appends ticks the database refused to `rejected.jsonl` beside the
   * segments, fsync'd: refused, not lost. Before an append would take the
   * file past `rejectedFileBytes` it is rotated (see {@link TickSpoolOptions}).
   * A write the disk does not take whole is cut back and rejects.
   */
  appendRejected(rejected: readonly RejectedTick[]): Promise<void> {
    return this.#rejected.append(rejected);
  }

  /** Resolves once every append started so far has finished. */
  async settled(): Promise<void> {
    await this.#serial(() => Promise.resolve());
  }

  /** Waits for appends under way and closes the open segment (deleted if empty). */
  async close(): Promise<void> {
    await this.#serial(() => this.#seal());
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(task, task);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Writes `record` whole to the open segment (a new one when full); resolves with that segment. */
  async #write(record: Buffer): Promise<Segment> {
    if (this.#active && this.#active.size >= this.#segmentBytes) await this.#seal();
    const active = this.#active ?? (await this.#startSegment());
    try {
      await appendWhole(active.handle, record, active.size);
    } catch (error) {
      // A part stays on disk when the file could not be cut back: no more
      // appends go after it, so it stays the segment's torn last record,
      // quarantined when read.
      if (error instanceof TornAppendError) await this.#seal().catch(() => undefined);
      throw new TradeError(
        `spool: cannot append ${record.length} bytes to ${active.segment.path}: ${messageOf(error)}`,
        { cause: error, isRetryable: true },
      );
    }
    active.size += record.length;
    active.segment.bytes = active.size;
    return active.segment;
  }

  async #startSegment(): Promise<ActiveSegment> {
    const seq = this.#nextSeq;
    const segment: Segment = {
      seq,
      path: join(this.#dir, segmentName(seq)),
      highestIds: new Map(),
      bytes: 0,
      ticks: 0,
    };
    const handle = await open(segment.path, 'a');
    this.#nextSeq += 1;
    this.#segments.push(segment);
    this.#active = { segment, handle, size: 0 };
    await syncDirectory(this.#dir);
    return this.#active;
  }

  /** Closes the open segment; one that holds no record is deleted rather than kept. */
  async #seal(): Promise<void> {
    const active = this.#active;
    this.#active = undefined;
    if (!active) return;
    await active.handle.close();
    if (active.size === 0) {
      this.#segments.splice(this.#segments.indexOf(active.segment), 1);
      await unlink(active.segment.path).catch(ignoreMissing);
    }
  }

  /** Reads a segment, quarantining the records that fail their checks. */
  async #load(segment: Segment): Promise<Reader> {
    const { records, torn } = splitRecords(await readFile(segment.path));
    const good: Reader['records'] = [];
    const bad: DamagedRecord[] = [];
    let ticks = 0;
    for (const record of records) {
      const checked = checkRecord(record.bytes);
      if (checked.problem) {
        bad.push({ ...record, reason: checked.problem });
      } else {
        good.push({ ...record, count: checked.count });
        ticks += checked.count;
      }
    }
    if (torn) bad.push({ ...torn, reason: 'torn' });
    if (bad.length > 0) await this.#quarantine(segment, bad);
    // What the segment really holds, should it differ from what was counted.
    this.#tickCount += ticks - segment.ticks;
    segment.ticks = ticks;
    return { segment, records: good, index: 0, current: undefined };
  }

  #quarantine(segment: Segment, records: readonly DamagedRecord[]): Promise<void> {
    return quarantine(this.#dir, segment.path, records, this.#logger, this.#onCorruptRecord);
  }

  #forget(segment: Segment, ticks: number): void {
    segment.ticks -= ticks;
    this.#tickCount -= ticks;
  }

  async #finishSegment(): Promise<void> {
    const reader = this.#reader;
    if (!reader) return;
    this.#reader = undefined;
    await unlink(reader.segment.path).catch(ignoreMissing);
    this.#segments.splice(this.#segments.indexOf(reader.segment), 1);
    await syncDirectory(this.#dir);
  }
}
