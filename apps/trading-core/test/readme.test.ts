import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The README's first screen is what a newcomer reads: what it is, the two
// commands, what they will see, where to go next. Keep it true.
const root = new URL('../../../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const firstScreen = readme.slice(0, readme.indexOf('\n## Packages'));

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchorOf = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

describe('the README first screen', () => {
  it('gives the two quick-start commands, the test command being the one CI runs', () => {
    const block = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(firstScreen)?.[1];
    const commands = (block ?? '').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    expect(commands).toEqual([
      'npm install -g pnpm@10.34.8 && pnpm install && pnpm start',
      'pnpm test',
    ]);
    const ci = readFileSync(new URL('.ci/run', root), 'utf8');
    expect(ci).toMatch(/^pnpm test$/m);
    const pinned = (
      JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
        packageManager: string;
      }
    ).packageManager;
    expect(commands[0]).toContain(pinned);
  });

  it('shows log lines in the form the app prints on a terminal, and the metrics URL', () => {
    const sample = /### What you will see[\s\S]*?```text\n([\s\S]*?)```/.exec(firstScreen)?.[1];
    const lines = (sample ?? '').trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) {
      expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR): \S.* \{.*\}$/);
    }
    expect(sample).toContain('metrics served on http://');
    expect(firstScreen).toContain('curl localhost:9090/metrics');
    expect(firstScreen).toContain('pnpm start -- --sim');
  });

  it('links only to sections and files that exist', () => {
    const headings = new Set(
      [...readme.matchAll(/^#{2,4} (.+)$/gm)].map((m) => anchorOf(m[1]!.trim())),
    );
    const links = [...firstScreen.matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(3);
    for (const link of links) {
      if (link.startsWith('#')) expect(headings, link).toContain(link.slice(1));
      else expect(existsSync(fileURLToPath(new URL(link, root))), link).toBe(true);
    }
  });
});
