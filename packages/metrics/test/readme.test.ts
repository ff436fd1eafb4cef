import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { METRIC_CATALOGUE } from '../src/index.js';

// The root README's catalogue table is what operators read: keep it true.
const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const rows = readme.split('\n').map((line) => line.split('|').map((cell) => cell.trim()));

describe('the README catalogue table', () => {
  it.each(Object.entries(METRIC_CATALOGUE))('lists %s with its name, type and origin', (key, d) => {
    const labels = 'labelNames' in d ? `{${d.labelNames.join(',')}}` : '';
    const cells = rows.find((row) => row[1] === `\`${d.name}${labels}\``);
    expect(cells, `${d.name} is missing from README.md`).toBeDefined();
    expect(cells![2]).toBe(d.type);
    expect(cells![3]!.startsWith(d.origin)).toBe(true);
    expect(cells![4]).toBe(`\`${key}\``);
  });
});
