import { randomBytes } from 'node:crypto';
import { access, constants, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError, TradeError } from '@trade/core';
import type { BacktestRecording, BacktestSummary } from '@trade/paper-engine';
import { readChartLibrary } from './chart-library.js';
import { reportData } from './report-data.js';
import { reportHtml } from './report-html.js';

const FLAG = '--report';

/**
 * Refuses a `--report` path that cannot be written (its directory missing or
 * read-only, or the path a directory) before the backtest runs, so a long
 * replay does not end in nothing.
 */
export async function checkReportPath(file: string): Promise<void> {
  if (file.trim() === '') throw new ConfigError(FLAG, file, 'the path of an HTML file to write');
  const path = resolve(file);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory() === true) {
    throw new ConfigError(FLAG, file, 'the path of an HTML file to write, not a directory');
  }
  const directory = dirname(path);
  const problem = await stat(directory).then(
    async (s) =>
      !s.isDirectory()
        ? 'is not a directory'
        : access(directory, constants.W_OK).then(
            () => undefined,
            () => 'is not writable',
          ),
    () => 'does not exist',
  );
  if (problem !== undefined) {
    throw new ConfigError(FLAG, file, `a file in a writable directory (${directory} ${problem})`);
  }
}

/** Where a report is written from: one symbol's backtest and its recording. */
export interface BacktestReportInput {
  readonly file: string;
  readonly symbol: string;
  readonly summary: BacktestSummary;
  readonly recording: BacktestRecording;
}

/**
 * Writes the backtest report: one self-contained HTML page (the charting
 * library and the data inline). Written whole beside the target then
 * renamed over it, so a reader never sees half a report. Returns its size
 * in bytes.
 */
export async function writeBacktestReport(input: BacktestReportInput): Promise<number> {
  const html = reportHtml(
    input.summary,
    reportData(input.summary, input.recording, input.symbol),
    await readChartLibrary(),
    { generatedAt: new Date().toISOString() },
  );
  const path = resolve(input.file);
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    await writeFile(temporary, html);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    const reason = error instanceof Error ? error.message : String(error);
    throw new TradeError(`${FLAG} ${input.file}: the report could not be written: ${reason}`, {
      cause: error,
    });
  }
  return Buffer.byteLength(html);
}
