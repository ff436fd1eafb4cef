import { ConfigError, TradeError, silentLogger, type Logger } from '@trade/core';
import { mkdir, open, readFile, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { checkJsonRecord, encodeJsonRecord, parseJsonRecord } from './json-record.js';
import {
  TornAppendError,
  appendWhole,
  ignoreMissing,
  messageOf,
  syncDirectory,
} from './spool-files.js';
import { quarantine, type CorruptSpoolRecord, type DamagedRecord } from './spool-quarantine.js';
import { splitRecords, type RecordSlice } from './spool-record.js';

/**
 * How a row kind is written to the spool: `encode` gives a JSON value
 * (decimals as strings, so they stay exact), `decode` takes it back and
 * throws when it is not one (the record is then quarantined).
 */
export interface RecordCodec<T> {
  encode(row: T): unknown;
  decode(value: unknown): T;
}

/** Options of {@link RecordSpool.open}. */
export interface RecordSpoolOptions<T> {
  codec: RecordCodec<T>;
  /** Segment files are `<name>-<12-digit sequence>.spool`. Letters, digits, `_` and `-`. Default `records`. */
  name?: string;
  /** A segment file is closed and a new one started past this size. Default 8 MiB. */
  segmentBytes?: number;
  logger?: Logger;
  /** Called once for each damaged record met while reading a segment back, after it was quarantined. */
  onCorruptRecord?: (record: CorruptSpoolRecord) => void;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  /** Bytes of whole records in the file. */
  bytes: number;
  /** Rows of its readable records not yet acknowledged. */
  rows: number;
}

interface ActiveSegment {
  readonly segment: Segment;
  readonly handle: FileHandle;
  /** Bytes of whole records written: where a failed append is cut back to. */
  size: number;
}

interface Reader {
  readonly segment: Segment;
  readonly records: (RecordSlice & { readonly count: number })[];
  index: number;
  /** The rows of `records[index]` once decoded: what {@link RecordSpool.next} returned. */
  current: unknown[] | undefined;
}

/**
 * A durable spool of batches of any row kind, the tick spool's format and
 * rules without its tick specifics: append-only segment files, one batch
 * per line with a CRC-32, each append fsync'd (or cut back and rejected)
 * before it resolves; batches read back in order, across restarts; damaged
 * or undecodable records copied to `quarantine/` and skipped; a segment
 * deleted once all its batches are acknowledged. One process per directory.
 *
 * @example
 * ```ts
 * const spool = await RecordSpool.open<Quote>('./data/spool/quotes', { codec: quoteCodec, name: 'quotes' });
 * await spool.append(quotes);
 * for (let batch = await spool.next(); batch; batch = await spool.next()) {
 *   await repository.insert(batch);
 *   await spool.ack();
 * }
 * ```
 */
export class RecordSpool<T> {
  readonly #dir: string;
  readonly #codec: RecordCodec<T>;
  readonly #name: string;
  readonly #segmentBytes: number;
  readonly #logger: Logger;
  readonly #onCorruptRecord: ((record: CorruptSpoolRecord) => void) | undefined;
  readonly #segments: Segment[];
  #nextSeq: number;
  #active: ActiveSegment | undefined;
  #reader: Reader | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #pendingAppends = 0;
  #rowCount: number;

  private constructor(dir: string, segments: Segment[], options: RecordSpoolOptions<T>) {
    this.#dir = dir;
    this.#codec = options.codec;
    this.#name = options.name ?? 'records';
    this.#segments = segments;
    this.#rowCount = segments.reduce((sum, s) => sum + s.rows, 0);
    this.#nextSeq = (segments.at(-1)?.seq ?? 0) + 1;
    this.#segmentBytes = options.segmentBytes ?? 8 * 1024 * 1024;
    this.#logger = options.logger ?? silentLogger;
    this.#onCorruptRecord = options.onCorruptRecord;
  }

  /** Opens (creating it if needed) the spool in `dir`, keeping the segments of an earlier run for replay. */
  static async open<T>(dir: string, options: RecordSpoolOptions<T>): Promise<RecordSpool<T>> {
    const name = options.name ?? 'records';
    if (!/^[A-Za-z0-9_-]+$/.test(name)) {
      throw new ConfigError('name', name, 'letters, digits, "_" and "-"');
    }
    await mkdir(dir, { recursive: true });
    return new RecordSpool(dir, await indexSegments(dir, segmentPattern(name)), options);
  }

  /** True when no batch waits in the spool and no append is under way. */
  get isEmpty(): boolean {
    return this.#pendingAppends === 0 && this.#segments.every((s) => s.bytes === 0);
  }

  /** Rows in the spool not yet acknowledged, those left by an earlier run included. */
  get rowCount(): number {
    return this.#rowCount;
  }

  /** Appends one batch durably; rejects with a retryable {@link TradeError}, nothing of it kept, when the disk took less. */
  async append(rows: readonly T[]): Promise<void> {
    if (rows.length === 0) return;
    const record = encodeJsonRecord(rows.map((row) => this.#codec.encode(row)));
    this.#pendingAppends += 1;
    try {
      const segment = await this.#serial(() => this.#write(record));
      segment.rows += rows.length;
      this.#rowCount += rows.length;
    } finally {
      this.#pendingAppends -= 1;
    }
  }

  /** The oldest batch not acknowledged (the same until {@link ack}), or `undefined` when none is on disk. */
  async next(): Promise<T[] | undefined> {
    for (;;) {
      if (!this.#reader) {
        const oldest = this.#segments[0];
        if (!oldest) return undefined;
        if (this.#active?.segment === oldest) {
          if (this.#active.size === 0) return undefined;
          // Appends go to a new segment from now on.
          await this.#serial(() => this.#seal());
          continue;
        }
        this.#reader = await this.#load(oldest);
      }
      const reader = this.#reader;
      while (reader.index < reader.records.length) {
        const record = reader.records[reader.index]!;
        const rows = this.#decode(record.bytes);
        if (rows) {
          reader.current = rows;
          return rows as T[];
        }
        // Its checksum matched but it does not decode: written wrong, not damaged on disk.
        await this.#quarantine(reader.segment, [{ ...record, reason: 'unreadable' }]);
        this.#forget(reader.segment, record.count);
        reader.index += 1;
      }
      await this.#finishSegment();
    }
  }

  /** Marks the batch last returned by {@link next} as stored; counted off {@link rowCount} at once. */
  async ack(): Promise<void> {
    const reader = this.#reader;
    if (!reader?.current) throw new TradeError('spool: ack without a batch read');
    this.#forget(reader.segment, reader.current.length);
    reader.current = undefined;
    reader.index += 1;
    if (reader.index >= reader.records.length) await this.#finishSegment();
  }

  /** Waits for appends under way and closes the open segment (deleted if empty). */
  async close(): Promise<void> {
    await this.#serial(() => this.#seal());
  }

  #decode(bytes: Buffer): unknown[] | undefined {
    try {
      return parseJsonRecord(bytes)?.map((value) => this.#codec.decode(value));
    } catch {
      return undefined;
    }
  }

  #serial<R>(task: () => Promise<R>): Promise<R> {
    const run = this.#chain.then(task, task);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #write(record: Buffer): Promise<Segment> {
    if (this.#active && this.#active.size >= this.#segmentBytes) await this.#seal();
    const active = this.#active ?? (await this.#startSegment());
    try {
      await appendWhole(active.handle, record, active.size);
    } catch (error) {
      // A part the file could not be cut back from stays its torn last record.
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
    const name = `${this.#name}-${String(seq).padStart(12, '0')}.spool`;
    const segment: Segment = { seq, path: join(this.#dir, name), bytes: 0, rows: 0 };
    const handle = await open(segment.path, 'a');
    this.#nextSeq += 1;
    this.#segments.push(segment);
    this.#active = { segment, handle, size: 0 };
    await syncDirectory(this.#dir);
    return this.#active;
  }

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

  async #load(segment: Segment): Promise<Reader> {
    const { records, torn } = splitRecords(await readFile(segment.path));
    const good: Reader['records'] = [];
    const bad: DamagedRecord[] = records.flatMap((record) => {
      const checked = checkJsonRecord(record.bytes);
      if (!checked.problem) good.push({ ...record, count: checked.count });
      return checked.problem ? [{ ...record, reason: checked.problem }] : [];
    });
    if (torn) bad.push({ ...torn, reason: 'torn' });
    if (bad.length > 0) await this.#quarantine(segment, bad);
    const rows = good.reduce((sum, r) => sum + r.count, 0);
    this.#rowCount += rows - segment.rows;
    segment.rows = rows;
    return { segment, records: good, index: 0, current: undefined };
  }

  #quarantine(segment: Segment, records: readonly DamagedRecord[]): Promise<void> {
    return quarantine(this.#dir, segment.path, records, this.#logger, this.#onCorruptRecord);
  }

  #forget(segment: Segment, rows: number): void {
    segment.rows -= rows;
    this.#rowCount -= rows;
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

function segmentPattern(name: string): RegExp {
  return new RegExp(`^${name}-(\\d{12})\\.spool$`);
}

/** The segments in `dir`, oldest first, with the rows of their whole records; empty ones deleted. */
async function indexSegments(dir: string, pattern: RegExp): Promise<Segment[]> {
  const found = (await readdir(dir))
    .map((name) => pattern.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ seq: Number(m[1]), path: join(dir, m[0]) }))
    .sort((a, b) => a.seq - b.seq);
  const segments: Segment[] = [];
  for (const { seq, path } of found) {
    const bytes = await readFile(path);
    if (bytes.length === 0) {
      await unlink(path).catch(ignoreMissing);
      continue;
    }
    let rows = 0;
    for (const record of splitRecords(bytes).records)
      rows += checkJsonRecord(record.bytes).count ?? 0;
    segments.push({ seq, path, bytes: bytes.length, rows });
  }
  return segments;
}
