import { Registry } from 'prom-client';

/** The two exposition formats the exporter speaks. */
export type ExpositionFormat = 'prometheus' | 'openmetrics';

/** Content types of {@link ExpositionFormat}, as sent in `Content-Type`. */
export const EXPOSITION_CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  prometheus: Registry.PROMETHEUS_CONTENT_TYPE,
  openmetrics: Registry.OPENMETRICS_CONTENT_TYPE,
};

/**
 * Picks the format a scraper asked for in its `Accept` header: OpenMetrics
 * 1.0.0 when it ranks that at least as high as plain text, the Prometheus
 * text format otherwise (also when nothing is said).
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'prometheus';
  let openMetricsQ = 0;
  let textQ = 0;
  for (const entry of accept.split(',')) {
    const [mediaType = '', ...params] = entry.split(';').map((part) => part.trim().toLowerCase());
    let q = 1;
    let version: string | undefined;
    for (const param of params) {
      const [key, value = ''] = param.split('=').map((s) => s.trim());
      if (key === 'q') q = Number.parseFloat(value) || 0;
      else if (key === 'version') version = value;
    }
    if (mediaType === 'application/openmetrics-text') {
      if ((version ?? '1.0.0') === '1.0.0') openMetricsQ = Math.max(openMetricsQ, q);
    } else if (mediaType === 'text/plain' || mediaType === 'text/*' || mediaType === '*/*') {
      textQ = Math.max(textQ, q);
    }
  }
  return openMetricsQ > 0 && openMetricsQ >= textQ ? 'openmetrics' : 'prometheus';
}

/** Renders every family of `registry` in `format`. */
export async function renderExposition(
  registry: Registry,
  format: ExpositionFormat,
): Promise<string> {
  const text = await registry.metrics();
  return format === 'prometheus' ? text : toOpenMetrics(text);
}

/**
 * Turns prom-client's Prometheus text into OpenMetrics 1.0.0. We do not let
 * prom-client do it: its OpenMetrics path strips `_total` from the counter
 * objects themselves, which would corrupt every later text-format scrape of
 * the same registry. The differences are few: a counter family is named
 * without `_total` (its samples keep it), HELP escapes double quotes, no
 * blank lines, and the body ends with `# EOF`.
 */
export function toOpenMetrics(text: string): string {
  const out: string[] = [];
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n').filter((line) => line !== '');
    const typeLine = lines.find((line) => line.startsWith('# TYPE '));
    const counterName = typeLine?.endsWith(' counter') === true ? typeLine.slice(7, -8) : undefined;
    const familyName = counterName?.endsWith('_total') ? counterName.slice(0, -6) : undefined;
    for (const line of lines) {
      if (line.startsWith('# HELP ')) {
        const rest = line.slice(7);
        const space = rest.indexOf(' ');
        const name = space === -1 ? rest : rest.slice(0, space);
        const help = space === -1 ? '' : rest.slice(space + 1).replaceAll('"', '\\"');
        out.push(`# HELP ${name === counterName && familyName ? familyName : name} ${help}`);
      } else if (familyName && line === typeLine) {
        out.push(`# TYPE ${familyName} counter`);
      } else {
        out.push(line);
      }
    }
  }
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}
