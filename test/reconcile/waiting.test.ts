import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pairOf } from '../../src/engine/keys.js';
import { unlinkTenantKeys } from '../../src/ledger/tenantKeys.js';
import { BACK, PRE, SKU, waitingScenario } from '../ledger/waitingPayloads.js';
import { createReconcileHarness, shape, type ReconcileHarness } from './harness.js';

let h: ReconcileHarness;
beforeAll(async () => {
  h = await createReconcileHarness('rec_waiting');
});
afterAll(async () => {
  await h?.close();
});

/**
 * A tenant with units waiting for stock (test/ledger/waitingPayloads.ts), mirrored to MySQL
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
});
