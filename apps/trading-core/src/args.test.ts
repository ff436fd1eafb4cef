import { describe, expect, it } from 'vitest';
import { effectiveArgs } from './args.js';

describe('effectiveArgs', () => {
  it.each([
    [[], 'start', ['live', '--paper-trading']],
    [['--'], 'start', ['live', '--paper-trading']],
    [['--', '--sim'], 'start', ['live', '--paper-trading', '--sim']],
    [['--', 'live', '--paper-trading'], 'start', ['live', '--paper-trading']],
    [['live', '--', '--sim'], undefined, ['live', '--sim']],
    [[], undefined, []],
    [['--help'], 'start', ['--help']],
  ] as const)('%j under %s -> %j', (argv, event, expected) => {
    expect(effectiveArgs(argv, event)).toEqual(expected);
  });
});
