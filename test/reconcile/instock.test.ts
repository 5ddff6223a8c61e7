/**
 * The reconciliation of each SKU's count of in-stock locations (the tenant's `instock` hash,
 * behind inventory.availability-changed of the SKU's total): counted from the stock hashes in
 * the same atomic step, pairs the mirror has not written yet included.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { callScript } from '../../src/engine/call-script.js';
import { pairOf } from '../../src/engine/keys.js';
import { createReconcileHarness, events, shape, type ReconcileHarness } from './harness.js';

let h: ReconcileHarness;
beforeAll(async () => {
  h = await createReconcileHarness('rec_instock');
});
afterAll(async () => {
  await h?.close();
});

const receive = (sku: string, locationId: string, quantity: number) =>
  ({ op: 'receiveStock', sku, locationId, quantity }) as const;

describe('reconciliation of the SKUs’ in-stock counts', () => {
  test('counts changed behind the scripts are drift; --repair counts again, then clean', async () => {
    const T = 'counts';
    const e = events(T);
    await h.apply(e(), receive('A', 'north', 5));
    await h.apply(e(), receive('A', 'south', 5));
    await h.apply(e(), receive('B', 'north', 5));
    await h.apply(e(), receive('C', 'north', 5));
    await h.apply(e(), {
      op: 'reserveCart',
      cartId: 'c1',
      sku: 'C',
      locationId: 'north',
      quantity: 5,
      ttlMs: 3_600_000,
    });
    const k = h.keys(T).inStock;
    expect(await h.s.redis.hgetall(k)).toEqual({ A: '2', B: '1' });
    expect(await h.run({ tenant: T })).toMatchObject({ status: 'clean', drifts: 0 });

    await h.s.redis.hset(k, 'A', 1); // one location forgotten
    await h.s.redis.hdel(k, 'B'); // in stock, counted out
    await h.s.redis.hset(k, 'C', 1); // sold out, counted in
    const r = await h.run({ tenant: T });
    expect(r.firstDrifts.map(shape)).toEqual([
      {
        tenant: T,
        kind: 'in-stock-count',
        sku: 'A',
        field: 'inStock',
        redis: 1,
        ledger: 2,
        repaired: false,
      },
      {
        tenant: T,
        kind: 'in-stock-count',
        sku: 'B',
        field: 'inStock',
        redis: 0,
        ledger: 1,
        repaired: false,
      },
      {
        tenant: T,
        kind: 'in-stock-count',
        sku: 'C',
        field: 'inStock',
        redis: 1,
        ledger: 0,
        repaired: false,
      },
    ]);
    expect(await h.s.redis.hgetall(k)).toEqual({ A: '1', C: '1' }); // unchanged without --repair

    expect(await h.run({ tenant: T, repair: true })).toMatchObject({ drifts: 3, repaired: 3 });
    expect(await h.s.redis.hgetall(k)).toEqual({ A: '2', B: '1' });
    expect(await h.run({ tenant: T })).toMatchObject({ status: 'clean', drifts: 0 });
  });

  test('pairs and SKUs only the outbox knows yet count; a wrong count of a SKU MySQL lacks is found', async () => {
    const T = 'pending';
    const e = events(T);
    await h.apply(e(), receive('A', 'north', 5));
    // not mirrored: a second location of A, and a SKU MySQL has never seen
    await h.applyOnly(e(), receive('A', 'south', 2));
    await h.applyOnly(e(), receive('NEW', 'north', 1));
    const k = h.keys(T).inStock;
    expect(await h.s.redis.hgetall(k)).toEqual({ A: '2', NEW: '1' });
    expect(await h.run({ tenant: T })).toMatchObject({ status: 'clean', drifts: 0 });

    await h.s.redis.hset(k, 'NEW', 3);
    const r = await h.run({ tenant: T, repair: true });
    expect(r.firstDrifts.map(shape)).toEqual([
      {
        tenant: T,
        kind: 'in-stock-count',
        sku: 'NEW',
        field: 'inStock',
        redis: 3,
        ledger: 1,
        repaired: true,
      },
    ]);
    expect(await h.s.redis.hgetall(k)).toEqual({ A: '2', NEW: '1' });
  });

  test('pages of one SKU find the same', async () => {
    const T = 'paged';
    const e = events(T);
    for (const sku of ['P1', 'P2', 'P3']) {
      await h.apply(e(), receive(sku, 'north', 1));
      await h.apply(e(), receive(sku, 'south', 1));
    }
    await h.s.redis.hset(h.keys(T).inStock, 'P2', 7);
    const r = await h.run({ tenant: T, pageSize: 1 });
    expect(r.firstDrifts.map(shape)).toEqual([
      {
        tenant: T,
        kind: 'in-stock-count',
        sku: 'P2',
        field: 'inStock',
        redis: 7,
        ledger: 2,
        repaired: false,
      },
    ]);
  });

  test('a SKU an outbox entry after the read names is left alone, even with --repair', async () => {
    const T = 'moving';
    const e = events(T);
    await h.apply(e(), receive('A', 'north', 5));
    await h.applyOnly(e(), receive('A', 'south', 5));
    const k = h.keys(T);
    await h.s.redis.hset(k.inStock, 'A', 9);
    // as if the outbox had been read before the receipt at south: south is not among the keys
    const count = (since: string) =>
      callScript(
        h.s.redis,
        'countInStock',
        [k.meta, k.outbox, k.inStock, k.stock(pairOf('A', 'north'))],
        [JSON.stringify({ skus: ['A'], pairs: [1], since, repair: true })],
      );
    expect(await count('0-0')).toEqual([1, [9, 1, 1]]);
    expect(await h.s.redis.hget(k.inStock, 'A')).toBe('9');
    // read after it: counted (here without south, as told) and repaired
    const last = (await h.s.redis.xrevrange(k.outbox, '+', '-', 'COUNT', 1))[0]![0];
    expect(await count(last)).toEqual([1, [9, 1, 0]]);
    expect(await h.s.redis.hget(k.inStock, 'A')).toBe('1');
  });

  test('a tenant loaded without the counts (an older version) is skipped, saying so', async () => {
    const T = 'old';
    const e = events(T);
    await h.apply(e(), receive('A', 'north', 5));
    await h.s.redis.hdel(h.keys(T).meta, 'isc');
    await h.s.redis.del(h.keys(T).inStock);
    const r = await h.run({ tenant: T, repair: true });
    expect(r).toMatchObject({ status: 'incomplete', drifts: 0 });
    expect(r.skipped).toEqual([
      {
        tenant: T,
        reason:
          'SKU totals not compared: the tenant was loaded without its in-stock counts (rebuild it)',
      },
    ]);
    expect(await h.s.redis.exists(h.keys(T).inStock)).toBe(0);
  });
});
