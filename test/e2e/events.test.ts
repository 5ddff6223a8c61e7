/**
 * Every consumed event type, published to commerce.events: its exact ledger rows, the stock
 * figures in stock_levels and what is announced on inventory.events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { D, E2E, fig, mv, SOURCE, type Ev } from './harness.js';

let x: E2E;

beforeAll(async () => {
  x = await E2E.start('e2e_events');
});

afterAll(async () => {
  await x?.close();
});

const cause = (e: Ev) => ({ causationId: e.id, causationSource: SOURCE, causationType: e.type });

/** Asserts exactly these announcements (in order, ids `<source>#<event id>#<n>`) for `e`. */
async function expectAnnounced(
  e: Ev,
  expected: { type: string; data: Record<string, unknown> }[],
): Promise<void> {
  const got = await x.waitAnnouncements(e, expected.length);
  expect(got.map((a) => ({ type: a.type, id: a.id, data: a.data }))).toEqual(
    expected.map((a, i) => ({
      type: a.type,
      id: `${SOURCE}#${e.id}#${i}`,
      data: { ...cause(e), ...a.data },
    })),
  );
}

const line = (sku: string, quantity: number, locationId = D) => ({ sku, locationId, quantity });
/** inventory.availability-changed of the SKU's total across its locations (no locationId) */
const total = (sku: string, available: number) => ({
  type: 'inventory.availability-changed',
  data: { sku, available, inStock: available > 0 },
});

describe('publish → ledger rows, stock_levels and announcements', () => {
  it('stock.received: on-hand rises; reference defaults to the event id; per location', async () => {
    const t = x.tenant();
    const e1 = x.ev(t, 'stock.received', { sku: 'A', quantity: 10, reference: 'PO-1' });
    const e2 = x.ev(t, 'stock.received', { sku: 'A', quantity: 4, locationId: 'wh-2' });
    await x.run(e1, e2);
    await x.expectRows(e1, [mv('A', 'received', 10, [10], 'receipt', 'PO-1')]);
    await x.expectRows(e2, [mv('A', 'received', 4, [4], 'receipt', e2.id, '', 'wh-2')]);
    expect(await x.levels(t)).toEqual({ 'A@default': fig(10), 'A@wh-2': fig(4) });
    expect(await x.outcome(e1)).toEqual({ result: 'applied', reason: null });
    // occurred_at is the platform's time, recorded_at ours
    const [row] = (await x
      .knex('inventory_ledger')
      .where({ tenant: t, event_id: e1.id })
      .select('occurred_at', 'recorded_at')) as {
      occurred_at: Date;
      recorded_at: Date;
    }[];
    expect(row!.occurred_at.toISOString()).toBe('2026-11-23T10:15:00.000Z');
    expect(Math.abs(row!.recorded_at.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('stock.adjusted: ± with the reason; refused below zero; a shortage is announced', async () => {
    const t = x.tenant();
    const rcv = x.ev(t, 'stock.received', { sku: 'A', quantity: 10 });
    const down = x.ev(t, 'stock.adjusted', { sku: 'A', delta: -3, reason: 'damage' });
    const up = x.ev(t, 'stock.adjusted', { sku: 'A', delta: 5, reason: 'found' });
    const tooMuch = x.ev(t, 'stock.adjusted', { sku: 'A', delta: -20, reason: 'write-off' });
    // same SKU and location: applied in publish order
    await x.run(rcv, down, up, tooMuch);
    await x.expectRows(down, [mv('A', 'adjusted', -3, [-3], 'adjustment', down.id, 'damage')]);
    await x.expectRows(up, [mv('A', 'adjusted', 5, [5], 'adjustment', up.id, 'found')]);
    await x.expectRows(tooMuch, []);
    expect(await x.outcome(tooMuch)).toEqual({ result: 'rejected', reason: 'negative-on-hand' });
    expect(await x.levels(t)).toEqual({ 'A@default': fig(12) });

    // B: 5 on hand, 4 held by a cart; damage of 3 leaves available at -2
    await x.run(x.ev(t, 'stock.received', { sku: 'B', quantity: 5 }));
    const hold = x.ev(t, 'cart.added', { cartId: 'c1', sku: 'B', quantity: 4 });
    await x.run(hold);
    const damage = x.ev(t, 'stock.adjusted', { sku: 'B', delta: -3, reason: 'damage' });
    await x.run(damage);
    await x.expectRows(damage, [mv('B', 'adjusted', -3, [-3], 'adjustment', damage.id, 'damage')]);
    expect(await x.level(t, 'B')).toEqual(fig(2, 4));
    expect((await x.level(t, 'B'))!.available).toBe(-2);
    await expectAnnounced(damage, [
      { type: 'inventory.shortage', data: { sku: 'B', locationId: D, available: -2 } },
      {
        type: 'inventory.availability-changed',
        data: { sku: 'B', locationId: D, available: -2, inStock: false },
      },
      // B's only location: its total too (the units of its in-stock locations: none)
      total('B', 0),
    ]);
    expect(x.announcementsOf(tooMuch)).toEqual([]);
  });

  it('stock.counted: sets on-hand, the difference is the movement; shortage when below the holds', async () => {
    const t = x.tenant();
    const rcv = x.ev(t, 'stock.received', { sku: 'C', quantity: 10 });
    const c1 = x.ev(t, 'stock.counted', { sku: 'C', onHand: 7 });
    const c2 = x.ev(t, 'stock.counted', { sku: 'C', onHand: 12 });
    await x.run(rcv, c1, c2);
    await x.expectRows(c1, [mv('C', 'counted', -3, [-3], 'count', c1.id, 'count')]);
    await x.expectRows(c2, [mv('C', 'counted', 5, [5], 'count', c2.id, 'count')]);
    expect(await x.level(t, 'C')).toEqual(fig(12));

    await x.run(x.ev(t, 'cart.added', { cartId: 'c', sku: 'C', quantity: 5 }));
    const low = x.ev(t, 'stock.counted', { sku: 'C', onHand: 3 });
    const same = x.ev(t, 'stock.counted', { sku: 'C', onHand: 3 });
    await x.run(low, same);
    await x.expectRows(low, [mv('C', 'counted', -9, [-9], 'count', low.id, 'count')]);
    await x.expectRows(same, []);
    expect(await x.outcome(same)).toEqual({ result: 'applied', reason: null });
    expect(await x.level(t, 'C')).toEqual(fig(3, 5));
    await expectAnnounced(low, [
      { type: 'inventory.shortage', data: { sku: 'C', locationId: D, available: -2 } },
      {
        type: 'inventory.availability-changed',
        data: { sku: 'C', locationId: D, available: -2, inStock: false },
      },
      total('C', 0),
    ]);
  });

  it('stock.configured: sets the threshold (no movement); low-stock when available crosses down to it, once', async () => {
    const t = x.tenant();
    const rcv = x.ev(t, 'stock.received', { sku: 'D', quantity: 10 });
    const cfg = x.ev(t, 'stock.configured', { sku: 'D', reorderLevel: 5, reorderQuantity: 20 });
    await x.run(rcv, cfg);
    await x.expectRows(cfg, []);
    expect(await x.config(t, 'D')).toEqual({ reorderLevel: 5, reorderQuantity: 20 });

    const add1 = x.ev(t, 'cart.added', { cartId: 'c', sku: 'D', quantity: 4 });
    const add2 = x.ev(t, 'cart.added', { cartId: 'c', sku: 'D', quantity: 1 });
    const add3 = x.ev(t, 'cart.added', { cartId: 'c', sku: 'D', quantity: 1 });
    await x.run(add1, add2, add3);
    expect(await x.level(t, 'D')).toEqual(fig(10, 6));
    const reserved = (q: number) => ({
      type: 'inventory.reserved',
      data: { referenceType: 'cart', referenceId: 'c', lines: [line('D', q)] },
    });
    await expectAnnounced(add1, [reserved(4)]);
    await expectAnnounced(add2, [
      reserved(1),
      {
        type: 'inventory.low-stock',
        data: { sku: 'D', locationId: D, available: 5, reorderLevel: 5, reorderQuantity: 20 },
      },
    ]);
    // already at or below the level: no second low-stock
    await expectAnnounced(add3, [reserved(1)]);

    // absent fields stay as they were
    const cfg2 = x.ev(t, 'stock.configured', { sku: 'D', reorderLevel: 2 });
    await x.run(cfg2);
    expect(await x.config(t, 'D')).toEqual({ reorderLevel: 2, reorderQuantity: 20 });
    expect(await x.level(t, 'D')).toEqual(fig(10, 6));
  });

  it('inventory.availability-changed: out of stock and back in stock, once per crossing of zero', async () => {
    const t = x.tenant();
    const changed = (available: number, locationId = D) => ({
      type: 'inventory.availability-changed',
      data: { sku: 'S', locationId, available, inStock: available > 0 },
    });
    const rcv = x.ev(t, 'stock.received', { sku: 'S', quantity: 3 });
    const some = x.ev(t, 'cart.added', { cartId: 'c1', sku: 'S', quantity: 1 });
    const last = x.ev(t, 'cart.added', { cartId: 'c2', sku: 'S', quantity: 2 });
    const freed = x.ev(t, 'cart.removed', { cartId: 'c2', sku: 'S', quantity: 1 });
    const other = x.ev(t, 'stock.received', { sku: 'S', quantity: 4, locationId: 'wh-2' });
    await x.run(rcv, some, last, freed);
    // after them: the SKU's total depends on the order of events at different locations
    await x.run(other);
    // S's only location so far: each of its crossings is the total's too
    await expectAnnounced(rcv, [changed(3), total('S', 3)]);
    await expectAnnounced(some, [
      {
        type: 'inventory.reserved',
        data: { referenceType: 'cart', referenceId: 'c1', lines: [line('S', 1)] },
      },
    ]);
    await expectAnnounced(last, [
      {
        type: 'inventory.reserved',
        data: { referenceType: 'cart', referenceId: 'c2', lines: [line('S', 2)] },
      },
      changed(0),
      total('S', 0),
    ]);
    await expectAnnounced(freed, [
      {
        type: 'inventory.released',
        data: { referenceType: 'cart', referenceId: 'c2', lines: [line('S', 1)] },
      },
      changed(1),
      total('S', 1),
    ]);
    // per SKU-location: another location's stock is its own crossing; the total was in stock
    await expectAnnounced(other, [changed(4, 'wh-2')]);
    const got = x.announcementsOf(last).find((a) => a.type === 'inventory.availability-changed');
    // held to its published schema by the collector, which reads this dataschema
    expect(got).toMatchObject({
      source: '/inventory-worker',
      tenant: t,
      dataschema: 'urn:inventory-worker:schema:inventory.availability-changed:v1',
    });
  });

  it("inventory.availability-changed of the SKU's total: out when its last in-stock location sells out, back with a receipt", async () => {
    const t = x.tenant();
    const changed = (available: number, locationId: string) => ({
      type: 'inventory.availability-changed',
      data: { sku: 'T', locationId, available, inStock: available > 0 },
    });
    const reserved = (cartId: string, q: number, locationId: string) => ({
      type: 'inventory.reserved',
      data: { referenceType: 'cart', referenceId: cartId, lines: [line('T', q, locationId)] },
    });
    const north = x.ev(t, 'stock.received', { sku: 'T', quantity: 2, locationId: 'north' });
    const south = x.ev(t, 'stock.received', { sku: 'T', quantity: 3, locationId: 'south' });
    const sellNorth = x.ev(t, 'cart.added', {
      cartId: 'c1',
      sku: 'T',
      quantity: 2,
      locationId: 'north',
    });
    const sellSouth = x.ev(t, 'cart.added', {
      cartId: 'c2',
      sku: 'T',
      quantity: 3,
      locationId: 'south',
    });
    const receipt = x.ev(t, 'stock.received', { sku: 'T', quantity: 6, locationId: 'north' });
    // one at a time: the total depends on the order of events at different locations
    for (const e of [north, south, sellNorth, sellSouth, receipt]) await x.run(e);
    await expectAnnounced(north, [changed(2, 'north'), total('T', 2)]);
    await expectAnnounced(south, [changed(3, 'south')]);
    // north sold out, south still has 3: the SKU is still in stock, no total
    await expectAnnounced(sellNorth, [reserved('c1', 2, 'north'), changed(0, 'north')]);
    // the last in-stock location sold out: the total is out of stock
    await expectAnnounced(sellSouth, [
      reserved('c2', 3, 'south'),
      changed(0, 'south'),
      total('T', 0),
    ]);
    // a receipt: back in stock, with what its in-stock locations have
    await expectAnnounced(receipt, [changed(6, 'north'), total('T', 6)]);
    const got = x
      .announcementsOf(sellSouth)
      .filter((a) => a.type === 'inventory.availability-changed');
    // the total's announcement has no locationId, and its published schema allows that
    expect(got.map((a) => 'locationId' in (a.data as object))).toEqual([true, false]);
    expect(got[1]).toMatchObject({
      tenant: t,
      dataschema: 'urn:inventory-worker:schema:inventory.availability-changed:v1',
    });
  });

  it('cart.added: reserves for the cart; refusal announces reservation-failed with the short line', async () => {
    const t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'E', quantity: 10 }));
    const ok = x.ev(t, 'cart.added', { cartId: 'c1', sku: 'E', quantity: 3 });
    await x.run(ok);
    await x.expectRows(ok, [mv('E', 'reserved', 3, [0, 3], 'cart', 'c1')]);
    await expectAnnounced(ok, [
      {
        type: 'inventory.reserved',
        data: { referenceType: 'cart', referenceId: 'c1', lines: [line('E', 3)] },
      },
    ]);

    const short = x.ev(t, 'cart.added', { cartId: 'c2', sku: 'E', quantity: 8 });
    await x.run(short);
    await x.expectRows(short, []);
    expect(await x.outcome(short)).toEqual({ result: 'rejected', reason: 'insufficient-stock' });
    await expectAnnounced(short, [
      {
        type: 'inventory.reservation-failed',
        data: {
          reason: 'insufficient-stock',
          referenceType: 'cart',
          referenceId: 'c2',
          lines: [{ sku: 'E', locationId: D, requested: 8, available: 7 }],
        },
      },
    ]);
    expect(await x.level(t, 'E')).toEqual(fig(10, 3));
  });

  it('order.placed refused: all lines or none, reservation-failed lists every short line', async () => {
    const t = x.tenant();
    await x.run(
      x.ev(t, 'stock.received', { sku: 'F', quantity: 10 }),
      x.ev(t, 'stock.received', { sku: 'G', quantity: 2 }),
    );
    const order = x.ev(t, 'order.placed', {
      orderId: 'o1',
      lines: [line('F', 4), line('G', 5), line('H', 1)],
    });
    await x.run(order);
    await x.expectRows(order, []);
    await expectAnnounced(order, [
      {
        type: 'inventory.reservation-failed',
        data: {
          reason: 'insufficient-stock',
          referenceType: 'order',
          referenceId: 'o1',
          lines: [
            { sku: 'G', locationId: D, requested: 5, available: 2 },
            { sku: 'H', locationId: D, requested: 1, available: 0 },
          ],
        },
      },
    ]);
    expect(await x.levels(t)).toEqual({ 'F@default': fig(10), 'G@default': fig(2) });
  });

  it('cart.removed: releases that much, then all of the SKU; nothing left is ignored', async () => {
    const t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'J', quantity: 10 }));
    const add = x.ev(t, 'cart.added', { cartId: 'c', sku: 'J', quantity: 5 });
    const some = x.ev(t, 'cart.removed', { cartId: 'c', sku: 'J', quantity: 2 });
    const rest = x.ev(t, 'cart.removed', { cartId: 'c', sku: 'J' });
    const again = x.ev(t, 'cart.removed', { cartId: 'c', sku: 'J' });
    await x.run(add, some, rest, again);
    await x.expectRows(some, [mv('J', 'released', -2, [0, -2], 'cart', 'c')]);
    await x.expectRows(rest, [mv('J', 'released', -3, [0, -3], 'cart', 'c')]);
    await x.expectRows(again, []);
    expect(await x.outcome(again)).toEqual({ result: 'ignored', reason: 'no-cart-hold' });
    expect(await x.level(t, 'J')).toEqual(fig(10));
    await expectAnnounced(some, [
      {
        type: 'inventory.released',
        data: { referenceType: 'cart', referenceId: 'c', lines: [line('J', 2)] },
      },
    ]);
    await expectAnnounced(rest, [
      {
        type: 'inventory.released',
        data: { referenceType: 'cart', referenceId: 'c', lines: [line('J', 3)] },
      },
    ]);
  });

  it('cart.cleared: releases the whole hold, every SKU', async () => {
    const t = x.tenant();
    await x.run(
      x.ev(t, 'stock.received', { sku: 'K', quantity: 10 }),
      x.ev(t, 'stock.received', { sku: 'L', quantity: 10 }),
    );
    const clear = x.ev(t, 'cart.cleared', { cartId: 'c' });
    await x.run(
      x.ev(t, 'cart.added', { cartId: 'c', sku: 'K', quantity: 2 }),
      x.ev(t, 'cart.added', { cartId: 'c', sku: 'L', quantity: 1 }),
      clear,
    );
    await x.expectRows(clear, [
      mv('K', 'released', -2, [0, -2], 'cart', 'c'),
      mv('L', 'released', -1, [0, -1], 'cart', 'c'),
    ]);
    expect(await x.levels(t)).toEqual({ 'K@default': fig(10), 'L@default': fig(10) });
    await expectAnnounced(clear, [
      {
        type: 'inventory.released',
        data: { referenceType: 'cart', referenceId: 'c', lines: [line('K', 2), line('L', 1)] },
      },
    ]);
  });

  it('order.placed: the cart hold converts, what it lacked is reserved, the rest released; fulfillFromLocationId', async () => {
    const t = x.tenant();
    await x.run(
      x.ev(t, 'stock.received', { sku: 'M', quantity: 10 }),
      x.ev(t, 'stock.received', { sku: 'N', quantity: 10 }),
      x.ev(t, 'stock.received', { sku: 'M', quantity: 5, locationId: 'wh-2' }),
    );
    await x.run(x.ev(t, 'cart.added', { cartId: 'c', sku: 'M', quantity: 3 }));
    const order = x.ev(t, 'order.placed', {
      orderId: 'o',
      cartId: 'c',
      lines: [line('M', 2), line('N', 1)],
    });
    await x.run(order);
    await x.expectRows(order, [
      mv('N', 'reserved', 1, [0, 1], 'order', 'o'),
      mv('M', 'released', -1, [0, -1], 'cart', 'c', 'not-ordered'),
    ]);
    await expectAnnounced(order, [
      {
        type: 'inventory.reserved',
        // the order's whole hold: the 2 units taken over from the cart and the 1 reserved now
        data: { referenceType: 'order', referenceId: 'o', lines: [line('M', 2), line('N', 1)] },
      },
      {
        type: 'inventory.released',
        data: {
          referenceType: 'cart',
          referenceId: 'c',
          reason: 'not-ordered',
          lines: [line('M', 1)],
        },
      },
    ]);
    const holds = (await x
      .knex('reservations')
      .where({ tenant: t })
      .orderBy('ref_type')
      .select('ref_type', 'ref_id', 'state', 'link')) as unknown[];
    expect(holds).toEqual([
      { ref_type: 'cart', ref_id: 'c', state: 'converted', link: 'o' },
      { ref_type: 'order', ref_id: 'o', state: 'placed', link: 'c' },
    ]);

    const routed = x.ev(t, 'order.placed', {
      orderId: 'o2',
      fulfillFromLocationId: 'wh-2',
      lines: [line('M', 4)],
    });
    await x.run(routed);
    await x.expectRows(routed, [mv('M', 'reserved', 4, [0, 4], 'order', 'o2', '', 'wh-2')]);
    expect(await x.levels(t)).toEqual({
      'M@default': fig(10, 2),
      'N@default': fig(10, 1),
      'M@wh-2': fig(5, 4),
    });
  });

  it('payment.succeeded: commits the order hold', async () => {
    const t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'P', quantity: 10 }));
    const pay = x.ev(t, 'payment.succeeded', { orderId: 'o', paymentId: 'pay-1' });
    await x.run(x.ev(t, 'order.placed', { orderId: 'o', lines: [line('P', 2)] }), pay);
    await x.expectRows(pay, [mv('P', 'committed', 2, [0, 0, 2], 'order', 'o')]);
    expect(await x.level(t, 'P')).toEqual(fig(10, 2, 2));
    await expectAnnounced(pay, [
      {
        type: 'inventory.committed',
        data: { referenceType: 'order', referenceId: 'o', lines: [line('P', 2)] },
      },
    ]);
  });

  it('payment.failed: releases an unpaid order; ignored once a payment succeeded', async () => {
    const t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'Q', quantity: 10 }));
    const fail = x.ev(t, 'payment.failed', { orderId: 'o', paymentId: 'pay-1' });
    await x.run(x.ev(t, 'order.placed', { orderId: 'o', lines: [line('Q', 2)] }), fail);
    await x.expectRows(fail, [mv('Q', 'released', -2, [0, -2], 'order', 'o', 'payment-failed')]);
    await expectAnnounced(fail, [
      {
        type: 'inventory.released',
        data: {
          referenceType: 'order',
          referenceId: 'o',
          reason: 'payment-failed',
          lines: [line('Q', 2)],
        },
      },
    ]);
    expect(await x.level(t, 'Q')).toEqual(fig(10));

    const late = x.ev(t, 'payment.failed', { orderId: 'o2', paymentId: 'pay-3' });
    await x.run(
      x.ev(t, 'order.placed', { orderId: 'o2', lines: [line('Q', 3)] }),
      x.ev(t, 'payment.succeeded', { orderId: 'o2', paymentId: 'pay-2' }),
      late,
    );
    await x.expectRows(late, []);
    expect(await x.outcome(late)).toEqual({ result: 'ignored', reason: 'already-committed' });
    expect(await x.level(t, 'Q')).toEqual(fig(10, 3, 3));
  });

  it('order.cancelled: releases every unit, committed ones too, with the reason', async () => {
    const t = x.tenant();
    await x.run(
      x.ev(t, 'stock.received', { sku: 'R', quantity: 10 }),
      x.ev(t, 'stock.received', { sku: 'S', quantity: 10 }),
    );
    const cancel = x.ev(t, 'order.cancelled', { orderId: 'o', reason: 'customer-request' });
    const cancelPaid = x.ev(t, 'order.cancelled', { orderId: 'o2' });
    await x.run(
      x.ev(t, 'order.placed', { orderId: 'o', lines: [line('R', 2), line('S', 1)] }),
      cancel,
      x.ev(t, 'order.placed', { orderId: 'o2', lines: [line('R', 3)] }),
      x.ev(t, 'payment.succeeded', { orderId: 'o2', paymentId: 'p' }),
      cancelPaid,
    );
    await x.expectRows(cancel, [
      mv('R', 'released', -2, [0, -2], 'order', 'o', 'customer-request'),
      mv('S', 'released', -1, [0, -1], 'order', 'o', 'customer-request'),
    ]);
    await x.expectRows(cancelPaid, [
      mv('R', 'released', -3, [0, -3, -3], 'order', 'o2', 'cancelled'),
    ]);
    expect(await x.levels(t)).toEqual({ 'R@default': fig(10), 'S@default': fig(10) });
    await expectAnnounced(cancel, [
      {
        type: 'inventory.released',
        data: {
          referenceType: 'order',
          referenceId: 'o',
          reason: 'customer-request',
          lines: [line('R', 2), line('S', 1)],
        },
      },
    ]);
  });

  it('shipment.created: reserved, committed and on-hand drop; fulfilled is announced', async () => {
    const t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'U', quantity: 10 }));
    const ship = x.ev(t, 'shipment.created', {
      shipmentId: 's1',
      orderId: 'o',
      lines: [line('U', 3)],
    });
    await x.run(
      x.ev(t, 'order.placed', { orderId: 'o', lines: [line('U', 3)] }),
      x.ev(t, 'payment.succeeded', { orderId: 'o', paymentId: 'p' }),
      ship,
    );
    await x.expectRows(ship, [mv('U', 'shipped', -3, [-3, -3, -3], 'order', 'o')]);
    expect(await x.level(t, 'U')).toEqual(fig(7));
    await expectAnnounced(ship, [
      {
        type: 'inventory.fulfilled',
        data: { referenceType: 'order', referenceId: 'o', lines: [line('U', 3)] },
      },
    ]);
    const order = (await x
      .knex('reservations')
      .where({ tenant: t, ref_type: 'order', ref_id: 'o' })
      .first('state', 'paid')) as unknown;
    expect(order).toEqual({ state: 'fulfilled', paid: 1 });
  });

  it('rma.passed: restock (the default) is available, quarantine is not', async () => {
    const t = x.tenant();
    const rma = x.ev(t, 'rma.passed', {
      rmaId: 'r1',
      lines: [
        { ...line('V', 2), disposition: 'restock' },
        { ...line('V', 1), disposition: 'quarantine' },
        line('V', 1),
      ],
    });
    await x.run(x.ev(t, 'stock.received', { sku: 'V', quantity: 10 }), rma);
    await x.expectRows(rma, [
      mv('V', 'returned', 2, [2], 'rma', 'r1', 'restock'),
      mv('V', 'returned', 1, [1, 0, 0, 1], 'rma', 'r1', 'quarantine'),
      mv('V', 'returned', 1, [1], 'rma', 'r1', 'restock'),
    ]);
    expect(await x.level(t, 'V')).toEqual(fig(14, 0, 0, 1));
    expect((await x.level(t, 'V'))!.available).toBe(13);
  });

  it('transfer.shipped then transfer.received: source drops, destination incoming then on-hand', async () => {
    const t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'W', quantity: 10 }));
    const ship = x.ev(t, 'transfer.shipped', {
      transferId: 't1',
      fromLocationId: D,
      toLocationId: 'store-1',
      lines: [{ sku: 'W', quantity: 4 }],
    });
    await x.run(ship);
    await x.expectRows(ship, [
      mv('W', 'transfer_out', -4, [-4], 'transfer', 't1'),
      mv('W', 'transfer_in_transit', 4, [0, 0, 0, 0, 4], 'transfer', 't1', '', 'store-1'),
    ]);
    expect(await x.levels(t)).toEqual({ 'W@default': fig(6), 'W@store-1': fig(0, 0, 0, 0, 4) });

    const recv = x.ev(t, 'transfer.received', { transferId: 't1' });
    const again = x.ev(t, 'transfer.received', { transferId: 't1' });
    await x.run(recv, again);
    await x.expectRows(recv, [
      mv('W', 'transfer_received', 4, [4, 0, 0, 0, -4], 'transfer', 't1', '', 'store-1'),
    ]);
    expect(await x.outcome(again)).toEqual({ result: 'ignored', reason: 'transfer-received' });
    expect(await x.levels(t)).toEqual({ 'W@default': fig(6), 'W@store-1': fig(4) });

    const tooBig = x.ev(t, 'transfer.shipped', {
      transferId: 't2',
      fromLocationId: D,
      toLocationId: 'store-1',
      lines: [{ sku: 'W', quantity: 100 }],
    });
    await x.run(tooBig);
    await x.expectRows(tooBig, []);
    await expectAnnounced(tooBig, [
      {
        type: 'inventory.reservation-failed',
        data: {
          reason: 'insufficient-stock',
          referenceType: 'transfer',
          referenceId: 't2',
          lines: [{ sku: 'W', locationId: D, requested: 100, available: 6 }],
        },
      },
    ]);
  });
});

describe('after all of it', () => {
  it('stock_levels equals the ledger sums for every tenant; nothing queued, nothing dead-lettered', async () => {
    await x.quiesce();
    const tenants = (await x.knex('stock_levels').distinct('tenant')) as { tenant: string }[];
    expect(tenants.length).toBe(17);
    for (const { tenant } of tenants) await x.expectLedgerMatchesLevels(tenant);
    expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
  });
});
