import type { Logger } from '@trade/core';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { appendWhole, ignoreMissing, syncDirectory } from './spool-files.js';
import type { RejectedTick } from './tick-repository.js';

const REJECTED_FILE = 'rejected.jsonl';
const rotatedRejectedFile = (n: number) => `rejected.${n}.jsonl`;

/**
 * `rejected.jsonl` in the spool directory: the ticks (or other rows) the
 * database refused, one JSON line each, rotated by size so their disk use stays bounded.
 */
export class RejectedLog {
  readonly #dir: string;
  readonly #fileBytes: number;
  readonly #filesKept: number;
  readonly #logger: Logger;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(dir: string, fileBytes: number, filesKept: number, logger: Logger) {
    this.#dir = dir;
    this.#fileBytes = fileBytes;
    this.#filesKept = filesKept;
    this.#logger = logger;
  }

  /**
   * Appends ticks the database refused to `rejected.jsonl` beside the
   * segments, fsync'd: refused, not lost. Before an append would take the
   * file past `rejectedFileBytes` it is rotated (see {@link TickSpoolOptions.rejectedFileBytes}).
   * A write the disk does not take whole is cut back and rejects.
   */
  append(rejected: readonly RejectedTick[]): Promise<void> {
    return this.appendEntries(rejected.map((r) => ({ reason: r.reason, tick: r.tick })));
  }

  /**
   * Appends one line per entry, `{"at":<ISO time>,...entry}`, the same way:
   * for refused rows that are not ticks (the quote and book recorders).
   */
  appendEntries(entries: readonly object[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    const at = new Date().toISOString();
    const text = entries.map((entry) => `${JSON.stringify({ at, ...entry })}\n`).join('');
    // One at a time: two writers may record refusals together, and a
    // rotation must not rename the file under another append.
    const run = this.#chain.then(() => this.#write(Buffer.from(text)));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #write(bytes: Buffer): Promise<void> {
    const path = join(this.#dir, REJECTED_FILE);
    let handle = await open(path, 'a');
    try {
      let { size } = await handle.stat();
      if (size > 0 && size + bytes.length > this.#fileBytes) {
        await handle.close();
        await this.#rotate(size);
        handle = await open(path, 'a');
        size = 0;
      }
      await appendWhole(handle, bytes, size);
    } finally {
      await handle.close();
    }
  }

  /** rejected.jsonl -> rejected.1.jsonl -> ... -> rejected.<kept>.jsonl, whose old content goes. */
  async #rotate(size: number): Promise<void> {
    const kept = this.#filesKept;
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
}
