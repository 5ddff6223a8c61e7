/**
 * Kits through RabbitMQ, Redis and MySQL: `kit.defined`, then a cart takes two kits' components
 * (announced as their reservation, the ledger naming the kit), a second cart is refused naming the
 * short component, the order from the first cart is paid, one kit ships and comes back; the
 * ledger sums to stock_levels throughout. After `kit.removed` the SKU is a SKU like another again.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { E2E } from './harness.js';

let x: E2E;

beforeAll(async () => {
  x = await E2E.start('e2e_kits');
});

afterAll(async () => {
  await x?.close();
});

it('a gift set sold, refused, paid, shipped and returned as its components', async () => {
  const t = x.tenant();
  const defined = x.ev(t, 'kit.defined', {
    sku: 'GIFT',
    components: [
      { sku: 'TEA', quantity: 1 },
      { sku: 'MUG', quantity: 2 },
    ],
  });
  await x.run(
    defined,
    x.ev(t, 'stock.received', { sku: 'MUG', quantity: 10 }),
    x.ev(t, 'stock.received', { sku: 'TEA', quantity: 3 }),
  );
  expect(await x.outcome(defined)).toMatchObject({ result: 'applied' });

  const added = x.ev(t, 'cart.added', { cartId: 'c1', sku: 'GIFT', quantity: 2 });
  await x.run(added);
  expect(await x.outcome(added)).toMatchObject({ result: 'applied' });
  const [reserved] = await x.waitAnnouncements(added, 1);
  expect(reserved).toMatchObject({
    type: 'inventory.reserved',
    data: {
      referenceType: 'cart',
      referenceId: 'c1',
      lines: [
        { sku: 'MUG', quantity: 4 },
        { sku: 'TEA', quantity: 2 },
      ],
    },
  });
  const kitRows = async (eventId: string) =>
    (await x
      .knex('inventory_ledger')
      .where({ tenant: t, event_id: eventId })
      .orderBy('line_no')
      .select('sku', 'movement', 'qty', 'kit', 'kit_qty')) as Record<string, unknown>[];
  expect(await kitRows(added.id)).toEqual([
    { sku: 'MUG', movement: 'reserved', qty: 4, kit: 'GIFT', kit_qty: 4 },
    { sku: 'TEA', movement: 'reserved', qty: 2, kit: 'GIFT', kit_qty: 2 },
  ]);

  // one tea left: a second cart's two kits are refused, naming the tea
  const refused = x.ev(t, 'cart.added', { cartId: 'c2', sku: 'GIFT', quantity: 2 });
  await x.run(refused);
  expect(await x.outcome(refused)).toMatchObject({
    result: 'rejected',
    reason: 'insufficient-stock',
  });
  const [failed] = await x.waitAnnouncements(refused, 1);
  expect(failed).toMatchObject({
    type: 'inventory.reservation-failed',
    data: { lines: [{ sku: 'TEA', locationId: 'default', requested: 2, available: 1 }] },
  });

  await x.run(
    x.ev(t, 'order.placed', { orderId: 'o1', cartId: 'c1', lines: [{ sku: 'GIFT', quantity: 2 }] }),
  );
  await x.run(x.ev(t, 'payment.succeeded', { orderId: 'o1', paymentId: 'p1' }));
  expect(await x.level(t, 'MUG')).toMatchObject({ onHand: 10, reserved: 4, committed: 4 });
  const shipped = x.ev(t, 'shipment.created', {
    shipmentId: 's1',
    orderId: 'o1',
    lines: [{ sku: 'GIFT', quantity: 1 }],
  });
  await x.run(shipped);
  expect(await kitRows(shipped.id)).toEqual([
    { sku: 'MUG', movement: 'shipped', qty: -2, kit: 'GIFT', kit_qty: 2 },
    { sku: 'TEA', movement: 'shipped', qty: -1, kit: 'GIFT', kit_qty: 1 },
  ]);
  const returned = x.ev(t, 'rma.passed', {
    rmaId: 'r1',
    orderId: 'o1',
    lines: [{ sku: 'GIFT', quantity: 1, disposition: 'restock' }],
  });
  await x.run(returned);
  expect(await x.level(t, 'MUG')).toMatchObject({ onHand: 10, reserved: 2, committed: 2 });
  expect(await x.level(t, 'TEA')).toMatchObject({ onHand: 3, reserved: 1, committed: 1 });
  await x.expectLedgerMatchesLevels(t);

  // removed: GIFT is a plain SKU again, with no stock of its own
  const removed = x.ev(t, 'kit.removed', { sku: 'GIFT' });
  const plain = x.ev(t, 'cart.added', { cartId: 'c3', sku: 'GIFT', quantity: 1 });
  await x.run(removed);
  await x.run(plain);
  expect(await x.outcome(removed)).toMatchObject({ result: 'applied' });
  expect(await x.outcome(plain)).toMatchObject({ result: 'rejected' });
  expect(await kitRows(plain.id)).toEqual([]);
});
