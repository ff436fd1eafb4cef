import { describe, expect, it } from 'vitest';
import { fastBookTicker } from './fast-book-ticker.js';
import { parseBookTickerText } from './parse-book-ticker.js';

const AT = 1_700_000_000_000;

function frame(symbol: string, u: number, b: string, B: string, a: string, A: string): string {
  return `{"stream":"${symbol.toLowerCase()}@bookTicker","data":{"u":${u},"s":"${symbol}","b":"${b}","B":"${B}","a":"${a}","A":"${A}"}}`;
}

/** A small seeded generator, so a failure can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('fastBookTicker', () => {
  it('reads Binance frames as the full parser does', () => {
    const text = frame(
      'BNBUSDT',
      400900217,
      '25.35190000',
      '31.21000000',
      '25.36520000',
      '40.66000000',
    );
    const full = parseBookTickerText(text, AT);
    expect(full.kind).toBe('quote');
    expect(fastBookTicker(Buffer.from(text), AT)).toEqual(
      full.kind === 'quote' ? full.quote : undefined,
    );
    expect(Object.isFrozen(fastBookTicker(Buffer.from(text), AT))).toBe(true);
  });

  it('never accepts what the full parser refuses, and agrees on what it accepts (mutated frames)', () => {
    const random = prng(7);
    const alphabet = '0123456789.,:"{}abcAB@ -eE';
    let accepted = 0;
    let mutated = 0;
    for (let n = 0; n < 20_000; n++) {
      const price = (1 + Math.floor(random() * 90_000)) / 100;
      let text = frame(
        random() < 0.5 ? 'BTCUSDT' : 'E2',
        Math.floor(random() * 2 ** 40),
        price.toFixed(8),
        (random() * 10).toFixed(5),
        (price + 0.01 + Math.floor(random() * 3) / 100).toFixed(8),
        (random() * 10).toFixed(3),
      );
      if (n % 2 === 1) {
        // One to three bytes replaced, inserted or removed anywhere.
        for (let k = 1 + Math.floor(random() * 3); k > 0; k--) {
          const at = Math.floor(random() * text.length);
          const c = alphabet[Math.floor(random() * alphabet.length)]!;
          const op = random();
          text =
            op < 0.4
              ? text.slice(0, at) + c + text.slice(at + 1)
              : op < 0.7
                ? text.slice(0, at) + c + text.slice(at)
                : text.slice(0, at) + text.slice(at + 1);
        }
        mutated++;
      }
      const fast = fastBookTicker(Buffer.from(text, 'latin1'), AT);
      const full = parseBookTickerText(text, AT);
      if (fast !== undefined) {
        accepted++;
        expect(full, text).toEqual({ kind: 'quote', quote: fast });
      } else if (n % 2 === 0) {
        // Every unmutated frame is Binance's layout: the fast path takes it.
        throw new Error(`fast path refused a valid frame: ${text}`);
      }
    }
    expect(accepted).toBeGreaterThan(10_000);
    expect(mutated).toBe(10_000);
  });

  it('leaves crossed books, zero sizes and other layouts to the full parser', () => {
    const crossed = frame('BTCUSDT', 1, '10.00', '1', '9.99', '1');
    expect(fastBookTicker(Buffer.from(crossed), AT)).toBeUndefined();
    expect(parseBookTickerText(crossed, AT)).toMatchObject({ reason: 'crossed_book' });
    expect(
      fastBookTicker(Buffer.from(frame('BTCUSDT', 1, '10', '0.000', '11', '1')), AT),
    ).toBeUndefined();
    const mismatch = frame('BTCUSDT', 1, '10', '1', '11', '1').replace('btcusdt@', 'ethusdt@');
    expect(fastBookTicker(Buffer.from(mismatch), AT)).toBeUndefined();
    const reordered =
      '{"stream":"btcusdt@bookTicker","data":{"s":"BTCUSDT","u":1,"b":"10","B":"1","a":"11","A":"1"}}';
    expect(fastBookTicker(Buffer.from(reordered), AT)).toBeUndefined();
    expect(parseBookTickerText(reordered, AT).kind).toBe('quote');
  });
});
