import {
  BodyTooLarge,
  DEFAULT_BAN_MS,
  readBody,
  RestAnswerError,
  RestRequestError,
} from '../rest-trades.js';
import { parseRetryAfter } from '../retry-after.js';
import type { FetchDepthSnapshot } from './depth-sync.js';

/** Options of {@link createDepthFetcher}. */
export interface DepthFetcherOptions {
  /** e.g. `https://api.binance.com`. */
  readonly restUrl: string;
  /** Sent as `X-MBX-APIKEY` when set. */
  readonly apiKey?: string | undefined;
  /** Per-request timeout, body included. Default 10 s. */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  /**
   * Until when (epoch ms) REST must not be asked: an IP ban (HTTP 418) seen
   * by any REST user of the process. A request meanwhile fails at once
   * (sending it would lengthen the ban), with `retryAfterMs` set to the rest.
   */
  readonly bannedUntil?: () => number;
  /** Told of a 418 answer: until when the IP is banned. */
  readonly onBanned?: (untilEpochMs: number) => void;
}

// A level is `["12345.67890000","1.23400000"],` about 30-40 bytes: 100 a level is never reached honestly.
const MAX_BYTES_PER_LEVEL = 100;
const BODY_SLACK_BYTES = 16 * 1024;
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * A {@link FetchDepthSnapshot} over Binance REST (`GET /api/v3/depth`): the
 * body is read within a bound set by `limit` and parsed as JSON; the caller
 * ({@link DepthSync}) checks it with `parseDepthSnapshot` before trusting
 * it. Failures throw a `RestRequestError`, carrying `retryAfterMs` when the
 * server asked to wait (429, 418), which holds the shared budget back.
 *
 * @example
 * ```ts
 * const fetchSnapshot = createDepthFetcher({ restUrl: 'https://api.binance.com' });
 * new DepthSync({ symbol: 'BTCUSDT', fetchSnapshot, budget: new RestWeightBudget() });
 * ```
 */
export function createDepthFetcher(options: DepthFetcherOptions): FetchDepthSnapshot {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const headers: Record<string, string> = {};
  if (options.apiKey) headers['x-mbx-apikey'] = options.apiKey;
  return async (symbol, limit, signal) => {
    const path = `/api/v3/depth?symbol=${encodeURIComponent(symbol)}&limit=${limit}`;
    const bannedFor = (options.bannedUntil?.() ?? 0) - now();
    if (bannedFor > 0) {
      throw new RestRequestError(`GET ${path} not sent: the IP is banned`, 418, bannedFor);
    }
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await doFetch(options.restUrl + path, {
        headers,
        signal: AbortSignal.any([signal, timeout]),
      });
    } catch (error) {
      throw new RestRequestError(
        `GET ${path} failed: ${String(error)}`,
        undefined,
        undefined,
        error,
      );
    }
    if (!response.ok) {
      const answeredAt = now();
      let retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), answeredAt);
      if (response.status === 418) {
        retryAfterMs ??= DEFAULT_BAN_MS;
        options.onBanned?.(answeredAt + retryAfterMs);
      }
      const body = await readBody(response, MAX_ERROR_BODY_BYTES).catch(() => '');
      throw new RestRequestError(
        `GET ${path} answered ${response.status}: ${body.slice(0, 200)}`,
        response.status,
        retryAfterMs,
      );
    }
    const maxBytes = 2 * limit * MAX_BYTES_PER_LEVEL + BODY_SLACK_BYTES;
    let text: string;
    try {
      text = await readBody(response, maxBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        throw new RestAnswerError(`GET ${path}: body over ${maxBytes} bytes`, response.status);
      }
      throw new RestRequestError(
        `GET ${path} failed reading the body: ${String(error)}`,
        undefined,
        undefined,
        error,
      );
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new RestAnswerError(`GET ${path}: not JSON`, response.status);
    }
  };
}
