import { cpus, totalmem } from 'node:os';

/** A target a figure is held to: `measured <= value` or `measured >= value`. */
export interface Target {
  readonly op: '<=' | '>=';
  readonly value: number;
}

/** One printed figure. */
export interface Figure {
  /** What was measured, e.g. `counter increment`. */
  readonly name: string;
  readonly measured: number;
  /** Unit of `measured` and `target.value`, e.g. `ns`, `ms`, `rows/s`, `x`. */
  readonly unit: string;
  readonly target?: Target;
  /** How it was measured (samples, sizes) or what it is compared with. */
  readonly note?: string;
}

/** A group of figures for one concern; `run` measures and returns them. */
export interface BenchSuite {
  readonly name: string;
  run(): Promise<Figure[]>;
}

/** True when `figure` meets its target (or has none). */
export function meetsTarget(figure: Figure): boolean {
  if (!figure.target) return true;
  return figure.target.op === '<='
    ? figure.measured <= figure.target.value
    : figure.measured >= figure.target.value;
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The `p`-th percentile (0-100) of `values`, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/**
 * Nanoseconds per call of `fn`: the median over `samples` timed runs of
 * `iterations` calls each, after a warm-up run.
 */
export function nsPerOp(fn: () => void, iterations: number, samples = 9): number {
  for (let i = 0; i < iterations; i++) fn();
  const perOp: number[] = [];
  for (let s = 0; s < samples; s++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    perOp.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  return median(perOp);
}

/** Milliseconds of each of `samples` awaited calls of `fn`, after `warmup` untimed ones. */
export async function timeAsync(
  fn: () => Promise<unknown>,
  samples: number,
  warmup = Math.min(samples, 20),
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times;
}

/** A one-line description of this machine for the results file. */
export function machine(): { cpus: number; cpuModel: string; memoryGiB: number; node: string } {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

/** Formats a figure row: name, measured, target, verdict. */
export function formatFigure(figure: Figure): string {
  const measured = `${formatNumber(figure.measured)} ${figure.unit}`;
  const target = figure.target
    ? `${figure.target.op} ${formatNumber(figure.target.value)} ${figure.unit}`
    : '-';
  const verdict = figure.target ? (meetsTarget(figure) ? 'MET' : 'MISSED') : '';
  const note = figure.note ? `  (${figure.note})` : '';
  return `  ${figure.name.padEnd(48)} ${measured.padStart(18)}   target ${target.padEnd(18)} ${verdict}${note}`;
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 0.01) return value.toFixed(3);
  return value.toPrecision(3);
}
