import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RECONCILE_SOURCE } from '../../src/reconcile/index.js';
import { callScript } from '../../src/engine/call-script.js';
import { createReconcileHarness, events, type ReconcileHarness } from './harness.js';

let h: ReconcileHarness;
beforeAll(async () => {
  h = await createReconcileHarness('rec_repair');
});
afterAll(async () => {
  await h?.close();
});

const T = 'fixme';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const figures = async (sku: string, loc = 'default') => {
  const v = await h.s.redis.hgetall(h.stockKey(T, sku, loc));
  return [v.onHand, v.reserved, v.committed, v.unavailable, v.incoming].map(Number);
};
const level = async (sku: string, loc = 'default') => {
  const r = (await h.s.knex('stock_levels').where({ tenant: T, sku, location_id: loc }).first()) as
    Record<string, number> | undefined;
  return r && [r.on_hand, r.reserved, r.committed, r.unavailable, r.incoming].map(Number);
};

describe('reconcile --repair', () => {
  test('repairs every kind it can, records it, announces it, and a second run finds nothing', async () => {
    const e = events(T);
    for (const sku of ['A', 'B', 'C', 'D']) {
      await h.apply(e(), { op: 'receiveStock', sku, locationId: 'default', quantity: 10 });
    }
    await h.apply(e(), {
      op: 'reserveCart',
      cartId: 'leaky',
      sku: 'D',
      locationId: 'default',
      quantity: 4,
      ttlMs: 50,
    });
    // one pending entry on A: the Redis repair must keep it (ledger + pending)
    const pending = await h.applyOnly(e(), {
      op: 'receiveStock',
      sku: 'A',
      locationId: 'default',
      quantity: 1,
    });
    await h.s.redis.hincrby(h.stockKey(T, 'A'), 'onHand', 7);
    await h.s
      .knex('stock_levels')
      .where({ tenant: T, sku: 'B' })
      .update({ reserved: 3, incoming: 2 });
    await h.s.redis.del(h.stockKey(T, 'C'));
    await h.s.redis.hset(
      h.stockKey(T, 'GHOST'),
      'onHand',
      1,
      'reserved',
      0,
      'committed',
      0,
      'unavailable',
      0,
      'incoming',
      0,
    );
    await sleep(200);

    const first = await h.run({ tenant: T, repair: true, leakGraceMs: 100 });
    expect(first).toMatchObject({ status: 'drift', drifts: 7, repaired: 7, repair: true });
    expect(first.byKind).toEqual({
      'redis-vs-ledger': 1,
      'stock-levels-vs-ledger': 2,
      'redis-missing': 1,
      'mysql-missing': 1,
      // C's hash deleted behind the scripts left A, B, C, D counted in stock: the repair that
      // put C back counted it again (2), the count of C's locations says 1
      'in-stock-count': 1,
      'leaked-cart': 1,
    });
    expect(first.firstDrifts.every((d) => d.repaired)).toBe(true);

    // every SKU in stock at its one location; GHOST's deleted hash left no count below 0
    expect(await h.s.redis.hgetall(h.keys(T).inStock)).toEqual({ A: '1', B: '1', C: '1', D: '1' });
    // Redis = ledger + the pending receipt; stock_levels = ledger; C back; GHOST gone
    expect(await figures('A')).toEqual([11, 0, 0, 0, 0]);
    expect(await level('B')).toEqual([10, 0, 0, 0, 0]);
    expect(await figures('C')).toEqual([10, 0, 0, 0, 0]);
    expect(await h.s.redis.exists(h.stockKey(T, 'GHOST'))).toBe(0);
    // the leak was released as a real event: an 'expired' movement, the cart gone, the row expired
    expect(await figures('D')).toEqual([10, 0, 0, 0, 0]);
    expect(await level('D')).toEqual([10, 0, 0, 0, 0]);
    expect(await h.s.redis.exists(h.keys(T).cart('leaky'))).toBe(0);
    const movement = (await h.s
      .knex('inventory_ledger')
      .where({ tenant: T, movement: 'expired' })
      .first()) as Record<string, unknown>;
    expect(movement).toMatchObject({
      sku: 'D',
      reserved_delta: -4,
      reference_type: 'cart',
      reference_id: 'leaky',
      event_source: RECONCILE_SOURCE,
      event_type: 'cart.expired',
    });
    expect(String(movement.event_id)).toMatch(new RegExp(`^run-${first.runId}-cart-`));
    expect(
      await h.s.knex('reservations').where({ tenant: T, ref_id: 'leaky' }).first(),
    ).toMatchObject({ state: 'expired' });

    // recorded for BI: the run and its six drift rows
    const run = (await h.s.knex('reconcile_runs').where({ id: first.runId }).first()) as Record<
      string,
      unknown
    >;
    expect(run).toMatchObject({
      repair: 1,
      status: 'drift',
      tenant_filter: T,
      tenants: 1,
      stock_checked: 5,
      holds_checked: 1,
      drifts: 7,
      repaired: 7,
      error: null,
    });
    expect(run.finished_at).toBeInstanceOf(Date);
    const rows = (await h.s
      .knex('reconcile_drifts')
      .where({ run_id: first.runId })
      .orderBy('id')
      .select(
        'kind',
        'sku',
        'field',
        'ledger_value',
        'redis_value',
        'stock_levels_value',
        'pending_value',
        'repaired',
      )) as Record<string, unknown>[];
    expect(rows).toEqual(
      expect.arrayContaining([
        {
          kind: 'redis-vs-ledger',
          sku: 'A',
          field: 'onHand',
          ledger_value: 10,
          redis_value: 17,
          stock_levels_value: 10,
          pending_value: 1,
          repaired: 1,
        },
        {
          kind: 'stock-levels-vs-ledger',
          sku: 'B',
          field: 'reserved',
          ledger_value: 0,
          redis_value: 0,
          stock_levels_value: 3,
          pending_value: null,
          repaired: 1,
        },
        {
          kind: 'stock-levels-vs-ledger',
          sku: 'B',
          field: 'incoming',
          ledger_value: 0,
          redis_value: 0,
          stock_levels_value: 2,
          pending_value: null,
          repaired: 1,
        },
        {
          kind: 'redis-missing',
          sku: 'C',
          field: null,
          ledger_value: null,
          redis_value: null,
          stock_levels_value: null,
          pending_value: null,
          repaired: 1,
        },
        {
          kind: 'mysql-missing',
          sku: 'GHOST',
          field: null,
          ledger_value: null,
          redis_value: null,
          stock_levels_value: null,
          pending_value: null,
          repaired: 1,
        },
        {
          kind: 'in-stock-count',
          sku: 'C',
          field: 'inStock',
          ledger_value: 1,
          redis_value: 2,
          stock_levels_value: null,
          pending_value: null,
          repaired: 1,
        },
        {
          kind: 'leaked-cart',
          sku: null,
          field: 'held',
          ledger_value: 4,
          redis_value: 4,
          stock_levels_value: null,
          pending_value: null,
          repaired: 1,
        },
      ]),
    );
    expect(rows).toHaveLength(7);

    // announced: the drift, and the release like any expiry
    expect(h.published.map((p) => p.routingKey).sort()).toEqual([
      'inventory.drift-detected',
      'inventory.expired',
    ]);
    const drift = h.published.find((p) => p.routingKey === 'inventory.drift-detected')!.body;
    expect(drift).toMatchObject({
      type: 'inventory.drift-detected',
      source: RECONCILE_SOURCE,
      tenant: T,
      data: { runId: first.runId, repair: true, drifts: 7, repaired: 7, truncated: false },
    });
    expect(drift.data.items).toHaveLength(7);

    const second = await h.run({ tenant: T, repair: true, leakGraceMs: 100 });
    expect(second).toMatchObject({ status: 'clean', drifts: 0, repaired: 0 });
    // and once the pending receipt is mirrored, still nothing
    expect(await h.s.writer.write(pending.payload, pending.entryId)).toBe('committed');
    expect(await h.run({ tenant: T })).toMatchObject({ status: 'clean', drifts: 0 });
    expect(await level('A')).toEqual([11, 0, 0, 0, 0]);
  });

  test('a run without --repair changes nothing', async () => {
    const e = events('readonly');
    await h.apply(e(), { op: 'receiveStock', sku: 'A', locationId: 'default', quantity: 10 });
    await h.s.redis.hincrby(h.stockKey('readonly', 'A'), 'onHand', 2);
    for (let i = 0; i < 2; i++) {
      const r = await h.run({ tenant: 'readonly' });
      expect(r).toMatchObject({ drifts: 1, repaired: 0 });
    }
    expect(await h.s.redis.hget(h.stockKey('readonly', 'A'), 'onHand')).toBe('12');
  });

  test('the Redis repair is a compare-and-set: a hash changed since it was read is left alone', async () => {
    const e = events('cas');
    await h.apply(e(), { op: 'receiveStock', sku: 'A', locationId: 'default', quantity: 10 });
    const k = h.keys('cas');
    const key = h.stockKey('cas', 'A');
    const epoch = Number(await h.s.redis.hget(k.meta, 'epoch'));
    const restore = (expected: number) =>
      callScript(
        h.s.redis,
        'restoreStock',
        [k.meta, key],
        [
          JSON.stringify({
            epoch,
            expected: { onHand: expected, reserved: 0, committed: 0, unavailable: 0, incoming: 0 },
            set: { onHand: 10, reserved: 0, committed: 0, unavailable: 0, incoming: 0 },
          }),
        ],
      );
    await h.s.redis.hincrby(key, 'onHand', 5);
    // read at 15, then an event lands: 16
    await h.apply(e(), { op: 'receiveStock', sku: 'A', locationId: 'default', quantity: 1 });
    expect(await restore(15)).toBe(0);
    expect(await h.s.redis.hget(key, 'onHand')).toBe('16');
    expect(await restore(16)).toBe(1);
    expect(await h.s.redis.hget(key, 'onHand')).toBe('10');
    // and never under another epoch (Redis reloaded since the read)
    await h.s.redis.hset(k.meta, 'epoch', epoch + 1);
    expect(await restore(10)).toBe(0);
    await h.s.redis.hset(k.meta, 'epoch', epoch);
  });
});
