import { sideFromBuyerMaker, type PaperFill } from '@trade/core';
import { MALFORMED_KINDS } from '@trade/exchange-binance/sim';
import { PaperEngine, strategyByName } from '@trade/paper-engine';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { EXACT, databaseUrl, faultScenario, settle, sleep, startApp, until } from './support.js';

// Faults of the exchange side, each ending with tick_data equal to the
// simulator's ground truth.

const SYMBOLS = ['FLTAUSDT', 'FLTBUSDT', 'FLTCUSDT', 'FLTDUSDT', 'FLTOUSDT'];

const scenario = faultScenario(SYMBOLS);

describe('fault suite: the exchange', () => {
  it('recovers every trade through drops, a stall, serverShutdown, gaps, duplicates and refused reconnects', async () => {
    const symbols = SYMBOLS.slice(0, 2);
    const exchange = await scenario.exchange(symbols, 101);
    const dataDir = await scenario.dataDir();
    const { sim } = exchange;
    const run = await startApp(exchange, { symbols, dataDir, databaseUrl: databaseUrl() });
    exchange.run(300);
    const connections = () => run.metric('trading_ws_connections_total');
    const reconnectedAfter = async (before: number) => {
      await until('a new connection', async () => (await connections()) > before);
      await until('the connection to be ready', () => sim.connections().length === 1);
    };
    await sleep(500);

    // An abrupt TCP drop, no close frame.
    let before = await connections();
    sim.drop();
    await reconnectedAfter(before);
    await sleep(500);

    // A stall with the socket left open: what is generated meanwhile never
    // reaches the app, and the next trade reveals the gap.
    sim.stall(3_000);
    await sleep(3_500);

    // serverShutdown, then the server closes the connection.
    before = await connections();
    sim.serverShutdown(300);
    await reconnectedAfter(before);
    await sleep(300);

    // Gaps and duplicates on the live connection.
    sim.gap(40);
    await sleep(200);
    sim.duplicate(5);
    await sleep(300);

    // Reconnects refused for a while, with trades generated meanwhile, then
    // a gap and a duplicate as soon as the stream is back.
    sim.refuseConnections(3_000);
    before = await connections();
    sim.drop();
    await until('the refusals to be over', () => sim.stats().connectionsRefused > 0);
    await reconnectedAfter(before);
    sim.gap(25);
    sim.duplicate(10);
    await sleep(1_000);

    const backfilled = await run.metric('trading_ticks_backfilled_total');
    const unrecovered = await run.metric('trading_ticks_unrecovered_total');
    const reconnects = await run.metric('trading_ws_reconnects_total');
    const disconnections = await run.metric('trading_ws_disconnections_total');
    const opened = await connections();
    const rejected = await Promise.all(
      MALFORMED_KINDS.map((reason) =>
        run.metric(`trading_ticks_rejected_total{reason="${reason}"}`),
      ),
    );

    const { comparison, exitCode } = await settle(exchange, run, symbols);
    expect(exitCode).toBe(0);
    expect(comparison).toMatchObject(EXACT);
    expect(comparison.stored).toBe(comparison.expected);

    // Three connections were cut (drop, serverShutdown, drop under refusal):
    // four were accepted, every refused attempt was a reconnect attempt too.
    const { connectionsAccepted, connectionsRefused } = sim.stats();
    expect(connectionsAccepted).toBe(4);
    expect(connectionsRefused).toBeGreaterThan(0);
    expect(opened).toBe(connectionsAccepted + connectionsRefused);
    expect(reconnects).toBe(opened - 1);
    expect(disconnections).toBe(3);
    // 40 and 25 hidden trades per symbol, plus whatever the stall and the outages hid.
    expect(backfilled).toBeGreaterThanOrEqual((40 + 25) * symbols.length);
    expect(unrecovered).toBe(0);
    expect(rejected).toEqual(MALFORMED_KINDS.map(() => 0));
  }, 120_000);

  it('counts a flood of malformed frames by reason and stores every good trade exactly', async () => {
    const symbols = SYMBOLS.slice(2, 4);
    const exchange = await scenario.exchange(symbols, 202);
    const dataDir = await scenario.dataDir();
    const { sim } = exchange;
    const run = await startApp(exchange, { symbols, dataDir, databaseUrl: databaseUrl() });
    exchange.run(200);

    // Each kind 50 times, interleaved with good trades.
    const rounds = 50;
    for (let round = 0; round < rounds; round++) {
      for (const kind of MALFORMED_KINDS) {
        sim.malformed(kind);
        sim.generate(1);
      }
      await sleep(10);
    }
    await sleep(500);
    const rejected = await Promise.all(
      MALFORMED_KINDS.map((reason) =>
        run.metric(`trading_ticks_rejected_total{reason="${reason}"}`),
      ),
    );
    const reconnects = await run.metric('trading_ws_reconnects_total');

    const { comparison, exitCode } = await settle(exchange, run, symbols);
    expect(exitCode).toBe(0);
    expect(comparison).toMatchObject(EXACT);
    expect(comparison.stored).toBe(comparison.expected);
    expect(Object.fromEntries(MALFORMED_KINDS.map((k, i) => [k, rejected[i]]))).toEqual(
      Object.fromEntries(MALFORMED_KINDS.map((k) => [k, rounds])),
    );
    // Bad frames are skipped, not a reason to drop the connection.
    expect(reconnects).toBe(0);
  }, 120_000);

  it('never lets a duplicate frame reach the paper engine: its fills are the strategy replayed over the ground truth', async () => {
    // One symbol: fills of several symbols share the cash, so their order would depend on arrival.
    const symbols = SYMBOLS.slice(4, 5);
    const exchange = await scenario.exchange(symbols, 909);
    const dataDir = await scenario.dataDir();
    const { sim } = exchange;
    // Trades only: with quotes the engine fills at the touch, which the replay below has not.
    const run = await startApp(exchange, {
      symbols,
      dataDir,
      databaseUrl: databaseUrl(),
      env: { CHANNELS: 'trade' },
    });
    exchange.run(400);
    // Every frame of the last few trades is sent again, over and over, until well past the warm-up.
    for (let round = 0; round < 60; round++) {
      sim.duplicate(1 + (round % 5));
      await sleep(50);
    }
    const { comparison, exitCode } = await settle(exchange, run, symbols);
    expect(exitCode).toBe(0);
    expect(comparison).toMatchObject(EXACT);

    // The same strategy, with the app's defaults and the exchange's rules, over each trade once.
    const expected: PaperFill[] = [];
    const replay = new PaperEngine({
      strategy: strategyByName('sma', {}, 'strategy'),
      rules: new Map([[symbols[0]!, sim.symbolRules(symbols[0]!)]]),
      onFill: (fill) => expected.push(fill),
    });
    for (const trade of sim.truth(symbols[0]!)) {
      replay.onTick({
        symbol: symbols[0]!,
        tradeId: trade.id,
        price: trade.price,
        quantity: trade.quantity,
        side: sideFromBuyerMaker(trade.isBuyerMaker),
        isBuyerMaker: trade.isBuyerMaker,
        tradeTime: trade.time,
        receiveTime: trade.time,
      });
    }
    await replay.stop();
    expect(expected.length).toBeGreaterThan(0);

    const db = new pg.Client({ connectionString: databaseUrl() });
    await db.connect();
    try {
      const { rows } = await db.query<Record<string, string>>(
        `select strategy, symbol, side, price::text as price, quantity::text as quantity,
                fee::text as fee, cash_after::text as cash_after, position_after::text as position_after,
                (extract(epoch from timestamp) * 1000)::bigint::text as time_ms
           from paper_trades where symbol = $1 order by id`,
        [symbols[0]],
      );
      expect(rows).toEqual(
        expected.map((f) => ({
          strategy: f.strategy,
          symbol: f.symbol,
          side: f.side,
          price: f.price,
          quantity: f.quantity,
          fee: f.fee,
          cash_after: f.cashAfter,
          position_after: f.positionAfter,
          time_ms: String(f.timestamp),
        })),
      );
    } finally {
      await db.end();
    }
  }, 120_000);
});
