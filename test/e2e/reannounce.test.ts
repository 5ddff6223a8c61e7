/**
 * A duplicate re-announces what the first delivery announced (same ids), also when the worker
 * has only MySQL's compact record of the event: an `order.placed` that took over its cart's
 * whole hold moves no stock, so its `inventory.reserved` comes from the order's hold, found
 * through the duplicate's own orderId (found by the fault suite, scenario 5: such announcements
 * were lost when the broker restarted before confirming them).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { D, E2E, SOURCE } from './harness.js';

let x: E2E;

beforeAll(async () => {
  x = await E2E.start('e2e_reann');
});

afterAll(async () => {
  await x?.close();
});

it('a late duplicate of a cart-converting order.placed re-announces inventory.reserved', async () => {
  const t = x.tenant();
  await x.run(
    x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }),
    x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 2 }),
  );
  const placed = x.ev(t, 'order.placed', {
    orderId: 'o',
    cartId: 'c',
    lines: [{ sku: 'A', quantity: 2 }],
  });
  await x.run(placed);
  const [first] = await x.waitAnnouncements(placed, 1);
  expect(first).toMatchObject({
    type: 'inventory.reserved',
    id: `${SOURCE}#${placed.id}#0`,
    data: { referenceId: 'o', lines: [{ sku: 'A', locationId: D, quantity: 2 }] },
  });
  // mirrored and out of the outbox: the duplicate's payload comes from MySQL
  await x.quiesce();
  await x.publish(placed);
  const again = await x.waitAnnouncements(placed, 2);
  expect(again.map((a) => [a.type, a.id, a.data.lines])).toEqual([
    [first!.type, first!.id, first!.data.lines],
    [first!.type, first!.id, first!.data.lines],
  ]);
});
