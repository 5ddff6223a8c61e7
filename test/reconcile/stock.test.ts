import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { commitBatch } from '../../src/ledger/commit-batch.js';
import { createReconcileHarness, events, shape, type ReconcileHarness } from './harness.js';

let h: ReconcileHarness;
beforeAll(async () => {
  h = await createReconcileHarness('rec_stock');
});
afterAll(async () => {
  await h?.close();
});

/** Stock of 3 SKUs at 2 locations, with holds, an order placed from a cart, paid and shipped. */
async function seed(tenant: string): Promise<void> {
  const e = events(tenant);
  for (const sku of ['A', 'B', 'C']) {
    for (const loc of ['default', 'wh-2']) {
      await h.apply(e('stock.received'), {
        op: 'receiveStock',
        sku,
        locationId: loc,
        quantity: 20,
      });
    }
  }
  await h.apply(e('cart.added'), {
    op: 'reserveCart',
    cartId: 'c1',
    sku: 'A',
    locationId: 'default',
    quantity: 3,
    ttlMs: 3_600_000,
  });
  await h.apply(e('cart.added'), {
    op: 'reserveCart',
    cartId: 'c2',
    sku: 'B',
    locationId: 'wh-2',
    quantity: 2,
    ttlMs: 3_600_000,
  });
  await h.apply(e('order.placed'), {
    op: 'placeOrder',
    orderId: 'o1',
    cartId: 'c1',
    lines: [
      { sku: 'A', locationId: 'default', quantity: 2 },
      { sku: 'C', locationId: 'default', quantity: 1 },
    ],
  });
  await h.apply(e('payment.succeeded'), { op: 'commitOrder', orderId: 'o1', paymentId: 'p1' });
  await h.apply(e('shipment.created'), {
    op: 'fulfilShipment',
    shipmentId: 's1',
    orderId: 'o1',
    lines: [{ sku: 'A', locationId: 'default', quantity: 1 }],
  });
  await h.apply(e('stock.adjusted'), {
    op: 'adjustStock',
    sku: 'C',
    locationId: 'wh-2',
    delta: -4,
    reason: 'damage',
  });
  await h.apply(e('stock.configured'), {
    op: 'configureStock',
    sku: 'D',
    locationId: 'default',
    reorderLevel: 5,
  });
}

describe('reconciliation of stock', () => {
  test('a clean state reports nothing, and says how much it checked', async () => {
    await seed('clean');
    const r = await h.run({ tenant: 'clean' });
    expect(r).toMatchObject({
      status: 'clean',
      drifts: 0,
      repaired: 0,
      tenants: 1,
      // 6 received pairs + D (configured only: a stock_levels row, no ledger rows)
      stockChecked: 7,
      // carts c1, c2 and order o1
      holdsChecked: 3,
      skipped: [],
      unloaded: [],
    });
    expect(h.published).toEqual([]);
  });

  test('a Redis counter changed behind the engine is exactly one drift', async () => {
    await seed('redis');
    await h.s.redis.hincrby(h.stockKey('redis', 'B', 'wh-2'), 'reserved', 5);
    const r = await h.run({ tenant: 'redis' });
    expect(r.status).toBe('drift');
    expect(r.drifts).toBe(1);
    expect(r.firstDrifts.map(shape)).toEqual([
      {
        tenant: 'redis',
        kind: 'redis-vs-ledger',
        sku: 'B',
        locationId: 'wh-2',
        field: 'reserved',
        ledger: 2,
        redis: 7,
        pending: 0,
        stockLevels: 2,
        repaired: false,
      },
    ]);
  });

  test('a stock_levels row changed behind the mirror is exactly one drift', async () => {
    await seed('levels');
    await h.s
      .knex('stock_levels')
      .where({ tenant: 'levels', sku: 'A', location_id: 'default' })
      .increment('on_hand', 3);
    const r = await h.run({ tenant: 'levels' });
    expect(r.firstDrifts.map(shape)).toEqual([
      {
        tenant: 'levels',
        kind: 'stock-levels-vs-ledger',
        sku: 'A',
        locationId: 'default',
        field: 'onHand',
        ledger: 19,
        stockLevels: 22,
        redis: 19,
        repaired: false,
      },
    ]);
  });

  test('a stock hash Redis lost, one MySQL never heard of, and a row the mirror lost', async () => {
    await seed('missing');
    await h.s.redis.del(h.stockKey('missing', 'C', 'wh-2'));
    await h.s.redis.hset(
      h.stockKey('missing', 'GHOST', 'default'),
      'onHand',
      4,
      'reserved',
      0,
      'committed',
      0,
      'unavailable',
      0,
      'incoming',
      0,
    );
    await h.s
      .knex('stock_levels')
      .where({ tenant: 'missing', sku: 'B', location_id: 'default' })
      .delete();
    const r = await h.run({ tenant: 'missing' });
    const found = r.firstDrifts
      .map(shape)
      .sort((a, b) => String(a.kind).localeCompare(String(b.kind)));
    expect(found).toEqual([
      // C's count of in-stock locations still has wh-2, whose hash was deleted behind the scripts
      {
        tenant: 'missing',
        kind: 'in-stock-count',
        sku: 'C',
        field: 'inStock',
        ledger: 1,
        redis: 2,
        repaired: false,
      },
      {
        tenant: 'missing',
        kind: 'mysql-missing',
        sku: 'GHOST',
        locationId: 'default',
        repaired: false,
      },
      { tenant: 'missing', kind: 'redis-missing', sku: 'C', locationId: 'wh-2', repaired: false },
      {
        tenant: 'missing',
        kind: 'stock-levels-vs-ledger',
        sku: 'B',
        locationId: 'default',
        field: 'onHand',
        ledger: 20,
        stockLevels: null,
        repaired: false,
      },
    ]);
    expect(r.stockChecked).toBe(8);
  });

  test('pages of any size find the same drift, ledger-only pairs at page edges included', async () => {
    await seed('pages');
    const e = events('pages');
    for (let i = 0; i < 9; i++) {
      await h.apply(e('stock.received'), {
        op: 'receiveStock',
        sku: `P${i}`,
        locationId: 'default',
        quantity: i + 1,
      });
    }
    for (const sku of ['P2', 'P3', 'P7'])
      await h.s.knex('stock_levels').where({ tenant: 'pages', sku }).delete();
    await h.s.redis.hincrby(h.stockKey('pages', 'P5'), 'onHand', -1);
    const drifts = async (pageSize: number) => {
      const r = await h.run({ tenant: 'pages', pageSize, recheckDelayMs: 10 });
      expect(r.stockChecked).toBe(16);
      return r.firstDrifts
        .map((d) => `${d.kind} ${d.sku} ${d.field} ${d.ledger} ${d.redis ?? d.stockLevels}`)
        .sort();
    };
    const expected = [
      'redis-vs-ledger P5 onHand 6 5',
      'stock-levels-vs-ledger P2 onHand 3 null',
      'stock-levels-vs-ledger P3 onHand 4 null',
      'stock-levels-vs-ledger P7 onHand 8 null',
    ];
    for (const size of [1, 2, 3, 5, 1000]) expect(await drifts(size)).toEqual(expected);
  });

  test('events applied but not mirrored yet are not drift', async () => {
    await seed('pending');
    const e = events('pending');
    await h.applyOnly(e('stock.received'), {
      op: 'receiveStock',
      sku: 'A',
      locationId: 'default',
      quantity: 5,
    });
    await h.applyOnly(e('stock.received'), {
      op: 'receiveStock',
      sku: 'NEW',
      locationId: 'default',
      quantity: 7,
    });
    await h.applyOnly(e('cart.added'), {
      op: 'reserveCart',
      cartId: 'c2',
      sku: 'B',
      locationId: 'wh-2',
      quantity: 1,
      ttlMs: 3_600_000,
    });
    await h.applyOnly(e('order.placed'), {
      op: 'placeOrder',
      orderId: 'o2',
      cartId: 'c2',
      lines: [{ sku: 'B', locationId: 'wh-2', quantity: 4 }],
    });
    await h.applyOnly(e('stock.configured'), {
      op: 'configureStock',
      sku: 'NEW2',
      locationId: 'default',
      reorderLevel: 1,
    });
    expect(await h.s.redis.xlen(h.keys('pending').outbox)).toBe(5);
    const r = await h.run({ tenant: 'pending' });
    expect(r.firstDrifts).toEqual([]);
    expect(r.status).toBe('clean');
    // NEW and NEW2 exist in Redis only: found by the SCAN, pending, so not drift
    expect(r.stockChecked).toBe(9);
  });

  test('entries mirrored but still in the outbox (not deleted yet) are not counted twice', async () => {
    await seed('mirrored');
    const e = events('mirrored');
    const meta = e('stock.received');
    const r1 = await h.s.engine.apply(meta, {
      op: 'receiveStock',
      sku: 'A',
      locationId: 'default',
      quantity: 5,
    });
    if (r1.status !== 'applied') throw new Error('not applied');
    // what the writer does, less its XDEL: the entry is in MySQL and still in the outbox
    expect(await commitBatch(h.s.knex, [{ payload: r1.payload, entryId: r1.entryId }])).toEqual([
      'committed',
    ]);
    expect(await h.s.redis.xlen(h.keys('mirrored').outbox)).toBe(1);
    const r = await h.run({ tenant: 'mirrored' });
    expect(r.firstDrifts).toEqual([]);
  });

  test('a tenant not loaded in Redis is compared in MySQL only', async () => {
    await seed('unloaded');
    await h.s.redis.del(h.keys('unloaded').meta);
    await h.s.redis.hincrby(h.stockKey('unloaded', 'A'), 'onHand', 100);
    await h.s
      .knex('stock_levels')
      .where({ tenant: 'unloaded', sku: 'C', location_id: 'default' })
      .increment('reserved', 1);
    const r = await h.run({ tenant: 'unloaded' });
    expect(r.unloaded).toEqual(['unloaded']);
    expect(
      r.firstDrifts.map((d) => `${d.kind} ${d.sku} ${d.field} ${d.ledger} ${d.stockLevels}`),
    ).toEqual(['stock-levels-vs-ledger C reserved 1 2']);
  });

  test('a drift that a second look no longer finds is not reported', async () => {
    await seed('transient');
    const key = h.stockKey('transient', 'A', 'wh-2');
    await h.s.redis.hincrby(key, 'onHand', 1);
    // undone once the first look (which reports progress after it) found it
    let undone: Promise<unknown> | undefined;
    const r = await h.run({
      tenant: 'transient',
      recheckDelayMs: 1000,
      onProgress: () => {
        undone ??= h.s.redis.hincrby(key, 'onHand', -1);
      },
    });
    expect(undone).toBeDefined();
    expect(r.drifts).toBe(0);
    // the same run without the undo reports it: the first look did see it
    await h.s.redis.hincrby(key, 'onHand', 1);
    expect((await h.run({ tenant: 'transient' })).drifts).toBe(1);
  });

  test('an aborted run stops and is recorded as failed', async () => {
    await seed('aborted');
    const stop = new AbortController();
    stop.abort();
    await expect(h.run({ tenant: 'aborted', signal: stop.signal })).rejects.toThrow(
      'reconciliation aborted',
    );
    const run = (await h.s.knex('reconcile_runs').orderBy('id', 'desc').first()) as Record<
      string,
      unknown
    >;
    expect(run).toMatchObject({
      status: 'failed',
      error: 'reconciliation aborted',
      tenant_filter: 'aborted',
    });
    expect(run.finished_at).toBeInstanceOf(Date);
  });
});
