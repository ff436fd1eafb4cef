import type { BacktestSummary } from '@trade/paper-engine';
import type { ReportData } from './report-data.js';
import { formatCount, formatMoney, reportFields, type ReportField } from './report-fields.js';
import { LISTED_FILLS, REPORT_SCRIPT } from './report-script.js';

/** `text` safe in HTML text and in a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * `value` as JSON that can sit inside a `<script>` element: no `<`, `>` or
 * `&` (so no `</script>` or `<!--`), and no line separators, as `\uXXXX`.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Script source that can sit inside a `<script>` element. The sequences
 * that would end or confuse it can only be in a string, a regular
 * expression or a comment of valid JavaScript, where the escaped form means
 * the same.
 */
export function inlineScript(source: string): string {
  return source.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

const utc = (iso: string | null): string => (iso ?? '').replace('T', ' ').replace(/\.\d+Z$|Z$/, '');

const optionsText = (options: Readonly<Record<string, number>>): string => {
  const entries = Object.entries(options);
  return entries.length === 0 ? '' : ` (${entries.map(([k, v]) => `${k} ${v}`).join(', ')})`;
};

function summaryTable(fields: readonly ReportField[]): string {
  const rows: string[] = [];
  for (let i = 0; i < fields.length; i += 4) {
    const cells = fields
      .slice(i, i + 4)
      .map(
        (f) =>
          `<th scope="row">${escapeHtml(f.label)}</th><td data-field="${escapeHtml(f.field)}" class="${f.tone}">${escapeHtml(f.text)}</td>`,
      );
    rows.push(`<tr>${cells.join('')}</tr>`);
  }
  return `<table class="summary" aria-label="Summary">\n${rows.join('\n')}\n</table>`;
}

// Nothing may be fetched: inline scripts and styles, data: images, nothing else.
const CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";

const STYLE = `
:root { color-scheme: light; --fg: #0f172a; --muted: #64748b; --line: #e2e8f0; --up: #15803d; --down: #b91c1c; }
* { box-sizing: border-box; }
body { margin: 0; background: #f8fafc; color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Ubuntu, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1680px; margin: 0 auto; padding: 18px 24px 28px; }
h1 { font-size: 20px; margin: 0 0 2px; }
.meta { margin: 0; color: var(--muted); }
.warn { margin: 8px 0 0; padding: 6px 10px; background: #fef3c7; border: 1px solid #fcd34d; border-radius: 6px; }
#error { margin: 8px 0 0; padding: 6px 10px; background: #fee2e2; border: 1px solid #fca5a5; border-radius: 6px; }
table.summary { width: 100%; margin: 14px 0 4px; border-collapse: collapse; background: #fff;
  border: 1px solid var(--line); }
table.summary th { padding: 7px 12px; text-align: left; font-weight: 500; color: var(--muted); white-space: nowrap; }
table.summary td { padding: 7px 16px 7px 4px; text-align: right; font-weight: 600; font-size: 15px;
  font-variant-numeric: tabular-nums; border-right: 1px solid var(--line); white-space: nowrap; }
table.summary tr + tr { border-top: 1px solid var(--line); }
.up { color: var(--up); } .down { color: var(--down); }
section.chart { margin: 12px 0 0; padding: 8px 12px 10px; background: #fff; border: 1px solid var(--line); }
section.chart h2 { display: flex; justify-content: space-between; align-items: baseline; margin: 0 0 6px;
  font-size: 14px; font-weight: 600; }
section.chart h2 small { font-weight: 400; color: var(--muted); }
.legend-buy { color: #16a34a; } .legend-sell { color: #dc2626; }
.chart-box { position: relative; width: 100%; }
#price-chart { height: max(260px, 38vh); }
#equity-chart { height: max(200px, 26vh); }
#drawdown-chart { height: max(160px, 20vh); }
details { margin: 12px 0 0; background: #fff; border: 1px solid var(--line); padding: 8px 12px; }
summary { cursor: pointer; font-weight: 600; }
table.fills { border-collapse: collapse; margin-top: 8px; font-variant-numeric: tabular-nums; }
table.fills th, table.fills td { padding: 3px 14px 3px 0; text-align: right; }
table.fills th:first-child, table.fills td:first-child { text-align: left; }
`;

/** Where the page's header comes from besides the summary. */
export interface ReportPageInfo {
  /** When it was written, ISO 8601 (in the page's metadata only). */
  readonly generatedAt: string;
}

/**
 * The report page: one HTML document that needs nothing else, the charting
 * library (`chartLibrary`, lightweight-charts' standalone build) and the
 * data inline.
 */
export function reportHtml(
  summary: BacktestSummary,
  data: ReportData,
  chartLibrary: string,
  info: ReportPageInfo,
): string {
  const title = `Backtest: ${summary.strategy}${optionsText(summary.strategyOptions)} on ${data.symbol}`;
  const buys = data.fills.filter(([, side]) => side === 'B').length;
  const sells = data.fills.length - buys;
  const listed =
    data.fills.length > LISTED_FILLS
      ? `the first ${formatCount(LISTED_FILLS)} of ${formatCount(data.fills.length)}`
      : formatCount(data.fills.length);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="generator" content="trading-core backtest --report">
<meta name="generated-at" content="${escapeHtml(info.generatedAt)}">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body data-fills="${data.fills.length}">
<main>
<header>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${summary.from === null ? 'no ticks in the range' : `${escapeHtml(utc(summary.from))} to ${escapeHtml(utc(summary.to))} UTC`} · ${formatCount(summary.ticks)} ticks · ${formatCount(summary.quotes)} quotes · ${formatCount(summary.bookTops)} book snapshots · initial cash ${formatMoney(summary.initialCash)}</p>
${summary.aborted ? '<p class="warn">Stopped early: the replay covers only the ticks read before the stop.</p>\n' : ''}<p id="error" hidden></p>
</header>
${summaryTable(reportFields(summary))}
<section class="chart">
<h2>Price <small><span class="legend-buy">▲ buy</span> (${formatCount(buys)}) · <span class="legend-sell">▼ sell</span> (${formatCount(sells)})</small></h2>
<div id="price-chart" class="chart-box"></div>
</section>
<section class="chart">
<h2>Equity <small>cash plus position at the last price; dashed: initial cash</small></h2>
<div id="equity-chart" class="chart-box"></div>
</section>
<section class="chart">
<h2>Drawdown <small>below the running peak of equity, %</small></h2>
<div id="drawdown-chart" class="chart-box"></div>
</section>
<details>
<summary>Fills (${listed})</summary>
<table class="fills">
<thead><tr><th>time (UTC)</th><th>side</th><th>price</th><th>quantity</th><th>fee</th><th>realized PnL</th></tr></thead>
<tbody id="fills-body"></tbody>
</table>
</details>
</main>
<script>${inlineScript(chartLibrary)}</script>
<script type="application/json" id="report-data">${jsonForScript(data)}</script>
<script>${inlineScript(REPORT_SCRIPT)}</script>
</body>
</html>
`;
}
