import { readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { TradeError } from '@trade/core';

const LOCK_FILE = 'trading-core.lock';

/** Who holds a data directory, as its lock file says. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

/** A data directory held by this process until {@link DataDirLock.release}. */
export interface DataDirLock {
  readonly path: string;
  release(): Promise<void>;
}

/** Another live process holds the data directory. */
export class DataDirInUseError extends TradeError {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    super(
      `DATA_DIR ${dataDir} is in use by trading-core pid ${holder.pid} on ${holder.host} (since ${holder.since}); stop it, or give this process another DATA_DIR`,
    );
    this.name = 'DataDirInUseError';
  }
}

/**
 * Takes `dataDir` for this process: one process per directory, since two
 * would replay and delete each other's spool (and PGlite allows one). The
 * lock file holds the pid; a lock whose process is gone (a crash, SIGKILL)
 * is taken over. A lock written on another host is never taken over: its
 * process cannot be checked from here.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const path = join(dataDir, LOCK_FILE);
  const mine: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      // 'wx': created here or not at all, so two starting together cannot both win.
      await writeFile(path, `${JSON.stringify(mine)}\n`, { flag: 'wx' });
      return {
        path,
        async release() {
          const holder = await readHolder(path);
          if (holder?.pid === mine.pid && holder.host === mine.host) await unlink(path);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw error;
    }
    const holder = await readHolder(path);
    if (holder && (holder.host !== mine.host || isAlive(holder.pid))) {
      throw new DataDirInUseError(dataDir, holder);
    }
    // Its process is gone (or the file is unreadable, written by a crash mid-write): take it
    // over, unless another process took it over meanwhile (its new lock is then left alone).
    const again = await readHolder(path);
    if (again?.pid !== holder?.pid || again?.since !== holder?.since) continue;
    await unlink(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string') return undefined;
    return { pid: parsed.pid, host: parsed.host, since: String(parsed.since) };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
