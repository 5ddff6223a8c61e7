/**
 * Selling ahead of stock, end to end: policies set by `stock.configured`, carts and orders
 * that wait (backordered, pre-ordered), stock that arrives and fills them in order. The ledger
 * explains every unit: its sums equal stock_levels and Redis, waiting figures included, and
 * each fill is a ledger row and an `inventory.filled` announcement.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pairOf, TenantKeys } from '../../src/engine/keys.js';
import { D, E2E, type Ev } from './harness.js';

let x: E2E;

beforeAll(async () => {
  x = await E2E.start('e2e_policies');
});

afterAll(async () => {
  await x?.close();
});

type Waiting = {
  onHand: number;
  reserved: number;
  committed: number;
  backordered: number;
  preordered: number;
};

/** stock_levels, the ledger's sums and the Redis hash of one SKU: all three must agree. */
async function threeWays(tenant: string, sku: string): Promise<Waiting> {
  const level = (await x
    .knex('stock_levels')
    .where({ tenant, sku, location_id: D })
    .first('on_hand', 'reserved', 'committed', 'backordered', 'preordered')) as Record<
    string,
    number
  >;
  const [[sums]] = (await x.knex.raw(
    `SELECT SUM(on_hand_delta) AS on_hand, SUM(reserved_delta) AS reserved,
            SUM(committed_delta) AS committed, SUM(backordered_delta) AS backordered,
            SUM(preordered_delta) AS preordered
       FROM inventory_ledger WHERE tenant = ? AND sku = ? AND location_id = ?`,
    [tenant, sku, D],
  )) as [Record<string, string>[]];
  const h = await x.t.worker.services.redis.hgetall(
    new TenantKeys(x.t.config.REDIS_PREFIX, tenant).stock(pairOf(sku, D)),
  );
  const of = (r: Record<string, unknown>, f: string[]) => ({
    onHand: Number(r[f[0]!] ?? 0),
    reserved: Number(r[f[1]!] ?? 0),
    committed: Number(r[f[2]!] ?? 0),
    backordered: Number(r[f[3]!] ?? 0),
    preordered: Number(r[f[4]!] ?? 0),
  });
  const snake = ['on_hand', 'reserved', 'committed', 'backordered', 'preordered'];
  const fromLevel = of(level, snake);
  expect(of(sums!, snake), `${sku}: ledger sums = stock_levels`).toEqual(fromLevel);
  expect(of(h, ['onHand', 'reserved', 'committed', 'backordered', 'preordered'])).toEqual(
    fromLevel,
  );
  return fromLevel;
}

it('backorders and pre-orders wait, arriving stock fills them in order, the ledger explains every unit', async () => {
  const t = x.tenant('sell');
  const ev = (type: string, data: Record<string, unknown>): Ev => x.ev(t, type, data);
  const future = new Date(Date.now() + 86_400_000).toISOString();

  await x.run(
    ev('stock.configured', { sku: 'BO', policy: 'backorder', policyLimit: 5 }),
    ev('stock.configured', {
      sku: 'PRE',
      policy: 'preorder',
      policyLimit: 3,
      preorderUntil: future,
    }),
    ev('stock.received', { sku: 'BO', quantity: 2 }),
  );
  const policy = (await x
    .knex('stock_levels')
    .where({ tenant: t, sku: 'PRE' })
    .first('policy', 'policy_limit', 'preorder_until')) as Record<string, unknown>;
  expect(policy).toMatchObject({ policy: 'preorder', policy_limit: 3 });
  expect(new Date(policy.preorder_until as string).toISOString()).toBe(future);

  // 4 wanted, 2 on hand: 2 held, 2 backordered; the order takes the cart over, paid
  const add = ev('cart.added', { cartId: 'c1', sku: 'BO', quantity: 4 });
  const order = ev('order.placed', {
    orderId: 'o1',
    cartId: 'c1',
    lines: [{ sku: 'BO', quantity: 4 }],
  });
  await x.run(add, order, ev('payment.succeeded', { orderId: 'o1', paymentId: 'p1' }));
  expect(await threeWays(t, 'BO')).toEqual({
    onHand: 2,
    reserved: 2,
    committed: 2,
    backordered: 2,
    preordered: 0,
  });
  const reserved = await x.waitAnnouncements(order, 1);
  expect(reserved[0]!.type).toBe('inventory.reserved');
  expect(reserved[0]!.data.lines).toEqual([
    expect.objectContaining({ sku: 'BO', locationId: D, quantity: 4, backordered: 2 }),
  ]);

  // pre-orders: 3 may wait; the fourth unit is refused
  const pre1 = ev('cart.added', { cartId: 'c2', sku: 'PRE', quantity: 2 });
  const pre2 = ev('cart.added', { cartId: 'c3', sku: 'PRE', quantity: 1 });
  const pre3 = ev('cart.added', { cartId: 'c4', sku: 'PRE', quantity: 1 });
  await x.run(pre1, pre2, pre3);
  expect(await x.outcome(pre3)).toEqual({ result: 'rejected', reason: 'insufficient-stock' });
  expect(await threeWays(t, 'PRE')).toMatchObject({ reserved: 0, preordered: 3 });

  // stock arrives: the order's 2 backordered units are filled (and committed: it is paid)
  const arrive = ev('stock.received', { sku: 'BO', quantity: 5, reference: 'PO-9' });
  await x.run(arrive);
  expect(await threeWays(t, 'BO')).toEqual({
    onHand: 7,
    reserved: 4,
    committed: 4,
    backordered: 0,
    preordered: 0,
  });
  const rows = await x.ledger(t, [arrive]);
  expect(rows.map((r) => [r.movement, r.qty, r.referenceType, r.referenceId])).toEqual([
    ['received', 5, 'receipt', 'PO-9'],
    ['filled', 2, 'order', 'o1'],
  ]);
  const filled = (await x.waitAnnouncements(arrive, 1)).filter(
    (a) => a.type === 'inventory.filled',
  );
  expect(filled.map((a) => a.data)).toEqual([
    expect.objectContaining({
      referenceType: 'order',
      referenceId: 'o1',
      orderId: 'o1',
      sku: 'BO',
      locationId: D,
      quantity: 2,
      backordered: 2,
      preordered: 0,
    }),
  ]);

  // 2 of the 3 pre-ordered units arrive: c2 (first in line) is filled, c3 still waits
  const arrivePre = ev('stock.received', { sku: 'PRE', quantity: 2 });
  await x.run(arrivePre);
  expect((await x.ledger(t, [arrivePre])).map((r) => [r.movement, r.referenceId, r.qty])).toEqual([
    ['received', arrivePre.id, 2],
    ['filled', 'c2', 2],
  ]);
  expect(await threeWays(t, 'PRE')).toEqual({
    onHand: 2,
    reserved: 2,
    committed: 0,
    backordered: 0,
    preordered: 1,
  });
  const holds = (await x
    .knex('reservations')
    .where({ tenant: t, ref_type: 'cart' })
    .whereIn('ref_id', ['c2', 'c3'])
    .orderBy('ref_id')
    .select('ref_id', 'lines')) as { ref_id: string; lines: string | unknown[] }[];
  const linesOf = (l: string | unknown[]) =>
    (typeof l === 'string' ? JSON.parse(l) : l) as unknown[];
  expect(holds.map((h) => [h.ref_id, linesOf(h.lines)])).toEqual([
    ['c2', [expect.objectContaining({ sku: 'PRE', held: 2 })]],
    ['c3', [expect.objectContaining({ sku: 'PRE', held: 0, preordered: 1 })]],
  ]);
});
