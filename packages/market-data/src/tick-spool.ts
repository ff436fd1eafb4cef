import { ConfigError, TradeError, silentLogger, type Logger, type Tick } from '@trade/core';
import { mkdir, open, readFile, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { fromTuple, toTuple, type TickTuple } from './tick-rows.js';
import type { RejectedTick } from './tick-repository.js';

const SEGMENT = /^ticks-(\d{12})\.spool$/;
const REJECTED_FILE = 'rejected.jsonl';
const rotatedRejectedFile = (n: number) => `rejected.${n}.jsonl`;
/** Subdirectory of the spool where damaged records are copied, one file per segment. */
export const QUARANTINE_DIR = 'quarantine';
const NEWLINE = 0x0a;
const SPACE = 0x20;
const OPEN_BRACKET = 0x5b;
const CHECKSUM = /^[0-9a-f]{8}$/;
// Damaged records described in one log line, at most.
const LOGGED_RECORDS = 20;

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

interface Segment {
  readonly seq: number;
  readonly path: string;
  /** Highest trade id per symbol among the segment's ticks. */
  readonly highestIds: Map<string, number>;
  /** Bytes of whole records in the file. */
  bytes: number;
  /** Ticks of its readable records not yet acknowledged. */
  ticks: number;
}

interface ActiveSegment {
  readonly segment: Segment;
  readonly handle: FileHandle;
  /** Bytes of whole records written: where a failed append is cut back to. */
  size: number;
}

interface RecordSlice {
  readonly bytes: Buffer;
  readonly line: number;
  readonly offset: number;
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
  readonly #rejectedFileBytes: number;
  readonly #rejectedFilesKept: number;
  #rejectedChain: Promise<unknown> = Promise.resolve();

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
    this.#rejectedFileBytes = options.rejectedFileBytes ?? 16 * 1024 * 1024;
    this.#rejectedFilesKept = options.rejectedFilesKept ?? 3;
    this.#logger = options.logger ?? silentLogger;
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
    const found = (await readdir(dir))
      .map((name) => SEGMENT.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ seq: Number(m[1]), path: join(dir, m[0]) }))
      .sort((a, b) => a.seq - b.seq);
    const segments: Segment[] = [];
    let tickCount = 0;
    for (const { seq, path } of found) {
      const bytes = await readFile(path);
      if (bytes.length === 0) {
        await unlink(path).catch(ignoreMissing);
        continue;
      }
      const segment: Segment = { seq, path, highestIds: new Map(), bytes: bytes.length, ticks: 0 };
      for (const record of splitRecords(bytes).records) {
        const checked = checkRecord(record.bytes);
        if (checked.problem) continue;
        segment.ticks += checked.count;
        noteHighestIds(segment.highestIds, checked.ticks ?? parseRecord(record.bytes) ?? []);
      }
      tickCount += segment.ticks;
      segments.push(segment);
    }
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

  /** Marks the batch last returned by {@link next} as stored. */
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
    if (rejected.length === 0) return Promise.resolve();
    const text = rejected
      .map(
        (r) =>
          `${JSON.stringify({ at: new Date().toISOString(), reason: r.reason, tick: r.tick })}\n`,
      )
      .join('');
    // One at a time: two writers may record refusals together, and a
    // rotation must not rename the file under another append.
    const run = this.#rejectedChain.then(() => this.#writeRejected(Buffer.from(text)));
    this.#rejectedChain = run.catch(() => undefined);
    return run;
  }

  async #writeRejected(bytes: Buffer): Promise<void> {
    const path = join(this.#dir, REJECTED_FILE);
    let handle = await open(path, 'a');
    try {
      let { size } = await handle.stat();
      if (size > 0 && size + bytes.length > this.#rejectedFileBytes) {
        await handle.close();
        await this.#rotateRejected(size);
        handle = await open(path, 'a');
        size = 0;
      }
      await appendWhole(handle, bytes, size);
    } finally {
      await handle.close();
    }
  }

  /** rejected.jsonl -> rejected.1.jsonl -> ... -> rejected.<kept>.jsonl, whose old content goes. */
  async #rotateRejected(size: number): Promise<void> {
    const kept = this.#rejectedFilesKept;
    const at = (name: string) => join(this.#dir, name);
    if (kept === 0) {
      await unlink(at(REJECTED_FILE));
    } else {
      // Each rename replaces its target: the oldest kept file is overwritten.
      for (let n = kept - 1; n >= 1; n--) {
        await rename(at(rotatedRejectedFile(n)), at(rotatedRejectedFile(n + 1))).catch(
          ignoreMissing,
        );
      }
      await rename(at(REJECTED_FILE), at(rotatedRejectedFile(1)));
    }
    await syncDirectory(this.#dir);
    this.#logger.info(
      { dir: this.#dir, bytes: size, kept },
      kept > 0
        ? 'spool: rejected.jsonl rotated to rejected.1.jsonl; the oldest rotated file deleted'
        : 'spool: rejected.jsonl full; deleted (rejectedFilesKept is 0)',
    );
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
    const bad: (RecordSlice & { reason: CorruptSpoolRecord['reason'] })[] = [];
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

  /** Copies damaged records to `quarantine/<segment>`, fsync'd; logs them, and reports each. */
  async #quarantine(
    segment: Segment,
    records: readonly (RecordSlice & { reason: CorruptSpoolRecord['reason'] })[],
  ): Promise<void> {
    const dir = join(this.#dir, QUARANTINE_DIR);
    const target = join(dir, basename(segment.path));
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
      await syncDirectory(this.#dir);
    } catch (error) {
      quarantinedTo = undefined;
      this.#logger.error(
        {
          err: error,
          segment: segment.path,
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
    this.#logger.warn(
      {
        segment: segment.path,
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
      this.#onCorruptRecord?.({
        segment: segment.path,
        line: r.line,
        offset: r.offset,
        bytes: r.bytes.length,
        reason: r.reason,
        quarantinedTo,
      });
    }
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

/** An append whose partial bytes could not be removed from the file. */
class TornAppendError extends Error {}

/**
 * Writes all of `bytes` at the end of `handle` (opened for appending, now
 * `size` bytes long) and fsyncs. On a short or failed write the file is cut
 * back to `size`, so it never ends in a part of `bytes`; should that fail
 * too, a {@link TornAppendError} says the part stays.
 */
async function appendWhole(handle: FileHandle, bytes: Buffer, size: number): Promise<void> {
  try {
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
      // The kernel reports a full disk on the call after a short write; a
      // write of nothing would loop forever.
      if (bytesWritten <= 0) throw new Error('write took no bytes');
      written += bytesWritten;
    }
    await handle.datasync();
  } catch (error) {
    try {
      await handle.truncate(size);
      await handle.datasync();
    } catch (truncateError) {
      throw new TornAppendError(`${messageOf(error)}; cutting the file back failed too`, {
        cause: truncateError,
      });
    }
    throw error;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}

function noteHighestIds(highest: Map<string, number>, ticks: readonly Tick[]): void {
  for (const { symbol, tradeId } of ticks) {
    if (tradeId > (highest.get(symbol) ?? -Infinity)) highest.set(symbol, tradeId);
  }
}

function segmentName(seq: number): string {
  return `ticks-${String(seq).padStart(12, '0')}.spool`;
}

/** `<count> <crc32 hex> <json>\n`, the checksum over `<count> <json>`. */
function encodeRecord(ticks: readonly Tick[]): Buffer {
  const head = `${ticks.length} `;
  const record = Buffer.from(`${head}00000000 ${JSON.stringify(ticks.map(toTuple))}\n`);
  const json = record.subarray(head.length + 9, record.length - 1);
  const checksum = crc32(json, crc32(record.subarray(0, head.length)));
  record.write(checksum.toString(16).padStart(8, '0'), head.length, 'latin1');
  return record;
}

/**
 * The newline-terminated records of a segment, and what follows the last
 * newline: a record torn by a crash mid-append, or nothing.
 */
function splitRecords(bytes: Buffer): { records: RecordSlice[]; torn: RecordSlice | undefined } {
  const records: RecordSlice[] = [];
  let offset = 0;
  for (let end = bytes.indexOf(NEWLINE); end !== -1; end = bytes.indexOf(NEWLINE, offset)) {
    records.push({ bytes: bytes.subarray(offset, end), line: records.length + 1, offset });
    offset = end + 1;
  }
  const torn =
    offset < bytes.length
      ? { bytes: bytes.subarray(offset), line: records.length + 1, offset }
      : undefined;
  return { records, torn };
}

type Checked =
  | { problem: CorruptSpoolRecord['reason']; count?: never; ticks?: never }
  | { problem?: never; count: number; ticks?: Tick[] };

/**
 * Whether a record can be replayed, and its tick count. A checksummed
 * record is checked by its CRC (parsed later); a legacy one, having none,
 * is parsed here and comes with its ticks.
 */
function checkRecord(record: Buffer): Checked {
  const space = record.indexOf(SPACE);
  const count = space > 0 ? Number(record.toString('latin1', 0, space)) : Number.NaN;
  if (!Number.isSafeInteger(count) || count <= 0) return { problem: 'unreadable' };
  if (record[space + 1] === OPEN_BRACKET) {
    const ticks = parseRecord(record);
    return ticks ? { count, ticks } : { problem: 'unreadable' };
  }
  const hex = record.toString('latin1', space + 1, space + 9);
  if (!CHECKSUM.test(hex) || record[space + 9] !== SPACE) return { problem: 'unreadable' };
  const actual = crc32(record.subarray(space + 10), crc32(record.subarray(0, space + 1)));
  return actual === Number.parseInt(hex, 16) ? { count } : { problem: 'checksum' };
}

/** The ticks of a record (either format), or undefined when it does not parse or its count is wrong. */
function parseRecord(record: Buffer): Tick[] | undefined {
  const space = record.indexOf(SPACE);
  const count = Number(record.toString('latin1', 0, space));
  const jsonStart = record[space + 1] === OPEN_BRACKET ? space + 1 : space + 10;
  try {
    const tuples = JSON.parse(record.toString('utf8', jsonStart)) as unknown;
    if (!Array.isArray(tuples) || tuples.length !== count) return undefined;
    return (tuples as TickTuple[]).map(fromTuple);
  } catch {
    return undefined;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
