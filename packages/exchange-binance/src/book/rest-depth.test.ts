import { describe, expect, it } from 'vitest';
import { RestAnswerError, RestRequestError } from '../rest-trades.js';
import { createDepthFetcher } from './rest-depth.js';

const NOW = 1_700_000_000_000;

function fakeFetch(status: number, body: string, headers: Record<string, string> = {}) {
  const calls: string[] = [];
  const fetch = ((url: string) => {
    calls.push(url);
    return Promise.resolve(new Response(body, { status, headers }));
  }) as unknown as typeof globalThis.fetch;
  return { fetch, calls };
}

describe('createDepthFetcher', () => {
  const signal = new AbortController().signal;

  it('asks /api/v3/depth with the symbol and limit and returns the JSON', async () => {
    const { fetch, calls } = fakeFetch(200, '{"lastUpdateId":5,"bids":[],"asks":[]}');
    const get = createDepthFetcher({ restUrl: 'http://x', fetch, now: () => NOW });
    expect(await get('BTCUSDT', 100, signal)).toEqual({ lastUpdateId: 5, bids: [], asks: [] });
    expect(calls).toEqual(['http://x/api/v3/depth?symbol=BTCUSDT&limit=100']);
  });

  it('on a 418 tells the ban and carries the wait; while banned it sends nothing', async () => {
    let bannedUntil = 0;
    const { fetch, calls } = fakeFetch(418, 'banned', { 'retry-after': '30' });
    const get = createDepthFetcher({
      restUrl: 'http://x',
      fetch,
      now: () => NOW,
      bannedUntil: () => bannedUntil,
      onBanned: (until) => (bannedUntil = until),
    });
    const error = await get('BTCUSDT', 100, signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestRequestError);
    expect(error).toMatchObject({ status: 418, retryAfterMs: 30_000 });
    expect(bannedUntil).toBe(NOW + 30_000);
    await expect(get('BTCUSDT', 100, signal)).rejects.toMatchObject({ retryAfterMs: 30_000 });
    expect(calls).toHaveLength(1);
  });

  it('refuses a body beyond what the limit allows, and one that is not JSON', async () => {
    const big = fakeFetch(200, `[${'1,'.repeat(20_000)}1]`);
    await expect(
      createDepthFetcher({ restUrl: 'http://x', fetch: big.fetch })('BTCUSDT', 5, signal),
    ).rejects.toBeInstanceOf(RestAnswerError);
    const bad = fakeFetch(200, '{"lastUpdateId":');
    await expect(
      createDepthFetcher({ restUrl: 'http://x', fetch: bad.fetch })('BTCUSDT', 5, signal),
    ).rejects.toThrow(/not JSON/);
  });
});
