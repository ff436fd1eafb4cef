import type { TickRejectReason } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { RestAnswerError, RestRequestError, RestTrades } from './rest-trades.js';

const T = 1_700_000_000_000;
const row = (id: number, extra: object = {}) => ({
  id,
  price: '100.00000000',
  qty: '1.00000000',
  quoteQty: '100.00000000',
  time: T,
  isBuyerMaker: true,
  isBestMatch: true,
  ...extra,
});

/** RestTrades answered by `answer` (a Response per request), recording rejections. */
function rest(answer: () => Response, timeoutMs?: number) {
  const rejects: [TickRejectReason, string][] = [];
  const client = new RestTrades({
    restUrl: 'http://rest.invalid',
    streamType: 'trade',
    timeoutMs,
    fetch: () => Promise.resolve(answer()),
    onReject: (reason, detail) => rejects.push([reason, detail]),
  });
  return { client, rejects };
}

const json = (body: unknown) => () => new Response(JSON.stringify(body));

describe('RestTrades checks every answer before it is used', () => {
  it('takes an honest answer: ids from fromId, at most limit rows, ascending', async () => {
    const { client, rejects } = rest(json([row(100), row(101), row(102)]));
    const ticks = await client.fetchFrom('BTCUSDT', 100, 3);
    expect(ticks.map((t) => [t.symbol, t.tradeId])).toEqual([
      ['BTCUSDT', 100],
      ['BTCUSDT', 101],
      ['BTCUSDT', 102],
    ]);
    expect(rejects).toEqual([]);
  });

  it.each([
    ['more rows than asked', [row(100), row(101), row(102), row(103)], '4 rows'],
    ['an id before fromId', [row(99), row(100)], 'id 99 outside'],
    ['an id at fromId + limit (past a gap of limit ids)', [row(100), row(103)], 'id 103 outside'],
    ['ids not ascending', [row(101), row(100)], 'not in ascending order'],
    ['a row of another symbol', [row(100), row(101, { symbol: 'ETHUSDT' })], 'ETHUSDT'],
    ['not an array', { code: 0 }, 'not an array'],
  ])('refuses an answer with %s as a whole, counted once', async (_name, body, why) => {
    const { client, rejects } = rest(json(body));
    const error = await client.fetchFrom('BTCUSDT', 100, 3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestAnswerError);
    expect(error).toBeInstanceOf(RestRequestError);
    expect(rejects).toEqual([['invalid_rest_answer', expect.stringContaining(why)]]);
  });

  it('holds the newest-trades answer to its limit too', async () => {
    const { client, rejects } = rest(json([row(7), row(8)]));
    await expect(client.latest('BTCUSDT', 1)).rejects.toBeInstanceOf(RestAnswerError);
    expect(rejects).toEqual([['invalid_rest_answer', expect.stringContaining('2 rows')]]);
  });

  it('stops reading a body past 2 KiB a row asked (plus 16 KiB): a server streaming forever is cut off', async () => {
    let pulled = 0;
    const chunk = new Uint8Array(64 * 1024).fill(0x20); // whitespace: JSON would still parse
    const endless = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            pulled += chunk.byteLength;
            controller.enqueue(chunk);
          },
        }),
      );
    const { client, rejects } = rest(endless);
    await expect(client.fetchFrom('BTCUSDT', 100, 1000)).rejects.toBeInstanceOf(RestAnswerError);
    const bound = 1000 * 2048 + 16 * 1024;
    expect(pulled).toBeGreaterThan(bound);
    // What was read: at most the bound, one chunk and what the stream had queued ahead.
    expect(pulled).toBeLessThanOrEqual(bound + 4 * chunk.byteLength);
    expect(rejects).toEqual([['invalid_rest_answer', expect.stringContaining('body over')]]);
  });

  it('refuses a declared Content-Length over the bound without reading the body', async () => {
    let pulled = 0;
    const declared = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            pulled++;
            controller.enqueue(new Uint8Array(16));
          },
        }),
        { headers: { 'content-length': String(10 << 20) } },
      );
    const { client, rejects } = rest(declared);
    await expect(client.fetchFrom('BTCUSDT', 100, 10)).rejects.toBeInstanceOf(RestAnswerError);
    expect(rejects).toHaveLength(1);
    expect(pulled).toBeLessThanOrEqual(1);
  });
});
