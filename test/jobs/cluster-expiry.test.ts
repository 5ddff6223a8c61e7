/**
 * BullMQ on a Redis Cluster: the worker's cart-expiry jobs (queue prefix `{<prefix>.jobs}`, one
 * hash tag, so BullMQ's multi-key scripts stay in one slot) expire a cart on a private cluster,
 * and the nightly reconciliation's job scheduler is there too.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PrivateRedisCluster } from '../faults/support/private.js';
import { collectAnnouncements, publishEvents } from '../support/rabbit.js';
import { startTestWorker, waitFor, type TestWorker } from '../support/worker.js';

let cluster: PrivateRedisCluster;
let w: TestWorker;
let announced: Awaited<ReturnType<typeof collectAnnouncements>>;

beforeAll(async () => {
  cluster = await PrivateRedisCluster.start();
  w = await startTestWorker('clexp', {
    CART_TTL_SECONDS: '2',
    REDIS_URL: cluster.url,
    REDIS_CLUSTER_NODES: cluster.seeds.join(','),
  });
  announced = await collectAnnouncements(w.amqpUrl);
}, 120_000);
afterAll(async () => {
  await announced?.close();
  await w?.cleanup();
  await cluster?.close();
});

test('a cart expires through its BullMQ job on the cluster', async () => {
  const level = async () =>
    ((await w.worker.services.knex('stock_levels').where({ sku: 'CL-1' }).first()) as
      { reserved: number } | undefined) ?? { reserved: 0 };
  await publishEvents(w.amqpUrl, [
    { type: 'stock.received', id: 'cl-1', data: { sku: 'CL-1', quantity: 10 } },
    { type: 'cart.added', id: 'cl-2', data: { cartId: 'gone', sku: 'CL-1', quantity: 4 } },
  ]);
  await waitFor(async () => Number((await level()).reserved) === 4, 10_000, 'hold');
  await waitFor(async () => Number((await level()).reserved) === 0, 15_000, 'expiry');
  await waitFor(
    () => announced.events.some((e) => e.type === 'inventory.expired'),
    5_000,
    'announcement',
  );
  const jobs = w.worker.reconcileJobs.queue;
  expect((await jobs.getJobSchedulers()).map((s) => s.key)).toHaveLength(1);
});
