import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The standalone production build of lightweight-charts (it defines the
 * global `LightweightCharts`), read from the installed package: a report
 * carries it inline and needs no network. The package exports no path to
 * it, so it is found beside its `package.json`.
 */
export async function readChartLibrary(): Promise<string> {
  const manifest = createRequire(import.meta.url).resolve('lightweight-charts/package.json');
  return readFile(
    join(dirname(manifest), 'dist', 'lightweight-charts.standalone.production.js'),
    'utf8',
  );
}
