import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatFigure, machine, meetsTarget, type BenchSuite, type Figure } from './harness.js';

// Runs every suite in src/suites (or those named in BENCH_ONLY, comma-separated),
// prints each figure against its target, and writes the raw results to
// bench/results/<timestamp>.json for comparison between runs.
const here = dirname(fileURLToPath(import.meta.url));
const only = process.env.BENCH_ONLY?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);

const files = (await readdir(join(here, 'suites'))).filter((f) => f.endsWith('.ts')).sort();
const results: { suite: string; figures: Figure[] }[] = [];
let missed = 0;

for (const file of files) {
  const { suite } = (await import(pathToFileURL(join(here, 'suites', file)).href)) as {
    suite: BenchSuite;
  };
  if (only && !only.includes(suite.name)) continue;
  console.log(`\n${suite.name}`);
  const figures = await suite.run();
  for (const figure of figures) {
    console.log(formatFigure(figure));
    if (!meetsTarget(figure)) missed += 1;
  }
  results.push({ suite: suite.name, figures });
}

const outDir = join(here, '..', 'results');
await mkdir(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outFile = join(outDir, `${stamp}.json`);
await writeFile(
  outFile,
  `${JSON.stringify({ date: new Date().toISOString(), machine: machine(), results }, null, 2)}\n`,
);
console.log(
  `\n${missed === 0 ? 'every target met' : `${missed} target(s) missed`}; raw results in ${outFile}`,
);
