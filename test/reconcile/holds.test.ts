import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CartExpiry, expiryBucketOf } from '../../jobs/cart-expiry.js';
import { pairOf } from '../../src/engine/keys.js';
import type { Command, Line } from '../../src/domain/types.js';
import { prng } from '../ledger/harness.js';
import { createReconcileHarness, events, shape, type ReconcileHarness } from './harness.js';

let h: ReconcileHarness;
beforeAll(async () => {
  h = await createReconcileHarness('rec_holds');
});
afterAll(async () => {
  await h?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('reconciliation of carts and orders', () => {
  test('a hold changed behind the engine disagrees with the ledger and with its row', async () => {
    const e = events('tamper');
    await h.apply(e(), { op: 'receiveStock', sku: 'A', locationId: 'default', quantity: 10 });
    await h.apply(e(), {
      op: 'reserveCart',
      cartId: 'c1',
      sku: 'A',
      locationId: 'default',
      quantity: 2,
      ttlMs: 3_600_000,
    });
    await h.s.redis.hincrby(h.keys('tamper').cart('c1'), `h:${pairOf('A', 'default')}`, 1);
    const r = await h.run({ tenant: 'tamper' });
    const at = {
      tenant: 'tamper',
      referenceType: 'cart',
      referenceId: 'c1',
      sku: 'A',
      locationId: 'default',
      repaired: false,
    };
    expect(r.firstDrifts.map(shape)).toEqual([
      { ...at, kind: 'hold-vs-reservation', field: 'held', redis: 3, reservations: 2 },
      { ...at, kind: 'hold-vs-ledger', field: 'reserved', ledger: 2, redis: 3, pending: 0 },
    ]);
  });

  test('an open cart past its expiry with no expiry job is a leak; one whose job is due is not', async () => {
    const e = events('leak');
    await h.apply(e(), { op: 'receiveStock', sku: 'A', locationId: 'default', quantity: 10 });
    // applied through the engine, no job scheduled (as if the worker died before scheduling)
    await h.apply(e(), {
      op: 'reserveCart',
      cartId: 'lost',
      sku: 'A',
      locationId: 'default',
      quantity: 2,
      ttlMs: 50,
    });
    // expiry jobs are per second of expiry: 'due' expires in a later second than 'lost'
    const lostExp = Number(await h.s.redis.hget(h.keys('leak').cart('lost'), 'exp'));
    await sleep(expiryBucketOf(lostExp) - Date.now() + 10);
    await h.apply(e(), {
      op: 'reserveCart',
      cartId: 'due',
      sku: 'A',
      locationId: 'default',
      quantity: 1,
      ttlMs: 50,
    });
    const exp = Number(await h.s.redis.hget(h.keys('leak').cart('due'), 'exp'));
    await h.jobs.add(
      'expire',
      { tenant: 'leak', cartId: 'due', expiresAt: exp },
      {
        jobId: CartExpiry.jobId({ tenant: 'leak', cartId: 'due', expiresAt: exp }),
        delay: 60_000,
      },
    );
    await sleep(300);
    // within the default grace (60 s): nothing yet
    expect((await h.run({ tenant: 'leak' })).drifts).toBe(0);
    const r = await h.run({ tenant: 'leak', leakGraceMs: 100 });
    expect(r.firstDrifts.map(shape)).toEqual([
      {
        tenant: 'leak',
        kind: 'leaked-cart',
        referenceType: 'cart',
        referenceId: 'lost',
        field: 'held',
        ledger: 2,
        redis: 2,
        repaired: false,
      },
    ]);
    expect(r.firstDrifts[0]!.detail).toMatch(/expiry job due-[0-9a-f]{20}-\d+: none$/);
  });

  test('a leak in a tenant Redis does not have is found in reservations and released through the engine', async () => {
    const e = events('cold');
    await h.apply(e(), { op: 'receiveStock', sku: 'A', locationId: 'default', quantity: 10 });
    await h.apply(e(), {
      op: 'reserveCart',
      cartId: 'gone',
      sku: 'A',
      locationId: 'default',
      quantity: 3,
      ttlMs: 50,
    });
    // Redis lost the tenant (restart without persistence)
    await h.s.redis.del(h.keys('cold').meta);
    await sleep(200);
    const r = await h.run({ tenant: 'cold', repair: true, leakGraceMs: 100 });
    expect(r.unloaded).toEqual(['cold']);
    expect(r.firstDrifts.map(shape)).toEqual([
      {
        tenant: 'cold',
        kind: 'leaked-cart',
        referenceType: 'cart',
        referenceId: 'gone',
        field: 'held',
        ledger: 3,
        reservations: 3,
        repaired: true,
      },
    ]);
    // the release loaded the tenant and went through the ledger
    expect(await h.s.redis.hget(h.stockKey('cold', 'A'), 'reserved')).toBe('0');
    expect(
      await h.s.knex('stock_levels').where({ tenant: 'cold', sku: 'A' }).first(),
    ).toMatchObject({ reserved: 0 });
    expect(await h.run({ tenant: 'cold', leakGraceMs: 100 })).toMatchObject({
      status: 'clean',
      unloaded: [],
    });
  });

  test('random checkouts, mirrored or still in the outbox, never look like drift', async () => {
    const next = checkouts(prng(4242));
    const e = events('random');
    for (let n = 1; n <= 600; n++) {
      const applied = await h.s.engine.apply(e(), next());
      // the last 60 stay in the outbox, as while the mirror is behind
      if (applied.status === 'applied' && n <= 540)
        await h.s.writer.write(applied.payload, applied.entryId);
    }
    expect(await h.s.redis.xlen(h.keys('random').outbox)).toBe(60);
    // the sequence covers what the checks must get right: orders holding units their cart held
    const [counted] = (await h.s
      .knex('reservations')
      .where({ tenant: 'random', ref_type: 'order' })
      .whereIn('state', ['placed', 'paid'])
      .whereNotNull('link')
      .count({ n: '*' })) as { n: number }[];
    expect(Number(counted!.n)).toBeGreaterThan(10);
    const result = await h.run({ tenant: 'random' });
    expect(result.firstDrifts).toEqual([]);
    expect(result.holdsChecked).toBeGreaterThan(100);
    await h.s.writer.flush();
  });
});

/** Checkout-shaped commands: carts filled, turned into orders, paid, shipped, abandoned. */
function checkouts(r: ReturnType<typeof prng>): () => Command {
  const skus = ['A', 'B', 'C'];
  const locs = ['default', 'wh-2'];
  const carts: { id: string; line: Line }[] = [];
  const orders: { id: string; line: Line }[] = [];
  let ids = 0;
  const line = (): Line => ({ sku: r.pick(skus), locationId: r.pick(locs), quantity: r.int(1, 3) });
  return () => {
    const roll = r.int(1, 100);
    if (roll <= 14) {
      const l = line();
      return { op: 'receiveStock', sku: l.sku, locationId: l.locationId, quantity: r.int(5, 30) };
    }
    if (roll <= 40 || carts.length === 0) {
      const cart =
        r.int(0, 2) === 0 && carts.length > 0
          ? r.pick(carts)
          : { id: `cart-${++ids}`, line: line() };
      if (!carts.includes(cart)) carts.push(cart);
      return { op: 'reserveCart', cartId: cart.id, ...cart.line, ttlMs: 3_600_000 };
    }
    if (roll <= 46)
      return {
        op: 'releaseCart',
        mode: 'remove',
        cartId: r.pick(carts).id,
        sku: r.pick(skus),
        quantity: 1,
      };
    if (roll <= 48) return { op: 'releaseCart', mode: 'clear', cartId: r.pick(carts).id };
    if (roll <= 66) {
      const cart = r.pick(carts);
      const order = {
        id: `order-${++ids}`,
        line: { ...cart.line, quantity: cart.line.quantity + r.int(-1, 1) || 1 },
      };
      orders.push(order);
      const extra = r.int(0, 2) === 0 ? [line()] : [];
      return {
        op: 'placeOrder',
        orderId: order.id,
        ...(r.int(0, 5) ? { cartId: cart.id } : {}),
        lines: [order.line, ...extra],
      };
    }
    if (orders.length === 0)
      return {
        op: 'adjustStock',
        sku: r.pick(skus),
        locationId: r.pick(locs),
        delta: 2,
        reason: 'found',
      };
    const order = r.pick(orders);
    if (roll <= 78) return { op: 'commitOrder', orderId: order.id, paymentId: `pay-${++ids}` };
    if (roll <= 82)
      return { op: 'releaseOrder', mode: 'payfail', orderId: order.id, paymentId: `pay-${++ids}` };
    if (roll <= 85) return { op: 'releaseOrder', mode: 'cancel', orderId: order.id };
    if (roll <= 96)
      return {
        op: 'fulfilShipment',
        shipmentId: `ship-${++ids}`,
        orderId: order.id,
        lines: [{ ...order.line, quantity: 1 }],
      };
    return {
      op: 'adjustStock',
      sku: r.pick(skus),
      locationId: r.pick(locs),
      delta: -1,
      reason: 'damage',
    };
  };
}
