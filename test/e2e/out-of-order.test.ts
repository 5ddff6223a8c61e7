/**
 * Out-of-order and split flows. The rule (src/lua/*): out-of-order delivery ends as in-order
 * delivery would. Events sharing an order, cart or transfer are applied in delivery order, so
 * publishing them together in the "wrong" order reproduces what a platform's late delivery does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { D, E2E, fig, mv, SOURCE, waitFor, type Ev } from './harness.js';

let x: E2E;

beforeAll(async () => {
  x = await E2E.start('e2e_ooo');
});

afterAll(async () => {
  await x?.close();
});

const line = (sku: string, quantity: number, locationId = D) => ({ sku, locationId, quantity });
const types = async (e: Ev, n: number) => (await x.waitAnnouncements(e, n)).map((a) => a.type);
const hold = async (t: string, refType: string, refId: string) =>
  (await x
    .knex('reservations')
    .where({ tenant: t, ref_type: refType, ref_id: refId })
    .first('state', 'paid', 'payment_id')) as
    { state: string; paid: number; payment_id: string | null } | undefined;

/** A tenant with `qty` units of each SKU on hand. */
async function stocked(skus: Record<string, number>): Promise<string> {
  const t = x.tenant();
  await x.run(
    ...Object.entries(skus).map(([sku, quantity]) => x.ev(t, 'stock.received', { sku, quantity })),
  );
  return t;
}

describe('payments before the order', () => {
  it('payment.succeeded (no lines) before order.placed: waits as prepaid, the order reserves and commits at once', async () => {
    const t = await stocked({ A: 10 });
    const pay = x.ev(t, 'payment.succeeded', { orderId: 'o', paymentId: 'p1' });
    const place = x.ev(t, 'order.placed', { orderId: 'o', lines: [line('A', 2)] });
    await x.run(pay, place);
    expect(await x.outcome(pay)).toEqual({ result: 'applied', reason: 'awaiting-order' });
    await x.expectRows(pay, []);
    await x.expectRows(place, [
      mv('A', 'reserved', 2, [0, 2], 'order', 'o'),
      mv('A', 'committed', 2, [0, 0, 2], 'order', 'o'),
    ]);
    // in order: placed (reserved 2) then paid (committed 2)
    expect(await x.level(t, 'A')).toEqual(fig(10, 2, 2));
    expect(await hold(t, 'order', 'o')).toEqual({ state: 'paid', paid: 1, payment_id: 'p1' });
    expect(await types(place, 2)).toEqual(['inventory.reserved', 'inventory.committed']);
  });

  it('payment.succeeded (no lines) before order.placed with a cart: the cart converts, then commits', async () => {
    const t = await stocked({ A: 10 });
    await x.run(x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 3 }));
    const pay = x.ev(t, 'payment.succeeded', { orderId: 'o', paymentId: 'p1' });
    const place = x.ev(t, 'order.placed', { orderId: 'o', cartId: 'c', lines: [line('A', 2)] });
    await x.run(pay, place);
    await x.expectRows(place, [
      mv('A', 'released', -1, [0, -1], 'cart', 'c', 'not-ordered'),
      mv('A', 'committed', 2, [0, 0, 2], 'order', 'o'),
    ]);
    expect(await x.level(t, 'A')).toEqual(fig(10, 2, 2));
    expect(await hold(t, 'cart', 'c')).toMatchObject({ state: 'converted' });
  });

  it('payment.succeeded with lines before order.placed: reserved and committed from its lines; the order is then a no-op', async () => {
    const t = await stocked({ A: 10 });
    const pay = x.ev(t, 'payment.succeeded', {
      orderId: 'o',
      paymentId: 'p1',
      lines: [line('A', 2)],
    });
    const place = x.ev(t, 'order.placed', { orderId: 'o', lines: [line('A', 2)] });
    await x.run(pay, place);
    await x.expectRows(pay, [
      mv('A', 'reserved', 2, [0, 2], 'order', 'o'),
      mv('A', 'committed', 2, [0, 0, 2], 'order', 'o'),
    ]);
    await x.expectRows(place, []);
    expect(await x.outcome(place)).toEqual({ result: 'ignored', reason: 'order-exists' });
    expect(await x.level(t, 'A')).toEqual(fig(10, 2, 2));
    expect(await hold(t, 'order', 'o')).toEqual({ state: 'paid', paid: 1, payment_id: 'p1' });
  });

  it('payment.succeeded with lines before order.placed with a cart: ends as in order (cart converted, reserved once)', async () => {
    const t = await stocked({ A: 10 });
    await x.run(x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 2 }));
    const pay = x.ev(t, 'payment.succeeded', {
      orderId: 'o',
      paymentId: 'p1',
      lines: [line('A', 2)],
    });
    const place = x.ev(t, 'order.placed', { orderId: 'o', cartId: 'c', lines: [line('A', 2)] });
    await x.run(pay, place);
    await x.expectRows(pay, [
      mv('A', 'reserved', 2, [0, 2], 'order', 'o'),
      mv('A', 'committed', 2, [0, 0, 2], 'order', 'o'),
    ]);
    // the order already holds its units: the cart's hold goes now, not at the cart TTL
    await x.expectRows(place, [mv('A', 'released', -2, [0, -2], 'cart', 'c', 'order-exists')]);
    expect(await x.level(t, 'A')).toEqual(fig(10, 2, 2));
    expect(await hold(t, 'cart', 'c')).toMatchObject({ state: 'converted' });
    expect(await hold(t, 'order', 'o')).toEqual({ state: 'paid', paid: 1, payment_id: 'p1' });
  });

  it('payment.succeeded after payment.failed (customer paid on a second try): reserved again from the placed lines', async () => {
    const t = await stocked({ A: 10 });
    const retry = x.ev(t, 'payment.succeeded', { orderId: 'o', paymentId: 'p2' });
    await x.run(
      x.ev(t, 'order.placed', { orderId: 'o', lines: [line('A', 2)] }),
      x.ev(t, 'payment.failed', { orderId: 'o', paymentId: 'p1' }),
      retry,
    );
    await x.expectRows(retry, [
      mv('A', 'reserved', 2, [0, 2], 'order', 'o'),
      mv('A', 'committed', 2, [0, 0, 2], 'order', 'o'),
    ]);
    expect(await x.level(t, 'A')).toEqual(fig(10, 2, 2));
    expect(await hold(t, 'order', 'o')).toEqual({ state: 'paid', paid: 1, payment_id: 'p2' });
  });

  it('payment.failed before order.placed: the order reserves then releases at once', async () => {
    const t = await stocked({ A: 10 });
    const fail = x.ev(t, 'payment.failed', { orderId: 'o', paymentId: 'p1' });
    const place = x.ev(t, 'order.placed', { orderId: 'o', lines: [line('A', 2)] });
    await x.run(fail, place);
    expect(await x.outcome(fail)).toEqual({ result: 'applied', reason: 'awaiting-order' });
    await x.expectRows(fail, []);
    await x.expectRows(place, [
      mv('A', 'reserved', 2, [0, 2], 'order', 'o'),
      mv('A', 'released', -2, [0, -2], 'order', 'o', 'payment-failed'),
    ]);
    expect(await x.level(t, 'A')).toEqual(fig(10));
    expect(await hold(t, 'order', 'o')).toMatchObject({ state: 'released', paid: 0 });
    expect(await types(place, 2)).toEqual(['inventory.reserved', 'inventory.released']);
  });

  it('payment.failed before order.placed with a cart: the cart converts and everything is released', async () => {
    const t = await stocked({ A: 10 });
    await x.run(x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 3 }));
    const place = x.ev(t, 'order.placed', { orderId: 'o', cartId: 'c', lines: [line('A', 2)] });
    await x.run(x.ev(t, 'payment.failed', { orderId: 'o', paymentId: 'p1' }), place);
    expect(await x.level(t, 'A')).toEqual(fig(10));
    expect(await hold(t, 'cart', 'c')).toMatchObject({ state: 'converted' });
  });
});

describe('shipments and cancellations', () => {
  it('shipment.created for an order never reserved: on-hand drops, shortage announced below zero; a late order.placed holds nothing', async () => {
    const t = await stocked({ A: 3, B: 10 });
    const ship = x.ev(t, 'shipment.created', {
      shipmentId: 's1',
      orderId: 'ox',
      lines: [line('A', 5)],
    });
    const late = x.ev(t, 'order.placed', { orderId: 'ox', lines: [line('A', 5)] });
    await x.run(ship, late);
    await x.expectRows(ship, [mv('A', 'shipped', -5, [-5], 'order', 'ox')]);
    expect(await x.level(t, 'A')).toEqual(fig(-2));
    const got = await x.waitAnnouncements(ship, 4);
    expect(got.map((a) => ({ type: a.type, id: a.id, data: a.data }))).toEqual([
      {
        type: 'inventory.fulfilled',
        id: `${SOURCE}#${ship.id}#0`,
        data: {
          causationId: ship.id,
          causationSource: SOURCE,
          causationType: ship.type,
          referenceType: 'order',
          referenceId: 'ox',
          lines: [line('A', 5)],
        },
      },
      {
        type: 'inventory.shortage',
        id: `${SOURCE}#${ship.id}#1`,
        data: {
          causationId: ship.id,
          causationSource: SOURCE,
          causationType: ship.type,
          sku: 'A',
          locationId: D,
          available: -2,
        },
      },
      {
        type: 'inventory.availability-changed',
        id: `${SOURCE}#${ship.id}#2`,
        data: {
          causationId: ship.id,
          causationSource: SOURCE,
          causationType: ship.type,
          sku: 'A',
          locationId: D,
          available: -2,
          inStock: false,
        },
      },
      {
        // A's only location: the SKU's total too
        type: 'inventory.availability-changed',
        id: `${SOURCE}#${ship.id}#3`,
        data: {
          causationId: ship.id,
          causationSource: SOURCE,
          causationType: ship.type,
          sku: 'A',
          available: 0,
          inStock: false,
        },
      },
    ]);
    expect(await x.outcome(late)).toEqual({ result: 'ignored', reason: 'order-exists' });
    await x.expectRows(late, []);
    expect(await hold(t, 'order', 'ox')).toMatchObject({ state: 'fulfilled' });

    // enough on hand: no shortage
    const ok = x.ev(t, 'shipment.created', {
      shipmentId: 's2',
      orderId: 'oy',
      lines: [line('B', 4)],
    });
    await x.run(ok);
    await x.expectRows(ok, [mv('B', 'shipped', -4, [-4], 'order', 'oy')]);
    expect(await x.level(t, 'B')).toEqual(fig(6));
    expect(await types(ok, 1)).toEqual(['inventory.fulfilled']);
  });

  it('shipment.created before order.placed with a cart: the late order releases the cart hold, as in order', async () => {
    const t = await stocked({ A: 10 });
    await x.run(x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 2 }));
    const ship = x.ev(t, 'shipment.created', {
      shipmentId: 's1',
      orderId: 'o',
      lines: [line('A', 2)],
    });
    const place = x.ev(t, 'order.placed', { orderId: 'o', cartId: 'c', lines: [line('A', 2)] });
    await x.run(ship, place);
    await x.expectRows(ship, [mv('A', 'shipped', -2, [-2], 'order', 'o')]);
    await x.expectRows(place, [mv('A', 'released', -2, [0, -2], 'cart', 'c', 'order-exists')]);
    // in order: the cart converts (reserved 2), the shipment takes it (on-hand 8, reserved 0)
    expect(await x.level(t, 'A')).toEqual(fig(8));
    expect(await hold(t, 'order', 'o')).toMatchObject({ state: 'fulfilled' });
  });

  it('a second payment.succeeded (split payment) changes nothing', async () => {
    const t = await stocked({ A: 10 });
    const second = x.ev(t, 'payment.succeeded', { orderId: 'o', paymentId: 'p2' });
    await x.run(
      x.ev(t, 'order.placed', { orderId: 'o', lines: [line('A', 2)] }),
      x.ev(t, 'payment.succeeded', { orderId: 'o', paymentId: 'p1' }),
      second,
    );
    expect(await x.outcome(second)).toEqual({ result: 'ignored', reason: 'already-committed' });
    await x.expectRows(second, []);
    expect(await x.level(t, 'A')).toEqual(fig(10, 2, 2));
    expect(await hold(t, 'order', 'o')).toEqual({ state: 'paid', paid: 1, payment_id: 'p1' });
    await x.quiesce();
    expect(x.announcementsOf(second)).toEqual([]);
  });

  it('order.cancelled after a partial shipment releases only the rest', async () => {
    const t = await stocked({ A: 10, B: 10 });
    const cancel = x.ev(t, 'order.cancelled', { orderId: 'o' });
    await x.run(
      x.ev(t, 'order.placed', { orderId: 'o', lines: [line('A', 3), line('B', 2)] }),
      x.ev(t, 'payment.succeeded', { orderId: 'o', paymentId: 'p1' }),
      x.ev(t, 'shipment.created', { shipmentId: 's1', orderId: 'o', lines: [line('A', 1)] }),
      cancel,
    );
    await x.expectRows(cancel, [
      mv('A', 'released', -2, [0, -2, -2], 'order', 'o', 'cancelled'),
      mv('B', 'released', -2, [0, -2, -2], 'order', 'o', 'cancelled'),
    ]);
    expect(await x.levels(t)).toEqual({ 'A@default': fig(9), 'B@default': fig(10) });
    expect(await hold(t, 'order', 'o')).toMatchObject({ state: 'cancelled' });
  });

  it('order.cancelled before order.placed: the late order holds nothing', async () => {
    const t = await stocked({ A: 10 });
    const place = x.ev(t, 'order.placed', { orderId: 'o', lines: [line('A', 2)] });
    await x.run(x.ev(t, 'order.cancelled', { orderId: 'o' }), place);
    expect(await x.outcome(place)).toEqual({ result: 'ignored', reason: 'order-cancelled' });
    expect(await x.level(t, 'A')).toEqual(fig(10));
  });

  it('order.cancelled before order.placed with a cart: the cart hold is released as in order', async () => {
    const t = await stocked({ A: 10 });
    await x.run(x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 2 }));
    const place = x.ev(t, 'order.placed', { orderId: 'o', cartId: 'c', lines: [line('A', 2)] });
    await x.run(x.ev(t, 'order.cancelled', { orderId: 'o' }), place);
    await x.expectRows(place, [mv('A', 'released', -2, [0, -2], 'cart', 'c', 'order-cancelled')]);
    expect(await x.level(t, 'A')).toEqual(fig(10));
    expect(await hold(t, 'cart', 'c')).toMatchObject({ state: 'converted' });
    expect(await hold(t, 'order', 'o')).toMatchObject({ state: 'cancelled' });
  });

  it('cart.added after the cart became an order is ignored', async () => {
    const t = await stocked({ A: 10 });
    const late = x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 1 });
    await x.run(
      x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 2 }),
      x.ev(t, 'order.placed', { orderId: 'o', cartId: 'c', lines: [line('A', 2)] }),
      late,
    );
    expect(await x.outcome(late)).toEqual({ result: 'ignored', reason: 'cart-converted' });
    await x.expectRows(late, []);
    expect(await x.level(t, 'A')).toEqual(fig(10, 2));
  });
});

describe("a cart's events put in order by their time (as several workers may apply them)", () => {
  // one cart's story as a platform stamps it, a second apart
  const at = (s: number) => ({ time: `2026-11-23T10:15:0${s}Z` });

  it('cart.cleared applied before an earlier cart.added: the addition is not held', async () => {
    const t = await stocked({ A: 10 });
    const add = x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 2 }, at(1));
    const clear = x.ev(t, 'cart.cleared', { cartId: 'c' }, at(2));
    await x.run(clear, add);
    expect(await x.outcome(clear)).toEqual({ result: 'ignored', reason: 'no-cart-hold' });
    expect(await x.outcome(add)).toEqual({ result: 'ignored', reason: 'removed-later' });
    await x.expectRows(add, []);
    expect(await x.level(t, 'A')).toEqual(fig(10, 0));
    // a later addition is held as always
    const again = x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 1 }, at(3));
    await x.run(again);
    expect(await x.level(t, 'A')).toEqual(fig(10, 1));
  });

  it('cart.removed with a quantity before its addition: the addition holds that much less', async () => {
    const t = await stocked({ A: 10, B: 10 });
    const addA = x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 3 }, at(1));
    const addB = x.ev(t, 'cart.added', { cartId: 'c', sku: 'B', quantity: 2 }, at(1));
    const removeA = x.ev(t, 'cart.removed', { cartId: 'c', sku: 'A', quantity: 1 }, at(2));
    const removeB = x.ev(t, 'cart.removed', { cartId: 'c', sku: 'B' }, at(2));
    await x.run(removeA, removeB, addA, addB);
    // in order: 3 - 1 of A, and none of B
    expect(await x.level(t, 'A')).toEqual(fig(10, 2));
    expect(await x.level(t, 'B')).toEqual(fig(10, 0));
    expect(await x.outcome(addB)).toEqual({ result: 'ignored', reason: 'removed-later' });
    await x.expectRows(addA, [mv('A', 'reserved', 2, [0, 2], 'cart', 'c')]);
    expect(await hold(t, 'cart', 'c')).toMatchObject({ state: 'open' });
  });

  it('cart.removed with a quantity overtaking an addition at another location: the total as in order, not the split', async () => {
    const t = x.tenant();
    await x.run(
      x.ev(t, 'stock.received', { sku: 'A', quantity: 10, locationId: D }),
      x.ev(t, 'stock.received', { sku: 'A', quantity: 10, locationId: 'north' }),
    );
    const addNorth = x.ev(t, 'cart.added', { cartId: 'c', ...line('A', 3, 'north') }, at(1));
    const addDefault = x.ev(t, 'cart.added', { cartId: 'c', ...line('A', 2) }, at(2));
    const remove = x.ev(t, 'cart.removed', { cartId: 'c', sku: 'A', quantity: 1 }, at(3));
    await x.run(addNorth, remove, addDefault);
    // in order the removal takes its unit from `default`, the first location in byte order
    // (default 1, north 3); having found only `north`, it took it there (docs/events.md, Ordering)
    expect(await x.level(t, 'A', D)).toEqual(fig(10, 2));
    expect(await x.level(t, 'A', 'north')).toEqual(fig(10, 2));
    expect(await x.outcome(addDefault)).toMatchObject({ result: 'applied' });
  });

  it('order.placed before the additions of its cart: the order holds its lines, the cart nothing', async () => {
    const t = await stocked({ A: 10 });
    const add = x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 2 }, at(1));
    const place = x.ev(
      t,
      'order.placed',
      { orderId: 'o', cartId: 'c', lines: [line('A', 2)] },
      at(2),
    );
    await x.run(place, add);
    expect(await x.outcome(add)).toEqual({ result: 'ignored', reason: 'removed-later' });
    expect(await x.level(t, 'A')).toEqual(fig(10, 2));
    expect(await hold(t, 'order', 'o')).toMatchObject({ state: 'placed' });
  });

  it('the same time, or events without one: applied in delivery order, as before', async () => {
    const t = await stocked({ A: 10 });
    const clear = x.ev(t, 'cart.cleared', { cartId: 'c' }, at(5));
    const add = x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 2 }, at(5));
    await x.run(clear, add);
    expect(await x.level(t, 'A')).toEqual(fig(10, 2));
    const clear2 = x.ev(t, 'cart.cleared', { cartId: 'd' }, { time: undefined });
    const add2 = x.ev(t, 'cart.added', { cartId: 'd', sku: 'A', quantity: 1 }, { time: undefined });
    await x.run(clear2, add2);
    expect(await x.level(t, 'A')).toEqual(fig(10, 3));
  });
});

describe('transfers', () => {
  it('transfer.received before transfer.shipped goes through the 1 s retry tier and applies once the shipment arrives', async () => {
    const t = await stocked({ W: 10 });
    const recv = x.ev(t, 'transfer.received', { transferId: 't1' });
    const ship = x.ev(t, 'transfer.shipped', {
      transferId: 't1',
      fromLocationId: D,
      toLocationId: 'store-1',
      lines: [{ sku: 'W', quantity: 4 }],
    });
    const sentAt = Date.now();
    await x.publish(recv);
    // not applicable yet: parked in the 1 s tier, nothing recorded
    await waitFor(
      async () => (await x.queueCounts()).retry === 1,
      5_000,
      'transfer.received in a retry tier',
    );
    expect(await x.outcome(recv)).toBeUndefined();
    await x.run(ship);
    await x.waitProcessed([recv], 15_000);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1_000);

    await x.expectRows(recv, [
      mv('W', 'transfer_received', 4, [4, 0, 0, 0, -4], 'transfer', 't1', '', 'store-1'),
    ]);
    expect(await x.levels(t)).toEqual({ 'W@default': fig(6), 'W@store-1': fig(4) });
    // applied after the shipment, once
    const order = (await x
      .knex('processed_events')
      .where({ tenant: t })
      .whereIn('event_id', [ship.id, recv.id])
      .orderBy('id')
      .pluck('event_id')) as string[];
    expect(order).toEqual([ship.id, recv.id]);
    await x.quiesce();
    expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
    await x.expectLedgerMatchesLevels(t);
  });
});

describe('after all of it', () => {
  it('nothing queued, nothing dead-lettered, ledger = stock_levels everywhere', async () => {
    await x.quiesce();
    expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
    const tenants = (await x.knex('stock_levels').distinct('tenant')) as { tenant: string }[];
    for (const { tenant } of tenants) await x.expectLedgerMatchesLevels(tenant);
  });
});
