import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { METRIC_CATALOGUE, type MetricDefinition } from './catalogue.js';

// The specification, verbatim: its tables and bucket lines are the contract.
const spec = readFileSync(
  new URL('../test/fixtures/prometheus-metrics-spec.md', import.meta.url),
  'utf8',
);

interface SpecFamily {
  name: string;
  type: string;
  help: string;
  section: string;
}

function specFamilies(): SpecFamily[] {
  const families: SpecFamily[] = [];
  let section = '';
  for (const line of spec.split('\n')) {
    const heading = /^### \d+\. (.+)$/.exec(line);
    if (heading) section = heading[1]!;
    const row = /^\| `(trading_[a-z_]+)` \| (\w+) \| (.+) \|$/.exec(line);
    if (row) families.push({ name: row[1]!, type: row[2]!, help: row[3]!, section });
  }
  return families;
}

function specBuckets(): number[][] {
  return [...spec.matchAll(/\*\*Histogram Buckets\*\*: \[([^\]]+)\]/g)].map((m) =>
    m[1]!.split(',').map(Number),
  );
}

const definitions = Object.values(METRIC_CATALOGUE) as MetricDefinition[];
const byName = new Map(definitions.map((d) => [d.name, d]));

describe('the metric catalogue against the specification', () => {
  const families = specFamilies();

  it('reads all 25 families from the 7 sections of the spec', () => {
    const perSection = Object.fromEntries(
      [...new Set(families.map((f) => f.section))].map((s) => [
        s,
        families.filter((f) => f.section === s).length,
      ]),
    );
    expect(perSection).toEqual({
      'Tick Processing Metrics': 4,
      'Batch Processing Metrics': 5,
      'Cache Metrics': 3,
      'Database Connection Pool Metrics': 3,
      'WebSocket Connection Metrics': 4,
      'Paper Trading Metrics': 4,
      'System Health Metrics': 2,
    });
  });

  it.each(specFamilies().map((f) => [f.name, f] as const))(
    '%s has the spec name, type and help text',
    (name, family) => {
      const definition = byName.get(name);
      expect(definition, `${name} is missing from the catalogue`).toBeDefined();
      const type = {
        Counter: 'counter',
        Gauge: 'gauge',
        IntGauge: 'gauge',
        Histogram: 'histogram',
      }[family.type];
      expect(definition!.type).toBe(type);
      expect(definition!.help).toBe(family.help);
      expect(definition!.origin).toBe('spec');
    },
  );

  it('marks exactly the spec families as spec, and every other one as added', () => {
    const specNames = new Set(families.map((f) => f.name));
    for (const definition of definitions) {
      expect(definition.origin, definition.name).toBe(
        specNames.has(definition.name) ? 'spec' : 'added',
      );
    }
    expect(definitions.filter((d) => d.origin === 'added').map((d) => d.name)).toEqual([
      'trading_ticks_rejected_total',
      'trading_ticks_backfilled_total',
      'trading_ticks_unrecovered_total',
      'trading_ticks_duplicates_total',
      'trading_gaps_open',
      'trading_spool_ticks',
      'trading_ticks_refused_total',
      'trading_spool_append_failures_total',
      'trading_spool_corrupt_records_total',
      'trading_ingest_blocked',
      'trading_ws_last_message_age_seconds',
      'trading_paper_fees_paid_total',
      'trading_paper_slippage_cost_total',
      'trading_paper_fills_dropped_total',
      'trading_paper_fills_refused_total',
      'trading_build_info',
      'trading_bus_published_total',
      'trading_bus_duplicates_total',
      'trading_bus_publish_failures_total',
      'trading_bus_consumer_pending',
      'trading_bus_redeliveries_total',
      'trading_quotes_received_total',
      'trading_best_bid_price',
      'trading_best_ask_price',
      'trading_spread_bps',
      'trading_book_updates_total',
      'trading_book_resyncs_total',
      'trading_storage_partitions',
      'trading_storage_oldest_day_timestamp_seconds',
    ]);
  });

  it('uses the spec buckets for both histograms', () => {
    const [batch, paper] = specBuckets();
    expect(METRIC_CATALOGUE.batchInsertDuration.buckets).toEqual(batch);
    expect(METRIC_CATALOGUE.paperTickDuration.buckets).toEqual(paper);
  });

  it('keeps the spec families unlabeled, so its expected output holds as written', () => {
    const labeled = definitions.filter((d) => d.labelNames?.length).map((d) => d.name);
    // trading_errors_total gains a component label, as the foundation issue asks.
    expect(labeled).toEqual([
      'trading_ticks_rejected_total',
      'trading_errors_total',
      'trading_build_info',
      'trading_bus_published_total',
      'trading_bus_duplicates_total',
      'trading_bus_publish_failures_total',
      'trading_bus_consumer_pending',
      'trading_bus_redeliveries_total',
      'trading_best_bid_price',
      'trading_best_ask_price',
      'trading_spread_bps',
      'trading_book_resyncs_total',
      'trading_storage_partitions',
      'trading_storage_oldest_day_timestamp_seconds',
    ]);
  });
});

describe('the bus families', () => {
  it('have the names, types and labels the bus contract names', () => {
    const bus = definitions.filter((d) => d.group === 'bus');
    expect(bus.map((d) => [d.name, d.type, d.labelNames])).toEqual([
      ['trading_bus_published_total', 'counter', ['channel', 'symbol']],
      ['trading_bus_duplicates_total', 'counter', ['channel', 'symbol']],
      ['trading_bus_publish_failures_total', 'counter', ['reason']],
      ['trading_bus_consumer_pending', 'gauge', ['consumer']],
      ['trading_bus_redeliveries_total', 'counter', ['consumer']],
    ]);
    for (const definition of bus) {
      expect(definition.origin).toBe('added');
      expect(definition.help.length, definition.name).toBeGreaterThan(20);
    }
  });
});

describe('the quote and order book families', () => {
  it('have the names, types and labels the market-data contract names', () => {
    const market = definitions.filter((d) => d.group === 'quotes' || d.group === 'book');
    expect(market.map((d) => [d.name, d.type, d.group, d.labelNames])).toEqual([
      // Unlabeled like trading_ticks_received_total, its trade counterpart.
      ['trading_quotes_received_total', 'counter', 'quotes', undefined],
      ['trading_best_bid_price', 'gauge', 'quotes', ['symbol']],
      ['trading_best_ask_price', 'gauge', 'quotes', ['symbol']],
      ['trading_spread_bps', 'gauge', 'quotes', ['symbol']],
      ['trading_book_updates_total', 'counter', 'book', undefined],
      ['trading_book_resyncs_total', 'counter', 'book', ['symbol']],
    ]);
    for (const definition of market) {
      expect(definition.origin).toBe('added');
      expect(definition.help.length, definition.name).toBeGreaterThan(20);
    }
    expect(METRIC_CATALOGUE.spreadBps.help).toContain('(ask - bid) / ((ask + bid) / 2) x 10^4');
    expect(METRIC_CATALOGUE.bookResyncs.help).toContain('the first sync is not counted');
  });
});

describe('the storage families', () => {
  it('have the names, types and labels the storage contract names', () => {
    const storage = definitions.filter((d) => d.group === 'storage');
    expect(storage.map((d) => [d.name, d.type, d.labelNames])).toEqual([
      ['trading_storage_partitions', 'gauge', ['table']],
      ['trading_storage_oldest_day_timestamp_seconds', 'gauge', ['table']],
    ]);
    for (const definition of storage) expect(definition.origin).toBe('added');
  });
});
