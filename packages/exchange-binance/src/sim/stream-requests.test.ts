import { describe, expect, it } from 'vitest';
import { Market } from './market.js';
import { answerStreamRequest, parseStreams, subscribe } from './stream-requests.js';

const market = new Market({ symbols: ['BTCUSDT', 'ETHUSDT', 'BNBUSDT'], seed: 1, retain: 10 });

describe('parseStreams', () => {
  it('splits on / and leaves blanks out', () => {
    expect(parseStreams('btcusdt@trade/ ethusdt@aggTrade //')).toEqual([
      'btcusdt@trade',
      'ethusdt@aggTrade',
    ]);
    expect(parseStreams('')).toEqual([]);
  });
});

describe('subscribe', () => {
  it('adds canonical names, all or none', () => {
    const streams = new Set<string>();
    expect(subscribe(streams, ['BTCUSDT@trade', 'ethusdt@aggtrade'], market, 10)).toBeUndefined();
    expect([...streams]).toEqual(['btcusdt@trade', 'ethusdt@aggTrade']);
    expect(subscribe(streams, ['bnbusdt@trade', 'nope@trade'], market, 10)).toEqual({
      reason: 'unknown_stream',
      message: 'Invalid stream name: nope@trade',
    });
    expect(streams.size).toBe(2);
  });

  it('refuses what would pass the per-connection limit', () => {
    const streams = new Set(['btcusdt@trade', 'ethusdt@trade']);
    expect(subscribe(streams, ['bnbusdt@trade'], market, 2)).toMatchObject({
      reason: 'stream_limit',
    });
    expect(subscribe(streams, ['btcusdt@trade'], market, 2)).toBeUndefined(); // already there
    expect(streams.size).toBe(2);
  });
});

describe('answerStreamRequest', () => {
  const ask = (streams: Set<string>, request: unknown, maxStreams = 1024) =>
    answerStreamRequest(
      typeof request === 'string' ? request : JSON.stringify(request),
      streams,
      market,
      maxStreams,
    );

  it('answers SUBSCRIBE, UNSUBSCRIBE and LIST_SUBSCRIPTIONS with the request id', () => {
    const streams = new Set<string>();
    expect(
      ask(streams, { method: 'SUBSCRIBE', params: ['btcusdt@trade', 'ethusdt@trade'], id: 1 }),
    ).toEqual({ reply: '{"result":null,"id":1}', subscribe: true });
    expect(
      ask(streams, { method: 'UNSUBSCRIBE', params: ['ETHUSDT@trade', 'x'], id: 'b' }),
    ).toEqual({
      reply: '{"result":null,"id":"b"}',
      subscribe: false,
    });
    expect(JSON.parse(ask(streams, { method: 'LIST_SUBSCRIPTIONS', id: 3 }).reply)).toEqual({
      result: ['btcusdt@trade'],
      id: 3,
    });
  });

  it('answers a refused SUBSCRIBE with an error, and says why', () => {
    const outcome = ask(
      new Set(['btcusdt@trade']),
      { method: 'SUBSCRIBE', params: ['ethusdt@trade'], id: 9 },
      1,
    );
    expect(outcome.subscribe).toBe(true);
    expect(outcome.refusal?.reason).toBe('stream_limit');
    expect(JSON.parse(outcome.reply)).toEqual({
      error: { code: 2, msg: 'Too many streams: at most 1 per connection' },
      id: 9,
    });
  });

  it('answers invalid JSON and unknown methods with errors', () => {
    expect(ask(new Set(), 'not json').reply).toBe('{"code":2,"msg":"Invalid JSON"}');
    expect(JSON.parse(ask(new Set(), { method: 'PING' }).reply)).toEqual({
      error: { code: 2, msg: 'Invalid request: unknown method' },
      id: null,
    });
  });
});
