/**
 * The life of stock, end to end: it arrives, carts hold it, orders take it, payments commit
 * it, two partial shipments send it, a return brings some back (restocked and quarantined).
 * Every step's ledger rows, the final figures in stock_levels and in Redis, and the ledger
 * sums equal to stock_levels.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pairOf } from '../../src/engine/keys.js';
import { D, E2E, fig, mv, SOURCE, type Ev } from './harness.js';

let x: E2E;

beforeAll(async () => {
  x = await E2E.start('e2e_life');
});

afterAll(async () => {
  await x?.close();
});

const line = (sku: string, quantity: number) => ({ sku, locationId: D, quantity });

it('stock → carts → orders → payments → two partial shipments → rma: exact figures, ledger = stock_levels', async () => {
  const t = x.tenant('life');
  const ev = (type: string, data: Record<string, unknown>): Ev => x.ev(t, type, data);

  // 1. stock arrives
  const rcvSnk = ev('stock.received', { sku: 'SNK', quantity: 20, reference: 'PO-1' });
  const rcvTee = ev('stock.received', { sku: 'TEE', quantity: 10, reference: 'PO-2' });
  await x.run(rcvSnk, rcvTee);
  expect(await x.levels(t)).toEqual({ 'SNK@default': fig(20), 'TEE@default': fig(10) });

  // 2. two carts hold sneakers
  const add1 = ev('cart.added', { cartId: 'cart-1', sku: 'SNK', quantity: 5 });
  const add2 = ev('cart.added', { cartId: 'cart-1', sku: 'SNK', quantity: 1 });
  const add3 = ev('cart.added', { cartId: 'cart-2', sku: 'SNK', quantity: 4 });
  await x.run(add1, add2, add3);
  expect(await x.levels(t)).toEqual({ 'SNK@default': fig(20, 10), 'TEE@default': fig(10) });

  // 3. both carts become orders (cart-1's order takes 5 of its 6 and adds a T-shirt), both paid
  const order1 = ev('order.placed', {
    orderId: 'order-1',
    cartId: 'cart-1',
    lines: [line('SNK', 5), line('TEE', 2)],
  });
  const order2 = ev('order.placed', {
    orderId: 'order-2',
    cartId: 'cart-2',
    lines: [line('SNK', 4)],
  });
  const pay1 = ev('payment.succeeded', { orderId: 'order-1', paymentId: 'pay-1' });
  const pay2 = ev('payment.succeeded', { orderId: 'order-2', paymentId: 'pay-2' });
  await x.run(order1, order2, pay1, pay2);
  expect(await x.levels(t)).toEqual({ 'SNK@default': fig(20, 9, 9), 'TEE@default': fig(10, 2, 2) });

  // 4. order-1 ships in two parts
  const ship1 = ev('shipment.created', {
    shipmentId: 'ship-1',
    orderId: 'order-1',
    lines: [line('SNK', 3)],
  });
  await x.run(ship1);
  expect(await x.levels(t)).toEqual({ 'SNK@default': fig(17, 6, 6), 'TEE@default': fig(10, 2, 2) });
  const ship2 = ev('shipment.created', {
    shipmentId: 'ship-2',
    orderId: 'order-1',
    lines: [line('SNK', 2), line('TEE', 2)],
  });
  await x.run(ship2);
  expect(await x.levels(t)).toEqual({ 'SNK@default': fig(15, 4, 4), 'TEE@default': fig(8) });

  // 5. three sneakers come back: two restocked, one quarantined
  const rma = ev('rma.passed', {
    rmaId: 'rma-1',
    orderId: 'order-1',
    lines: [
      { ...line('SNK', 2), disposition: 'restock' },
      { ...line('SNK', 1), disposition: 'quarantine' },
    ],
  });
  await x.run(rma);

  // final figures: on_hand, reserved, committed, unavailable, available
  const levels = await x.levels(t);
  expect(levels).toEqual({ 'SNK@default': fig(18, 4, 4, 1), 'TEE@default': fig(8) });
  expect(levels['SNK@default']).toMatchObject({
    onHand: 18,
    reserved: 4,
    committed: 4,
    unavailable: 1,
    available: 13,
  });
  expect(levels['TEE@default']).toMatchObject({
    onHand: 8,
    reserved: 0,
    committed: 0,
    unavailable: 0,
    available: 8,
  });

  // every step's ledger rows
  await x.expectRows(rcvSnk, [mv('SNK', 'received', 20, [20], 'receipt', 'PO-1')]);
  await x.expectRows(rcvTee, [mv('TEE', 'received', 10, [10], 'receipt', 'PO-2')]);
  await x.expectRows(add1, [mv('SNK', 'reserved', 5, [0, 5], 'cart', 'cart-1')]);
  await x.expectRows(add2, [mv('SNK', 'reserved', 1, [0, 1], 'cart', 'cart-1')]);
  await x.expectRows(add3, [mv('SNK', 'reserved', 4, [0, 4], 'cart', 'cart-2')]);
  await x.expectRows(order1, [
    mv('TEE', 'reserved', 2, [0, 2], 'order', 'order-1'),
    mv('SNK', 'released', -1, [0, -1], 'cart', 'cart-1', 'not-ordered'),
  ]);
  // the cart's 4 units convert to the order: no stock moves
  await x.expectRows(order2, []);
  await x.expectRows(pay1, [
    mv('SNK', 'committed', 5, [0, 0, 5], 'order', 'order-1'),
    mv('TEE', 'committed', 2, [0, 0, 2], 'order', 'order-1'),
  ]);
  await x.expectRows(pay2, [mv('SNK', 'committed', 4, [0, 0, 4], 'order', 'order-2')]);
  await x.expectRows(ship1, [mv('SNK', 'shipped', -3, [-3, -3, -3], 'order', 'order-1')]);
  await x.expectRows(ship2, [
    mv('SNK', 'shipped', -2, [-2, -2, -2], 'order', 'order-1'),
    mv('TEE', 'shipped', -2, [-2, -2, -2], 'order', 'order-1'),
  ]);
  await x.expectRows(rma, [
    mv('SNK', 'returned', 2, [2], 'rma', 'rma-1', 'restock'),
    mv('SNK', 'returned', 1, [1, 0, 0, 1], 'rma', 'rma-1', 'quarantine'),
  ]);
  expect((await x.ledger(t)).length).toBe(15);
  await x.expectLedgerMatchesLevels(t);

  // the holds as mirrored
  const holds = (await x
    .knex('reservations')
    .where({ tenant: t })
    .orderBy(['ref_type', 'ref_id'])
    .select('ref_type', 'ref_id', 'state', 'paid', 'payment_id', 'lines')) as Record<
    string,
    unknown
  >[];
  expect(holds.map((h) => ({ ...h, lines: JSON.parse(String(h.lines)) as unknown }))).toEqual([
    {
      ref_type: 'cart',
      ref_id: 'cart-1',
      state: 'converted',
      paid: 0,
      payment_id: null,
      lines: [],
    },
    {
      ref_type: 'cart',
      ref_id: 'cart-2',
      state: 'converted',
      paid: 0,
      payment_id: null,
      lines: [],
    },
    {
      ref_type: 'order',
      ref_id: 'order-1',
      state: 'fulfilled',
      paid: 1,
      payment_id: 'pay-1',
      lines: [
        { sku: 'SNK', locationId: D, held: 0, ordered: 5, shipped: 5 },
        { sku: 'TEE', locationId: D, held: 0, ordered: 2, shipped: 2 },
      ],
    },
    {
      ref_type: 'order',
      ref_id: 'order-2',
      state: 'paid',
      paid: 1,
      payment_id: 'pay-2',
      lines: [{ sku: 'SNK', locationId: D, held: 4, ordered: 4, shipped: 0 }],
    },
  ]);

  // Redis (the engine's live figures) agrees with MySQL
  const keys = x.t.worker.services.engine.keys(t);
  for (const sku of ['SNK', 'TEE']) {
    const h = await x.t.worker.services.redis.hgetall(keys.stock(pairOf(sku, D)));
    const n = (f: string) => Number(h[f] ?? 0);
    expect(
      fig(n('onHand'), n('reserved'), n('committed'), n('unavailable'), n('incoming')),
    ).toEqual(levels[`${sku}@default`]);
  }

  // what the world was told about the shipments
  const fulfilled = async (e: Ev, lines: unknown[]) =>
    expect(
      (await x.waitAnnouncements(e, 1)).map((a) => ({ type: a.type, id: a.id, data: a.data })),
    ).toEqual([
      {
        type: 'inventory.fulfilled',
        id: `${SOURCE}#${e.id}#0`,
        data: {
          causationId: e.id,
          causationSource: SOURCE,
          causationType: e.type,
          referenceType: 'order',
          referenceId: 'order-1',
          lines,
        },
      },
    ]);
  await fulfilled(ship1, [line('SNK', 3)]);
  await fulfilled(ship2, [line('SNK', 2), line('TEE', 2)]);
  expect((await x.waitAnnouncements(pay1, 1)).map((a) => a.type)).toEqual(['inventory.committed']);
  await x.quiesce();
  expect(x.announcementsOf(rma)).toEqual([]);
  expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
});
