/** A one-line progress display on a terminal; nothing at all elsewhere. */
export interface ProgressBar {
  update(done: number, total: number | null, detail: string): void;
  finish(): void;
}

/**
 * Redraws one line of `stream` (stderr by default) at most every 100 ms.
 * When the stream is not a terminal it stays silent, so pipes and logs
 * only get the summary.
 */
export function createProgressBar(
  stream: NodeJS.WriteStream = process.stderr,
  width = 30,
): ProgressBar {
  const enabled = stream.isTTY === true;
  let lastDraw = 0;
  let drawn = false;
  return {
    update(done, total, detail) {
      if (!enabled) return;
      const now = Date.now();
      if (now - lastDraw < 100) return;
      lastDraw = now;
      const line =
        total && total > 0
          ? `${renderBar(done / total, width)} ${Math.floor((100 * done) / total)}% ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} ticks ${detail}`
          : `${done.toLocaleString('en-US')} ticks ${detail}`;
      stream.write(`\r\x1b[2K${line}`);
      drawn = true;
    },
    finish() {
      if (enabled && drawn) stream.write('\r\x1b[2K');
    },
  };
}

function renderBar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}
