import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pairOf } from '../../src/engine/keys.js';
import { unlinkTenantKeys } from '../../src/ledger/tenant-keys.js';
import { BACK, PRE, SKU, waitingScenario } from '../ledger/waiting-payloads.js';
import { createReconcileHarness, events, shape, type ReconcileHarness } from './harness.js';

let h: ReconcileHarness;
beforeAll(async () => {
  h = await createReconcileHarness('rec_waiting');
});
afterAll(async () => {
  await h?.close();
});

/**
 * A tenant with units waiting for stock (test/ledger/waiting-payloads.ts), mirrored to MySQL
 * from hand-built payloads and loaded into Redis from there, as after a rebuild.
 */
async function seed(tenant: string): Promise<void> {
  await h.s.loader.ensureTenant(tenant);
  const epoch = Number(await h.s.redis.hget(h.keys(tenant).meta, 'epoch'));
  for (const s of waitingScenario(tenant, epoch))
    expect(await h.s.writer.write(s.payload, s.entryId)).toBe('committed');
  await unlinkTenantKeys(h.s.redis, h.keys(tenant));
  await h.s.loader.load(tenant);
}

const waiting = async (tenant: string, locationId: string) => {
  const v = await h.s.redis.hgetall(h.stockKey(tenant, SKU, locationId));
  return [Number(v.backordered), Number(v.preordered)];
};

describe('reconciliation of units waiting for stock', () => {
  test('a tenant with backorders, pre-orders, a fill and a conversion is clean', async () => {
    await seed('clean');
    const r = await h.run({ tenant: 'clean' });
    expect(r).toMatchObject({
      status: 'clean',
      drifts: 0,
      stockChecked: 2,
      // carts A, B (converted into O), C, D and order O
      holdsChecked: 5,
    });
  });

  test('backordered drift in Redis is detected, and repaired with --repair', async () => {
    const t = 'redis';
    await seed(t);
    await h.s.redis.hincrby(h.stockKey(t, SKU, BACK), 'backordered', 2);
    const found = await h.run({ tenant: t });
    expect(found.firstDrifts.map(shape)).toEqual([
      {
        tenant: t,
        kind: 'redis-vs-ledger',
        sku: SKU,
        locationId: BACK,
        field: 'backordered',
        ledger: 3,
        redis: 5,
        pending: 0,
        stockLevels: 3,
        repaired: false,
      },
    ]);
    const fixed = await h.run({ tenant: t, repair: true });
    expect(fixed).toMatchObject({ drifts: 1, repaired: 1 });
    expect(fixed.firstDrifts[0]).toMatchObject({ field: 'backordered', repaired: true });
    expect(await waiting(t, BACK)).toEqual([3, 0]);
    // the rest of the hash is as it was: the policy stays
    expect(await h.s.redis.hget(h.stockKey(t, SKU, BACK), 'pol')).toBe('backorder');
    expect(await h.run({ tenant: t })).toMatchObject({ status: 'clean', drifts: 0 });
  });

  test('preordered drift in stock_levels is detected, and repaired with --repair', async () => {
    const t = 'levels';
    await seed(t);
    await h.s
      .knex('stock_levels')
      .where({ tenant: t, sku: SKU, location_id: PRE })
      .increment('preordered', 4);
    const found = await h.run({ tenant: t });
    expect(found.firstDrifts.map(shape)).toEqual([
      {
        tenant: t,
        kind: 'stock-levels-vs-ledger',
        sku: SKU,
        locationId: PRE,
        field: 'preordered',
        ledger: 1,
        stockLevels: 5,
        redis: 1,
        repaired: false,
      },
    ]);
    expect(await h.run({ tenant: t, repair: true })).toMatchObject({ drifts: 1, repaired: 1 });
    const row = (await h.s
      .knex('stock_levels')
      .where({ tenant: t, sku: SKU, location_id: PRE })
      .first('preordered', 'policy')) as { preordered: number; policy: string };
    expect(row).toEqual({ preordered: 1, policy: 'preorder' });
    expect(await h.run({ tenant: t })).toMatchObject({ status: 'clean', drifts: 0 });
  });

  test('a stock hash Redis lost comes back with its waiting figures and policy', async () => {
    const t = 'lost';
    await seed(t);
    const key = h.stockKey(t, SKU, PRE);
    const before = await h.s.redis.hgetall(key);
    await h.s.redis.del(key);
    const r = await h.run({ tenant: t, repair: true });
    expect(r.firstDrifts.map(shape)).toEqual([
      { tenant: t, kind: 'redis-missing', sku: SKU, locationId: PRE, repaired: true },
    ]);
    expect(await h.s.redis.hgetall(key)).toEqual(before);
  });

  test("a hold's waiting units changed behind the engine disagree with the ledger and its row", async () => {
    const t = 'hold';
    await seed(t);
    await h.s.redis.hincrby(h.keys(t).cart('A'), `b:${pairOf(SKU, BACK)}`, 1);
    const r = await h.run({ tenant: t });
    const at = {
      tenant: t,
      referenceType: 'cart',
      referenceId: 'A',
      sku: SKU,
      locationId: BACK,
      repaired: false,
    };
    expect(r.firstDrifts.map(shape)).toEqual([
      { ...at, kind: 'hold-vs-reservation', field: 'backordered', redis: 2, reservations: 1 },
      { ...at, kind: 'hold-vs-ledger', field: 'backordered', ledger: 1, redis: 2, pending: 0 },
    ]);
  });

  const queue = (t: string) => h.s.redis.zrange(h.keys(t).wait(pairOf(SKU, BACK)), 0, -1);

  test('a hold waiting outside its queue is found, and queued again behind the others with --repair', async () => {
    const t = 'outside';
    await seed(t);
    expect(await queue(t)).toEqual(['order:O', 'cart:C', 'cart:A']);
    await h.s.redis.zrem(h.keys(t).wait(pairOf(SKU, BACK)), 'cart:C');
    const found = await h.run({ tenant: t });
    const drift = {
      tenant: t,
      kind: 'wait-queue',
      sku: SKU,
      locationId: BACK,
      field: 'waiting',
      redis: 3,
    };
    expect(found.firstDrifts.map(shape)).toEqual([{ ...drift, repaired: false }]);
    expect(found.firstDrifts[0]!.detail).toBe('1 holds wait here outside the queue (cart:C)');
    expect(await queue(t)).toEqual(['order:O', 'cart:A']);

    const fixed = await h.run({ tenant: t, repair: true });
    expect(fixed.firstDrifts.map(shape)).toEqual([{ ...drift, repaired: true }]);
    expect(await queue(t)).toEqual(['order:O', 'cart:A', 'cart:C']);
    expect(await h.run({ tenant: t })).toMatchObject({ status: 'clean', drifts: 0 });
  });

  test('a fill missed while a hold waited outside the queue is made with --repair, in the ledger', async () => {
    const t = 'missed';
    await seed(t);
    const pair = pairOf(SKU, BACK);
    await h.s.redis.zrem(h.keys(t).wait(pair), 'cart:A');
    // 3 units arrive: O and C are filled, A (1 waiting) is not: 1 unit stays available
    await h.apply(events(t)('stock.received'), {
      op: 'receiveStock',
      sku: SKU,
      locationId: BACK,
      quantity: 3,
    });
    expect(await waiting(t, BACK)).toEqual([1, 0]);
    const found = await h.run({ tenant: t });
    expect(found.firstDrifts.map((d) => d.detail)).toEqual([
      '1 holds wait here outside the queue (cart:A); 1 units available while 1 wait',
    ]);

    h.published.length = 0;
    const fixed = await h.run({ tenant: t, repair: true });
    expect(fixed).toMatchObject({ drifts: 1, repaired: 1 });
    expect(await waiting(t, BACK)).toEqual([0, 0]);
    const cartA = await h.s.redis.hgetall(h.keys(t).cart('A'));
    expect(cartA[`h:${pair}`]).toBe('3');
    expect(cartA[`b:${pair}`] ?? '0').toBe('0');
    expect(await queue(t)).toEqual([]);
    const rows = (await h.s
      .knex('inventory_ledger')
      .where({ tenant: t, movement: 'filled', reference_id: 'A' })
      .select('reserved_delta', 'backordered_delta')) as Record<string, number>[];
    expect(rows.map((r) => [Number(r.reserved_delta), Number(r.backordered_delta)])).toEqual([
      [2, -2], // step 5 of the scenario
      [1, -1], // the repair
    ]);
    const filled = h.published.filter((p) => p.routingKey === 'inventory.filled');
    expect(filled).toHaveLength(1);
    expect(filled[0]!.body.data).toMatchObject({ referenceType: 'cart', referenceId: 'A' });
    // Redis, stock_levels and the ledger agree again, holds and reservations included
    expect(await h.run({ tenant: t })).toMatchObject({ status: 'clean', drifts: 0 });
  });
});
