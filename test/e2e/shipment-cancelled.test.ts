/**
 * `shipment.cancelled` through RabbitMQ, Redis and MySQL: the shipment's units come back on hand
 * and into the paid order's hold, committed; the ledger row is a `shipped` movement turned round
 * (units sold net out); `inventory.reserved` announces the hold given back; a second cancellation
 * and an unknown shipment change nothing; after `order.cancelled` the units become available.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { E2E } from './harness.js';

let x: E2E;

beforeAll(async () => {
  x = await E2E.start('e2e_shipcancel');
});

afterAll(async () => {
  await x?.close();
});

it('a paid order shipped, the shipment cancelled: held and committed again, announced as reserved', async () => {
  const t = x.tenant();
  await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }));
  await x.run(x.ev(t, 'order.placed', { orderId: 'o', lines: [{ sku: 'A', quantity: 3 }] }));
  await x.run(x.ev(t, 'payment.succeeded', { orderId: 'o', paymentId: 'p' }));
  const shipped = x.ev(t, 'shipment.created', {
    shipmentId: 's',
    orderId: 'o',
    lines: [{ sku: 'A', quantity: 3 }],
  });
  await x.run(shipped);
  expect(await x.level(t, 'A')).toMatchObject({ onHand: 7, reserved: 0, committed: 0 });

  const cancelled = x.ev(t, 'shipment.cancelled', { shipmentId: 's', orderId: 'o' });
  await x.run(cancelled);
  expect(await x.outcome(cancelled)).toMatchObject({ result: 'applied' });
  expect(await x.level(t, 'A')).toMatchObject({
    onHand: 10,
    reserved: 3,
    committed: 3,
    available: 7,
  });
  const [row] = await x.ledger(t, [cancelled]);
  expect(row).toMatchObject({
    movement: 'shipped',
    qty: 3,
    d: [3, 3, 3, 0, 0],
    reason: 'shipment-cancelled',
    referenceType: 'order',
    referenceId: 'o',
  });
  const [ann] = await x.waitAnnouncements(cancelled, 1);
  expect(ann).toMatchObject({
    type: 'inventory.reserved',
    data: { referenceType: 'order', referenceId: 'o', lines: [{ sku: 'A', quantity: 3 }] },
  });
  const order = (await x
    .knex('reservations')
    .where({ tenant: t, ref_type: 'order', ref_id: 'o' })
    .first('state', 'paid')) as { state: string; paid: number };
  expect(order).toEqual({ state: 'paid', paid: 1 });

  // a second cancellation (another event) and an unknown shipment change nothing
  const again = x.ev(t, 'shipment.cancelled', { shipmentId: 's', orderId: 'o' });
  const unknown = x.ev(t, 'shipment.cancelled', { shipmentId: 'nope', orderId: 'o' });
  await x.run(again, unknown);
  expect(await x.outcome(again)).toMatchObject({ result: 'ignored', reason: 'shipment-cancelled' });
  expect(await x.outcome(unknown)).toMatchObject({ result: 'ignored', reason: 'unknown-shipment' });
  expect(await x.ledger(t, [again, unknown])).toEqual([]);
  // never inventory.fulfilled for a cancellation: the reserved hold only
  expect(x.announcementsOf(cancelled).map((a) => a.type)).toEqual(['inventory.reserved']);
  expect(await x.level(t, 'A')).toMatchObject({ onHand: 10, reserved: 3, committed: 3 });
  await x.expectLedgerMatchesLevels(t);
});

it('the order cancelled in between: the units become available', async () => {
  const t = x.tenant();
  await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }));
  await x.run(x.ev(t, 'order.placed', { orderId: 'o', lines: [{ sku: 'A', quantity: 4 }] }));
  await x.run(
    x.ev(t, 'shipment.created', {
      shipmentId: 's',
      orderId: 'o',
      lines: [{ sku: 'A', quantity: 2 }],
    }),
  );
  await x.run(x.ev(t, 'order.cancelled', { orderId: 'o' }));
  expect(await x.level(t, 'A')).toMatchObject({ onHand: 8, reserved: 0, available: 8 });
  const cancelled = x.ev(t, 'shipment.cancelled', { shipmentId: 's', orderId: 'o' });
  await x.run(cancelled);
  expect(await x.outcome(cancelled)).toMatchObject({ result: 'applied' });
  expect(await x.level(t, 'A')).toMatchObject({ onHand: 10, reserved: 0, available: 10 });
  await x.expectLedgerMatchesLevels(t);
});
