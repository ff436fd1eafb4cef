/** Help texts of the CLI, one per command. */
export function usage(version: string): string {
  return `trading-core ${version}

Usage: trading-core <command> [options]

Commands:
  live       ingest Binance trades, quotes and order books into the database and cache, optionally paper-trade
  sim        serve a Binance-protocol simulator (stream + REST) on loopback
  migrate    apply the database migrations and exit
  backtest   replay stored ticks through a strategy, print a summary, optionally an HTML report
  candles    print the stored 1m/5m/1h/1d candles of a symbol
  collect    publish Binance trades, quotes and book snapshots to the NATS JetStream bus
  store      write the ticks of the NATS JetStream bus to PostgreSQL and the cache
  paper      paper-trade a strategy on the ticks of the NATS JetStream bus

Run \`trading-core <command> --help\` for a command's options.
\`pnpm start\` runs \`live --paper-trading\`; \`pnpm start -- --sim\` adds the simulator.

Options:
  -h, --help      show help
  -v, --version   print the version
`;
}

const ENV = `Environment (flags win over variables; a set but invalid value stops the app):
  SYMBOLS            symbols to follow (default BTCUSDT,ETHUSDT)
  BINANCE_WS_URL     exchange stream base URL (default wss://stream.binance.com:9443)
  BINANCE_REST_URL   REST base URL for gap backfill (default https://api.binance.com)
  DATABASE_URL       PostgreSQL URL; unset: embedded PGlite under DATA_DIR
  REDIS_URL          Redis URL; unset: in-process memory cache
  DATA_DIR           embedded database and durable spool (default ./data)
  RESUME_MAX_TRADES  most trades per symbol backfilled on restart (default 100000)
  READY_MAX_GAP_SECONDS  /ready fails while a trade-id gap stays unfilled this long (default 30)
  MAX_BUFFERED_TICKS     ticks held in memory while the disk and the database both refuse them;
                         beyond it ingest blocks and the stream pauses (default 100000)
  CHANNELS           what to stream per symbol, of trade, bookTicker, depth (default
                     trade,bookTicker)
  BOOK_SNAPSHOT_MS   with depth: each symbol's top 20 levels a side to book_snapshots this often
                     (default 1000)
  RETENTION_DAYS     days of ticks and quotes kept in the database; older UTC days are dropped
                     at start and hourly by live and store (default unset: keep everything)
  ARCHIVE_DIR        with RETENTION_DAYS: each day is written to Parquet here, read back and
                     checked before it is dropped; backtest reads archived days too
  METRICS_HOST       metrics exporter interface (default 0.0.0.0)
  METRICS_PORT       metrics exporter port (default 9090)
  LOG_LEVEL          pino level (default info)
  LOG_FORMAT         pretty (one readable line per event) or json (JSON lines); default pretty
                     on a terminal, json when piped
`;

export const COMMAND_HELP: Readonly<Record<string, string>> = {
  live: `Usage: trading-core live [--paper-trading] [--strategy sma|rsi|FILE] [--strategy-options K=V,...] [--sim] [--symbols A,B] [--channels LIST] [--exchange-url URL]

  --paper-trading       run the strategy on the stream and log fills to paper_trades
  --strategy NAME|FILE  strategy for --paper-trading: sma (default), rsi, or the path of a
                        strategy module (.mjs, .js, .cjs; see examples/strategies/momentum.mjs)
  --strategy-options K=V,...
                        the strategy's numbers: sma takes fast, slow (default 5, 20); rsi
                        period, oversold, overbought (default 14, 30, 70); a module's
                        default-exported function gets them all
  --sim                 start the built-in simulator on loopback and stream from it (logs say SIMULATED)
  --sim-rate N|max      simulator trades per second per symbol (default 20)
  --symbols A,B         symbols to follow (or SYMBOLS)
  --channels LIST       what to stream per symbol (or CHANNELS): trade, bookTicker (quotes into
                        quote_data), depth (the order book, snapshots into book_snapshots);
                        default trade,bookTicker. With quotes or a book, paper orders fill at
                        the touch or walking the book, bounded by the exchange's rules
  --exchange-url URL    exchange stream base URL (or BINANCE_WS_URL)

${ENV}`,
  sim: `Usage: trading-core sim [--port 9443] [--host 127.0.0.1] [--rate 1000|max] [--symbols A,B] [--seed 1]

  --port N          port to serve on (default 9443)
  --host ADDR       interface (default 127.0.0.1)
  --rate N|max      trades per second per symbol, or as fast as sockets drain (default 10)
  --symbols A,B     symbols that trade (default BTCUSDT,ETHUSDT or SYMBOLS)
  --seed N          seed of the random walk: the same seed gives the same trades (default 1)
`,
  migrate: `Usage: trading-core migrate

Applies the database migrations (idempotent) to DATABASE_URL, or to the
embedded PGlite under DATA_DIR when it is unset, and exits.
`,
  backtest: `Usage: trading-core backtest --strategy sma|rsi|FILE [--strategy-options K=V,...] --symbol SYM [--from ISO] [--to ISO] [--json] [--report FILE.html]

  --strategy NAME   sma, rsi, or the path of a strategy module (.mjs, .js, .cjs; see
                    examples/strategies/momentum.mjs)
  --strategy-options K=V,...
                    the strategy's numbers: sma takes fast, slow (default 5, 20); rsi
                    period, oversold, overbought (default 14, 30, 70); a module's
                    default-exported function gets them all
  --symbol SYM      the symbol whose stored ticks are replayed
  --from ISO        first trade time, e.g. 2026-01-16T00:00:00Z (default: the first stored tick)
  --to ISO          last trade time (default: the last stored tick)
  --json            print the summary as JSON
  --report FILE     also write an HTML report there: the summary, the price with a marker per
                    buy and sell, the equity curve and the drawdown, in one file that opens
                    in any browser offline (charts and data inline)

Reads DATABASE_URL (or the embedded PGlite under DATA_DIR).
`,
  candles: `Usage: trading-core candles --symbol SYM --interval 1m|5m|1h|1d [--from ISO] [--to ISO] [--json]

  --symbol SYM      the symbol
  --interval W      1m, 5m, 1h or 1d (UTC-aligned, made from the stored one-minute candles)
  --from ISO        first candle start, e.g. 2026-01-16T00:00:00Z (default: the first)
  --to ISO          candles starting before this time (default: the last)
  --json            print the candles as JSON

Reads candles_1m of DATABASE_URL (or the embedded PGlite under DATA_DIR): kept
true to the stored ticks by migrate and whenever live stops. Retention does not
touch candles_1m: the candles of a day dropped (and archived) are made from its
ticks before it goes, and stay.
`,
  collect: `Usage: trading-core collect [--nats URL] [--symbols A,B] [--channels LIST] [--exchange-url URL] [--sim] [--sim-rate N|max]

Publishes each trade of the exchange streams to the JetStream stream (subject
md.binance.trade.<SYMBOL>, header Nats-Msg-Id binance:trade:<SYMBOL>:<id>),
creating the stream if missing; each symbol resumes after the last trade in
the stream, gaps backfilled over REST. Ticks JetStream does not ack wait in
DATA_DIR/bus-spool and are published once it does. Any number of collectors
may run for the same symbols: the stream keeps one copy of each trade.
Quotes go to md.binance.bookTicker.<SYMBOL> and, with depth, each symbol's
top 20 levels every BOOK_SNAPSHOT_MS to md.binance.depth.<SYMBOL> (message
ids by update id), spooled under DATA_DIR/bus-spool/quotes and .../books
while NATS is away. SIGTERM publishes (or spools) what was received and exits 0.

  --nats URL            NATS server(s), comma-separated (or NATS_URL)
  --symbols A,B         symbols to follow (or SYMBOLS)
  --channels LIST       what to publish per symbol (or CHANNELS): trade, bookTicker, depth;
                        default trade,bookTicker
  --exchange-url URL    exchange stream base URL (or BINANCE_WS_URL)
  --sim                 stream from the built-in simulator on loopback (logs say SIMULATED)
  --sim-rate N|max      simulator trades per second per symbol (default 20)

Environment: NATS_URL (required unless --nats), NATS_STREAM (default TRADES),
NATS_REPLICAS (when creating the stream, default 1), SYMBOLS, CHANNELS, BINANCE_WS_URL, BINANCE_REST_URL, RESUME_MAX_TRADES, DATA_DIR (the
spool, default ./data), METRICS_HOST, METRICS_PORT (/ready: exchange connected
and bus reachable), LOG_LEVEL.
`,
  store: `Usage: trading-core store [--nats URL]

Pulls ticks from the JetStream stream as a durable consumer and writes them
to PostgreSQL and the cache, in batches; a batch is acked once its rows are
committed (or spooled under DATA_DIR). Any number of store processes share
the consumer, each taking a share of the messages. SIGTERM finishes and acks
the batch in hand, flushes, and exits 0.

  --nats URL        NATS server(s), comma-separated (or NATS_URL)

Environment:
  NATS_URL           required unless --nats: nats://host:4222, a comma list for a cluster
  NATS_STREAM        the stream (default TRADES; created if missing)
  NATS_CONSUMER      the durable consumer the writers share (default store)
  NATS_REPLICAS      copies of each message when creating the stream (1-5, default 1)
  DATABASE_URL       PostgreSQL URL (required)
  REDIS_URL          Redis URL; unset: in-process memory cache
  DATA_DIR           the durable spool of ticks the database did not take yet (default ./data)
  MAX_BUFFERED_TICKS ticks held in memory while the disk and the database both refuse them
  METRICS_HOST       metrics exporter interface (default 0.0.0.0)
  METRICS_PORT       metrics exporter port (default 9090); /ready: bus and database reachable
  LOG_LEVEL          pino level (default info)
  LOG_FORMAT         pretty (one readable line per event) or json (JSON lines); default pretty
                     on a terminal, json when piped
`,
  paper: `Usage: trading-core paper [--strategy sma|rsi|FILE] [--strategy-options K=V,...] [--symbols A,B] [--nats URL]

Runs the paper engine on the ticks of the JetStream stream, pulling them as
its own durable consumer, and writes its fills to paper_trades. A new
consumer starts with the ticks published from then on (history is not
traded as if it were live); restarted, it continues where it stopped. The
portfolio starts afresh at each start, as in live. Run one paper process per
consumer: processes sharing one would each see part of every symbol's ticks.
SIGTERM trades and acks the batch in hand, writes every fill, and exits 0.

  --strategy NAME|FILE  sma (default), rsi, or the path of a strategy module (.mjs, .js,
                        .cjs; see examples/strategies/momentum.mjs)
  --strategy-options K=V,...
                        the strategy's numbers: sma takes fast, slow (default 5, 20); rsi
                        period, oversold, overbought (default 14, 30, 70); a module's
                        default-exported function gets them all
  --symbols A,B         trade only these symbols (or SYMBOLS; default: every symbol
                        on the bus); one symbol is filtered by the server
  --nats URL            NATS server(s), comma-separated (or NATS_URL)

Environment:
  NATS_URL           required unless --nats: nats://host:4222, a comma list for a cluster
  NATS_STREAM        the stream (default TRADES; created if missing)
  NATS_CONSUMER      paper's durable consumer (default paper-<strategy name>, e.g. paper-sma,
                     or paper-momentum for a module's strategy named momentum); it
                     must differ from the writers' (store): acks on theirs take ticks from them.
                     Its symbols filter is set when it is created: to change
                     --symbols to another single symbol, use a new name
  DATABASE_URL       PostgreSQL URL for paper_trades; unset: embedded PGlite under DATA_DIR
  REDIS_URL          Redis URL of the writers' cache: strategies warm up on its recent
                     ticks; unset: in-process memory cache (they start cold)
  DATA_DIR           the embedded database when DATABASE_URL is unset (default ./data)
  METRICS_HOST       metrics exporter interface (default 0.0.0.0)
  METRICS_PORT       metrics exporter port (default 9090); /ready: bus and database reachable
  LOG_LEVEL          pino level (default info)
  LOG_FORMAT         pretty (one readable line per event) or json (JSON lines); default pretty
                     on a terminal, json when piped
`,
};
