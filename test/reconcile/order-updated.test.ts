/**
 * An order edited (order.updated) grows, shrinks and keeps a backordered line: the reconciliation
 * finds no drift in the order's hold, the stock figures or the wait queue, also after Redis is
 * rebuilt from MySQL; a drift made behind the scripts is still found.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Command } from '../../src/domain/types.js';
import { unlinkTenantKeys } from '../../src/ledger/tenant-keys.js';
import { createReconcileHarness, events, shape, type ReconcileHarness } from './harness.js';

let h: ReconcileHarness;
beforeAll(async () => {
  h = await createReconcileHarness('rec_orderupd');
});
afterAll(async () => {
  await h?.close();
});

const D = 'default';
const line = (sku: string, quantity: number) => ({ sku, locationId: D, quantity });

test('edited orders, paid and not, with waiting units: no drift, before and after a rebuild', async () => {
  const t = 'edited';
  const e = events(t);
  const run = (c: Command) => h.apply(e(c.op), c);
  await run({ op: 'receiveStock', sku: 'A', locationId: D, quantity: 10 });
  await run({ op: 'receiveStock', sku: 'B', locationId: D, quantity: 4 });
  await run({
    op: 'configureStock',
    sku: 'B',
    locationId: D,
    policy: 'backorder',
    policyLimit: 5,
  });
  await run({ op: 'placeOrder', orderId: 'o1', lines: [line('A', 2), line('B', 1)] });
  await run({ op: 'placeOrder', orderId: 'o2', lines: [line('A', 3)] });
  await run({ op: 'commitOrder', orderId: 'o2', paymentId: 'p2' });
  // o1: A grows, B grows past stock (1 backordered); o2 (paid): A shrinks, B new (backordered)
  await run({ op: 'updateOrder', orderId: 'o1', lines: [line('A', 4), line('B', 5)] });
  await run({ op: 'updateOrder', orderId: 'o2', lines: [line('A', 1), line('B', 1)] });
  // o1 shrinks B: its waiting unit goes first; later its held units go, which fills o2's
  await run({ op: 'updateOrder', orderId: 'o1', lines: [line('A', 4), line('B', 4)] });
  await run({ op: 'fulfilShipment', shipmentId: 's1', orderId: 'o1', lines: [line('A', 2)] });
  await run({ op: 'updateOrder', orderId: 'o1', lines: [line('A', 2), line('B', 2)] });

  const levels = (await h.s
    .knex('stock_levels')
    .where({ tenant: t })
    .orderBy('sku')
    .select('sku', 'on_hand', 'reserved', 'committed', 'backordered')) as unknown[];
  expect(levels).toEqual([
    { sku: 'A', on_hand: 8, reserved: 1, committed: 1, backordered: 0 },
    { sku: 'B', on_hand: 4, reserved: 3, committed: 1, backordered: 0 },
  ]);

  let r = await h.run({ tenant: t });
  expect(r.firstDrifts.map(shape)).toEqual([]);
  expect(r.status).toBe('clean');

  const order = h.keys(t).order('o1');
  const before = await h.s.redis.hgetall(order);
  await unlinkTenantKeys(h.s.redis, h.keys(t)); // Redis restarted empty
  await h.s.loader.load(t);
  expect(await h.s.redis.hgetall(order)).toEqual(before);
  r = await h.run({ tenant: t });
  expect(r.firstDrifts.map(shape)).toEqual([]);

  // behind the scripts: the order's hold loses a unit; the reconciliation finds it
  await h.s.redis.hincrby(order, `h:B\u001f${D}`, -1);
  r = await h.run({ tenant: t });
  expect(r.firstDrifts.length).toBeGreaterThan(0);
});
