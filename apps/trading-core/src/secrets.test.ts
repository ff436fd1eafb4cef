import { describe, expect, it } from 'vitest';
import { passwordsIn, redactUrl, Scrubber, urlPasswords } from './secrets.js';

describe('redactUrl', () => {
  it.each([
    ['postgres://app:s3cret@db:5432/trade', 'postgres://app:***@db:5432/trade'],
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['postgres://user:s3cret@host:badport/db', 'postgres://user:***@host:badport/db'],
    ['postgres://user:s3cret@[::1/db', 'postgres://user:***@[::1/db'],
    ['user:s3cret@host/db', 'user:***@host/db'],
    ['redis://:s3cret@[bad', 'redis://:***@[bad'],
    // An unencoded '@' or '/' in the password: everything up to the last '@' is userinfo.
    ['postgres://u:p@ss/w@rd@db/x', 'postgres://u:***@db/x'],
    ['postgres://onlyuser@db/x', 'postgres://onlyuser@db/x'],
  ])('%s -> %s', (raw, shown) => {
    expect(redactUrl(raw)).toBe(shown);
  });
});

describe('urlPasswords', () => {
  it('reads the password as a URL parser and as the pattern do', () => {
    expect(urlPasswords('postgres://app:s3cret@db/x')).toEqual(['s3cret', 's3cret']);
    expect(urlPasswords('postgres://app:s3%40cret@db/x')).toEqual(['s3%40cret', 's3%40cret']);
    expect(urlPasswords('user:s3cret@host/db')).toEqual(['s3cret']);
    expect(urlPasswords('redis://127.0.0.1:6379')).toEqual([]);
  });
});

describe('Scrubber', () => {
  it('masks every form a password may be printed in', () => {
    const scrubber = new Scrubber(
      passwordsIn({ DATABASE_URL: 'postgres://app:p%22w%40rd!x@db/x', PATH: 'a:bcde@f' }),
    );
    const line = JSON.stringify({ url: 'postgres://app:p"w@rd!x@db/x', raw: 'p%22w%40rd!x' });
    expect(scrubber.scrub(line)).toBe(
      JSON.stringify({ url: 'postgres://app:***@db/x', raw: '***' }),
    );
    // Only *_URL settings are read.
    expect(scrubber.scrub('a:bcde@f')).toBe('a:bcde@f');
  });

  it('leaves text alone when no password is known, or when it is too short to mask', () => {
    expect(new Scrubber([]).isEmpty).toBe(true);
    expect(new Scrubber(['abc']).scrub('abc abc')).toBe('abc abc');
  });

  it('finds the password of each server of a comma list (NATS_URL)', () => {
    const found = passwordsIn({ NATS_URL: 'nats://a:pw-one-1@h1:4222,nats://b:pw-two-2@h2:4222' });
    expect(found).toContain('pw-one-1');
    expect(found).toContain('pw-two-2');
  });
});
