import type { Market } from './market.js';

// The subscription protocol of a Binance stream connection, apart from the
// socket: what a client asks in a text frame and what it is answered.

/** Stream names of a URL part (`a@trade/b@trade`), blanks left out. */
export function parseStreams(list: string): string[] {
  return list
    .split('/')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Why {@link subscribe} refused, or `undefined` when it subscribed. */
export type SubscribeRefusal =
  | { readonly reason: 'unknown_stream'; readonly message: string }
  | { readonly reason: 'stream_limit'; readonly message: string };

/**
 * Adds `names` (canonicalized) to `streams`, all or none: none when one is
 * not a stream of `market`, or when `streams` would then hold more than
 * `maxStreams`.
 */
export function subscribe(
  streams: Set<string>,
  names: readonly string[],
  market: Market,
  maxStreams: number,
): SubscribeRefusal | undefined {
  const unknown = names.find((s) => market.stream(s) === undefined);
  if (unknown !== undefined) {
    return { reason: 'unknown_stream', message: `Invalid stream name: ${unknown}` };
  }
  const after = new Set([...streams, ...names]);
  if (after.size > maxStreams) {
    return {
      reason: 'stream_limit',
      message: `Too many streams: at most ${maxStreams} per connection`,
    };
  }
  for (const s of names) streams.add(market.stream(s)!.name);
  return undefined;
}

/** What {@link answerStreamRequest} did. */
export interface StreamRequestOutcome {
  /** The text frame to send back. */
  readonly reply: string;
  /** The request was a SUBSCRIBE (granted or not). */
  readonly subscribe: boolean;
  /** Why the SUBSCRIBE was refused, if it was. */
  readonly refusal?: SubscribeRefusal;
}

/**
 * Answers one client text message as Binance does: `SUBSCRIBE`,
 * `UNSUBSCRIBE` and `LIST_SUBSCRIPTIONS` change or list `streams`; anything
 * else gets an error reply carrying the request's `id`.
 *
 * @example
 * ```ts
 * answerStreamRequest('{"method":"LIST_SUBSCRIPTIONS","id":3}', streams, market, 1024).reply;
 * // '{"result":["btcusdt@trade"],"id":3}'
 * ```
 */
export function answerStreamRequest(
  text: string,
  streams: Set<string>,
  market: Market,
  maxStreams: number,
): StreamRequestOutcome {
  let request: { method?: unknown; params?: unknown; id?: unknown };
  try {
    request = JSON.parse(text) as typeof request;
  } catch {
    return { reply: '{"code":2,"msg":"Invalid JSON"}', subscribe: false };
  }
  const id = request.id ?? null;
  const reply = (body: object) => JSON.stringify({ ...body, id });
  const params = Array.isArray(request.params) ? request.params.map(String) : [];
  switch (request.method) {
    case 'SUBSCRIBE': {
      const refusal = subscribe(streams, params, market, maxStreams);
      return refusal === undefined
        ? { reply: reply({ result: null }), subscribe: true }
        : { reply: reply({ error: { code: 2, msg: refusal.message } }), subscribe: true, refusal };
    }
    case 'UNSUBSCRIBE':
      for (const s of params) {
        const stream = market.stream(s);
        if (stream) streams.delete(stream.name);
      }
      return { reply: reply({ result: null }), subscribe: false };
    case 'LIST_SUBSCRIPTIONS':
      return { reply: reply({ result: [...streams] }), subscribe: false };
    default:
      return {
        reply: reply({ error: { code: 2, msg: `Invalid request: unknown method` } }),
        subscribe: false,
      };
  }
}
