import { TickRepository, createPostgresDb } from '@trade/market-data';
import pg from 'pg';
const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/trade_market_data_bench', max: 4 });
const db = createPostgresDb({ pool });
const repository = new TickRepository(db);
const t0 = Date.UTC(2026,0,1);
const N = 1_000_000;
const ticks = Array.from({length: N}, (_, i) => { const maker=(i*7)%3===0; return { symbol: i&1?'ETHUSDT':'BTCUSDT', tradeId: 1+(i>>1), price: `${(i&1?2300:43000)+((i*37)%1000)}.${String((i*13)%100).padStart(2,'0')}000000`, quantity: `0.${String(((i*7919)%99999999)+1).padStart(8,'0')}`, side: maker?'SELL':'BUY', isBuyerMaker: maker, tradeTime: t0+i*3, receiveTime: t0+i*3+5 } as const; });
const batches = []; for (let i=0;i<N;i+=5000) batches.push(ticks.slice(i,i+5000));
for (let run=0; run<Number(process.env.RUNS ?? 3); run++) {
  await pool.query('truncate tick_data'); await pool.query('checkpoint');
  const cpu = process.cpuUsage(); const s = performance.now();
  let next=0; let last: Promise<void> = Promise.resolve();
  await Promise.all([0,1].map(async () => { while (next < batches.length) { const b = batches[next++]!; const prev = last; let d!: () => void; last = new Promise(r => d = r); try { await repository.insertTicks(b as any, { commitAfter: prev }); } finally { d(); } } }));
  const el = (performance.now()-s)/1000; const c = process.cpuUsage(cpu);
  console.log(Math.round(N/el), 'rows/s; node cpu', ((c.user+c.system)/1e6/el*100).toFixed(0)+'% of one core', ((c.user+c.system)/N).toFixed(2), 'us/row', 'user', (c.user/N).toFixed(2), 'sys', (c.system/N).toFixed(2));
}
await db.destroy();
