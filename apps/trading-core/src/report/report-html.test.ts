import type { BacktestSummary } from '@trade/paper-engine';
import { describe, expect, it } from 'vitest';
import type { ReportData } from './report-data.js';
import { escapeHtml, inlineScript, jsonForScript, reportHtml } from './report-html.js';

const summary = {
  strategy: '</script><script>alert(1)</script>',
  strategyOptions: { fast: 5 },
  symbols: ['BTCUSDT'],
  from: '2026-01-16T00:00:00.000Z',
  to: '2026-01-16T01:00:00.000Z',
  ticks: 3600,
  quotes: 0,
  bookTops: 0,
  trades: 1,
  buys: 1,
  sells: 0,
  initialCash: 10_000,
  finalEquity: 10_010,
  totalReturn: 0.001,
  maxDrawdown: 0.002,
  sharpe: { annualized: null, perPeriod: null, period: 'hour', periods: 1 },
  winRate: null,
  feesPaid: 1,
  slippageCost: 0.5,
  realizedPnl: 0,
  unrealizedPnl: 10,
  aborted: false,
} as unknown as BacktestSummary;

const data: ReportData = {
  symbol: 'BTCUSDT',
  initialCash: 10_000,
  pricePrecision: 2,
  price: [[1768521600, 100]],
  equity: [[1768521600, 10_000]],
  drawdown: [[1768521600, 0]],
  fills: [[1768521600000, 'B', 100, 1, 0.1, 0]],
};

describe('the report page', () => {
  it('keeps data and names inside their elements whatever they hold', () => {
    const hostile = { name: '</script><!-- <script>&\u2028' };
    const json = jsonForScript(hostile);
    expect(json).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(json)).toEqual(hostile);
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe(
      '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;',
    );
    expect(inlineScript('const s = "</SCRIPT><!--";')).toBe('const s = "<\\/SCRIPT><\\!--";');
  });

  it('has the library, the data and its script as its only scripts, and no address but data:', () => {
    const html = reportHtml(summary, data, 'window.LightweightCharts = {};', {
      generatedAt: 'now',
    });
    expect(html.match(/<script\b/g)).toHaveLength(3);
    expect(html).toContain(
      '<h1>Backtest: &#60;/script&#62;&#60;script&#62;alert(1)&#60;/script&#62; (fast 5) on BTCUSDT</h1>',
    );
    expect(html).toContain('2026-01-16 00:00:00 to 2026-01-16 01:00:00 UTC');
    expect(html).toContain('<td data-field="sharpe" class="flat">n/a</td>');
    expect(html).toContain('<td data-field="totalReturn" class="up">+0.10%</td>');
    expect(html).toContain('<body data-fills="1">');
    expect([...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1])).toEqual(['data:,']);
  });

  it('says when the range held no ticks or the replay stopped early', () => {
    const empty = { ...summary, from: null, to: null, ticks: 0, aborted: true };
    const html = reportHtml(
      empty,
      { ...data, price: [], equity: [], drawdown: [], fills: [] },
      '',
      {
        generatedAt: 'now',
      },
    );
    expect(html).toContain('no ticks in the range · 0 ticks');
    expect(html).toContain('Stopped early');
  });
});
