import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createTick, silentLogger, type Tick } from '@trade/core';
import type { BacktestSummary } from '@trade/paper-engine';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportFields } from '../src/report/report-fields.js';
import { LISTED_FILLS, REPORT_COLORS } from '../src/report/report-script.js';
import { openStorage } from '../src/storage.js';
import { launch } from './support/app-process.js';
import { OwnDatabase } from './support/own-database.js';
import { prng } from '@trade/test-support';

// `trading-core backtest ... --report FILE.html` as a person uses it: the
// built CLI writes the report, Debian's chromium opens it from disk with no
// network, and what it shows is checked against the `--json` summary. The
// screenshot in the README is taken here.

const database = new OwnDatabase('trade_app_backtest_report_test');
const SYMBOL = 'REPORTUSDT';
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = fileURLToPath(new URL('../../../docs/backtest-report.png', import.meta.url));

const T0 = Date.UTC(2026, 0, 16);
const TICKS = 8_640;

/**
 * A day of ticks 10 s apart whose returns carry momentum: trends the SMA
 * crossover follows (about 130 fills) and chop where it pays fees. 8,640
 * ticks in 8,640 seconds-buckets: more than the report's 5,000 points, so
 * the series are downsampled.
 */
function dayOfTicks(): Tick[] {
  const random = prng(4); // the same ticks on every run, so the same report and screenshot
  let drift = 0;
  let price = 100;
  return Array.from({ length: TICKS }, (_, i) => {
    drift = drift * 0.995 + (random() - 0.5) * 0.00003;
    price *= 1 + drift + (random() - 0.5) * 0.0002;
    return createTick({
      symbol: SYMBOL,
      tradeId: i + 1,
      price: price.toFixed(2),
      quantity: '0.50000000',
      isBuyerMaker: i % 2 === 0,
      tradeTime: T0 + i * 10_000,
    });
  });
}

let root: string;
let browser: Browser;
const env = () => ({ DATABASE_URL: database.url, DATA_DIR: join(root, 'data') });

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)`);
  }
  root = await mkdtemp(join(tmpdir(), 'trading-core-report-'));
  await database.fresh();
  const storage = await openStorage({
    databaseUrl: database.url,
    dataDir: join(root, 'data'),
    logger: silentLogger,
  });
  try {
    const stored = await storage.ticks.insertTicks(dayOfTicks());
    expect(stored.rejected).toEqual([]);
  } finally {
    await storage.close();
  }
  // Debian's browser, never one playwright would download.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

afterAll(async () => {
  await browser?.close();
  await database.drop();
  if (root) await rm(root, { recursive: true, force: true });
});

/** `trading-core backtest --strategy sma --symbol REPORTUSDT --json [...]`: exit code and output. */
async function backtest(...extra: string[]) {
  const run = launch(
    ['backtest', '--strategy', 'sma', '--symbol', SYMBOL, '--json', ...extra],
    env(),
  );
  const code = await run.exited;
  return { code, ...run.output() };
}

/** What {@link PIXELS} uses of a canvas (the tests' types have no DOM). */
interface Canvas {
  readonly width: number;
  readonly height: number;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  };
}

/** Run in the page: pixels of each colour (within a small tolerance) on the canvases inside `selector`. */
const PIXELS = ({ selector, colors }: { selector: string; colors: string[] }): number[] => {
  const { document } = globalThis as unknown as {
    document: { querySelectorAll(selector: string): Iterable<Canvas> };
  };
  const targets = colors.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
  const counts = colors.map(() => 0);
  for (const canvas of document.querySelectorAll(`${selector} canvas`)) {
    if (canvas.width === 0 || canvas.height === 0) continue;
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3]! < 250) continue;
      targets.forEach(([r, g, b], k) => {
        if (
          Math.abs(data[i]! - r!) <= 10 &&
          Math.abs(data[i + 1]! - g!) <= 10 &&
          Math.abs(data[i + 2]! - b!) <= 10
        ) {
          counts[k]! += 1;
        }
      });
    }
  }
  return counts;
};

/** A number as the page shows it (`+1,234.50%`, `n/a`), read back. */
const shown = (text: string): number | null =>
  text === 'n/a' ? null : Number(text.replace(/[,%+]/g, ''));

describe('trading-core backtest --report', () => {
  it('writes one self-contained page that shows the summary, the fills and the three charts', async () => {
    const plain = await backtest();
    expect(plain.stderr).not.toMatch(/"level":(50|60)/);
    expect(plain.code).toBe(0);
    const summary = JSON.parse(plain.stdout) as BacktestSummary;
    expect(summary.ticks).toBe(TICKS);
    expect(summary.trades).toBeGreaterThan(50);

    const file = join(root, 'report.html');
    const reported = await backtest('--report', file);
    expect(reported.code).toBe(0);
    // The JSON is what it was without the report.
    expect(JSON.parse(reported.stdout)).toEqual(summary);
    expect(reported.stderr).toContain(`backtest report written to ${file}`);

    // Self-contained: the only addresses are data: URLs, and the page forbids any other.
    const html = await readFile(file, 'utf8');
    const addresses = [
      ...html.matchAll(
        /<(?:script|link|img|iframe|source|video|audio)\b[^>]*\b(?:src|href)="([^"]*)"/gi,
      ),
    ].map((m) => m[1]);
    expect(addresses).toEqual(['data:,']);
    expect(html).toContain(`content="default-src 'none';`);
    expect(html).toContain('TradingView Lightweight Charts');
    const { size } = await stat(file);
    expect(size).toBeLessThan(1_000_000);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (request) => {
      if (!/^(file|data):/.test(request.url())) requests.push(request.url());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    try {
      await page.goto(pathToFileURL(file).href);
      await page.waitForSelector('body[data-rendered]', { timeout: 20_000 });
      expect(await page.getAttribute('body', 'data-rendered')).toBe('true');
      expect(requests).toEqual([]);
      expect(problems).toEqual([]);

      // Header: the strategy, the symbol, the range.
      const header = await page.textContent('header');
      expect(header).toContain(`Backtest: sma (fast 5, slow 20) on ${SYMBOL}`);
      expect(header).toContain('2026-01-16 00:00:00 to 2026-01-16 23:59:50 UTC');

      // Each number as the summary has it, formatted for people.
      const fields = reportFields(summary);
      expect(fields.map((f) => f.field)).toEqual(
        expect.arrayContaining([
          'totalReturn',
          'finalEquity',
          'trades',
          'maxDrawdown',
          'sharpe',
          'winRate',
          'feesPaid',
        ]),
      );
      for (const { field, text } of fields) {
        const cell = await page.textContent(`td[data-field="${field}"]`);
        expect(cell, field).toBe(text);
      }
      const cell = async (field: string) =>
        shown((await page.textContent(`td[data-field="${field}"]`))!);
      expect(await cell('totalReturn')).toBeCloseTo(summary.totalReturn * 100, 2);
      expect(await cell('maxDrawdown')).toBeCloseTo(summary.maxDrawdown * 100, 2);
      expect(await cell('finalEquity')).toBeCloseTo(summary.finalEquity, 2);
      expect(await cell('feesPaid')).toBeCloseTo(summary.feesPaid, 2);
      expect(await cell('trades')).toBe(summary.trades);
      expect(await cell('sharpe')).toBeCloseTo(summary.sharpe.annualized!, 2);
      expect(await cell('winRate')).toBeCloseTo(summary.winRate! * 100, 2);

      // A marker per fill on the price, and every fill listed (up to the table's bound).
      expect(await page.getAttribute('#price-chart', 'data-markers')).toBe(String(summary.trades));
      expect(await page.getAttribute('body', 'data-fills')).toBe(String(summary.trades));
      expect(await page.locator('#fills-body tr').count()).toBe(
        Math.min(summary.trades, LISTED_FILLS),
      );

      // Each series downsampled within the recorder's bound, the whole day still there.
      for (const id of ['price-chart', 'equity-chart', 'drawdown-chart']) {
        const points = Number(await page.getAttribute(`#${id}`, 'data-points'));
        expect(points, id).toBeGreaterThan(1_000);
        expect(points, id).toBeLessThanOrEqual(5_000);
      }

      // Each chart drew: its line, and on the price the buy and sell arrows.
      const [line, buys, sells] = await page.evaluate(PIXELS, {
        selector: '#price-chart',
        colors: [REPORT_COLORS.price, REPORT_COLORS.buy, REPORT_COLORS.sell],
      });
      expect(line).toBeGreaterThan(1_000);
      expect(buys).toBeGreaterThan(10 * summary.buys);
      expect(sells).toBeGreaterThan(10 * summary.sells);
      const [gain, loss] = await page.evaluate(PIXELS, {
        selector: '#equity-chart',
        colors: [REPORT_COLORS.gain, REPORT_COLORS.loss],
      });
      expect(gain! + loss!).toBeGreaterThan(1_000);
      const [drawdown] = await page.evaluate(PIXELS, {
        selector: '#drawdown-chart',
        colors: [REPORT_COLORS.drawdown],
      });
      expect(drawdown).toBeGreaterThan(1_000);

      await mkdir(join(SCREENSHOT, '..'), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect((await stat(SCREENSHOT)).size).toBeGreaterThan(20_000);
    } finally {
      await page.close();
    }
  });

  it('refuses a --report path it cannot write before replaying, naming the flag', async () => {
    const missing = await backtest('--report', join(root, 'no-such-dir', 'report.html'));
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toContain(
      'trading-core: invalid configuration: --report: expected a file in a writable directory',
    );
    expect(missing.stderr).toContain('does not exist');

    const directory = await backtest('--report', root);
    expect(directory.code).toBe(2);
    expect(directory.stderr).toContain(
      '--report: expected the path of an HTML file to write, not a directory',
    );
  });

  it('is a flag of backtest only', async () => {
    const run = launch(
      ['candles', '--symbol', SYMBOL, '--interval', '1m', '--report', join(root, 'c.html')],
      env(),
    );
    expect(await run.exited).toBe(2);
    expect(run.output().stderr).toContain('candles does not take --report');
  });
});
