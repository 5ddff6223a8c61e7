/**
 * A first end-to-end throughput figure of the whole worker (the full benchmark against a
 * row-locking baseline is its own piece of work): N events published with confirms to
 * commerce.events → consumed → Lua → ledger committed in MySQL, timed from the first publish
 * to the last processed_events row. Run: npx tsx test/bench/worker.ts [stock|cart] [N]
 *   stock: stock.received over 1,000 SKUs (no announcement, no job)
 *   cart:  cart.added, half on one hot SKU, half over 1,000 SKUs (announcement + expiry job)
 */
import amqp from 'amqplib';
import { startTestWorker, waitFor } from '../support/worker.js';

const kind = process.argv[2] === 'stock' ? 'stock' : 'cart';
const n = Number(process.argv[3] ?? 20_000);
const w = await startTestWorker('bench_worker', { PREFETCH: '1000', LOG_LEVEL: 'warn' });
const conn = await amqp.connect(w.amqpUrl);
const ch = await conn.createConfirmChannel();
const publish = (type: string, id: string, data: object) =>
  ch.publish(
    'commerce.events',
    type,
    Buffer.from(JSON.stringify({ specversion: '1.0', source: '/bench', type, id, data })),
    { persistent: true, messageId: id, contentType: 'application/cloudevents+json' },
  );
const knex = w.worker.services.knex;
const processed = async () =>
  Number(((await knex('processed_events').count({ n: '*' })) as { n: number }[])[0]!.n);

publish('stock.received', 'seed-hot', { sku: 'HOT', quantity: 10_000_000 });
for (let i = 0; i < 1000; i++)
  publish('stock.received', `seed-${i}`, { sku: `SKU-${i}`, quantity: 1_000_000 });
await ch.waitForConfirms();
await waitFor(async () => (await processed()) === 1001, 120_000, 'seed');

const started = Date.now();
for (let i = 0; i < n; i++) {
  if (kind === 'stock') publish('stock.received', `e${i}`, { sku: `SKU-${i % 1000}`, quantity: 1 });
  else
    publish('cart.added', `e${i}`, {
      cartId: `cart-${i % 5000}`,
      sku: i % 2 ? 'HOT' : `SKU-${i % 1000}`,
      quantity: 1,
    });
  if (i % 1000 === 999) await ch.waitForConfirms();
}
await ch.waitForConfirms();
const published = Date.now();
await waitFor(async () => (await processed()) === 1001 + n, 600_000, 'all events');
const done = Date.now();
console.log(
  JSON.stringify({
    workload: kind,
    events: n,
    publishSeconds: (published - started) / 1000,
    seconds: (done - started) / 1000,
    eventsPerSecond: Math.round(n / ((done - started) / 1000)),
    rssMb: Math.round(process.memoryUsage().rss / 1e6),
    loadavg: (await import('node:os'))
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' '),
  }),
);
await conn.close();
await w.cleanup();
process.exit(0);
