import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { TenantKeys } from '../../src/engine/keys.js';
import type { Engine } from '../../src/engine/engine.js';
import type { Command, Movement, MovementKind } from '../../src/domain/types.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import {
  dumpPrefix,
  eventMaker,
  mustApply,
  readFigures,
  testEngine,
} from '../support/engine-harness.js';

const NOW = 1_800_000_000_000;
const TTL = 60 * 60 * 1000;
const D = 'default';

let redis: Redis;
let engine: Engine;
let clock = NOW;
const prefix = uniqueName('movements');

beforeAll(() => {
  redis = testRedis();
  engine = testEngine(redis, prefix, () => clock);
});

afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

let tenants = 0;
/** A fresh tenant per test: its own stock, holds and event ids. */
function tenant() {
  const name = `m${++tenants}`;
  const ev = eventMaker(name);
  const k = new TenantKeys(prefix, name);
  return {
    name,
    k,
    apply: (c: Command, id?: string) => engine.apply(ev(c.op, id), c),
    ok: (c: Command, id?: string) => mustApply(engine, ev(c.op, id), c),
    fig: (sku: string, loc = D) => readFigures(redis, k, sku, loc),
  };
}

const mv = (
  sku: string,
  locationId: string,
  kind: MovementKind,
  d: number[],
  referenceType: string,
  referenceId: string,
  reason = '',
): Movement => ({
  sku,
  locationId,
  kind,
  onHand: d[0] ?? 0,
  reserved: d[1] ?? 0,
  committed: d[2] ?? 0,
  unavailable: d[3] ?? 0,
  incoming: d[4] ?? 0,
  referenceType,
  referenceId,
  reason,
});

/** The policy fields of a ConfigChange that never set one. */
const DENY = { policy: 'deny', policyLimit: 0, preorderUntil: null } as const;

const fig = (onHand: number, reserved = 0, committed = 0, unavailable = 0, incoming = 0) => ({
  onHand,
  reserved,
  committed,
  unavailable,
  incoming,
  backordered: 0,
  preordered: 0,
  available: onHand - reserved - unavailable,
});

const receive = (sku: string, quantity: number, locationId = D): Command => ({
  op: 'receiveStock',
  sku,
  locationId,
  quantity,
});
const cartAdd = (cartId: string, sku: string, quantity: number, locationId = D): Command => ({
  op: 'reserveCart',
  cartId,
  sku,
  locationId,
  quantity,
  ttlMs: TTL,
});
const line = (sku: string, quantity: number, locationId = D) => ({ sku, locationId, quantity });

describe('stock facts', () => {
  it('stock.received raises on-hand, referenced by the receipt (or the event id)', async () => {
    const t = tenant();
    const r = await t.ok({ ...receive('A', 10), reference: 'PO-1' } as Command, 'rcv-1');
    expect(r.payload).toMatchObject({
      tenant: t.name,
      source: '/test',
      id: 'rcv-1',
      type: 'receiveStock',
      epoch: 1,
      outcome: { result: 'applied' },
      holds: [],
      config: [],
    });
    expect(r.payload.movements).toEqual([mv('A', D, 'received', [10], 'receipt', 'PO-1')]);
    const r2 = await t.ok(receive('A', 5), 'rcv-2');
    expect(r2.payload.movements).toEqual([mv('A', D, 'received', [5], 'receipt', 'rcv-2')]);
    expect(await t.fig('A')).toEqual(fig(15));
  });

  it('stock.adjusted moves on-hand either way, refuses negative on-hand, announces a shortage', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    await t.ok(cartAdd('c1', 'A', 8));
    const down = await t.ok(
      { op: 'adjustStock', sku: 'A', locationId: D, delta: -4, reason: 'damage' },
      'adj-1',
    );
    expect(down.payload.movements).toEqual([
      mv('A', D, 'adjusted', [-4], 'adjustment', 'adj-1', 'damage'),
    ]);
    expect(down.payload.outcome).toEqual({
      result: 'applied',
      shortage: [{ sku: 'A', locationId: D, available: -2 }],
      availability: [
        { sku: 'A', locationId: D, available: -2, inStock: false },
        { sku: 'A', available: 0, inStock: false }, // its only location: the total too
      ],
    });
    expect(await t.fig('A')).toEqual(fig(6, 8));

    const up = await t.ok(
      { op: 'adjustStock', sku: 'A', locationId: D, delta: 3, reason: 'found' },
      'adj-2',
    );
    expect(up.payload.movements).toEqual([
      mv('A', D, 'adjusted', [3], 'adjustment', 'adj-2', 'found'),
    ]);
    expect(up.payload.outcome).toEqual({
      result: 'applied',
      availability: [
        { sku: 'A', locationId: D, available: 1, inStock: true },
        { sku: 'A', available: 1, inStock: true },
      ],
    });
    expect(await t.fig('A')).toEqual(fig(9, 8));

    const refused = await t.ok({
      op: 'adjustStock',
      sku: 'A',
      locationId: D,
      delta: -10,
      reason: 'loss',
    });
    expect(refused.payload.outcome).toEqual({ result: 'rejected', reason: 'negative-on-hand' });
    expect(refused.payload.movements).toEqual([]);
    expect(await t.fig('A')).toEqual(fig(9, 8));

    await t.ok({ op: 'adjustStock', sku: 'A', locationId: D, delta: -9, reason: 'loss' });
    expect(await t.fig('A')).toEqual(fig(0, 8));
  });

  it('stock.counted sets on-hand; the difference is the movement', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    const c1 = await t.ok({ op: 'countStock', sku: 'A', locationId: D, onHand: 7 }, 'cnt-1');
    expect(c1.payload.movements).toEqual([mv('A', D, 'counted', [-3], 'count', 'cnt-1', 'count')]);
    const same = await t.ok({ op: 'countStock', sku: 'A', locationId: D, onHand: 7 });
    expect(same.payload.outcome).toEqual({ result: 'applied' });
    expect(same.payload.movements).toEqual([]);
    const c2 = await t.ok({ op: 'countStock', sku: 'A', locationId: D, onHand: 12 }, 'cnt-3');
    expect(c2.payload.movements).toEqual([mv('A', D, 'counted', [5], 'count', 'cnt-3', 'count')]);
    await t.ok(cartAdd('c1', 'A', 10));
    const c3 = await t.ok({ op: 'countStock', sku: 'A', locationId: D, onHand: 4 });
    expect(c3.payload.outcome.shortage).toEqual([{ sku: 'A', locationId: D, available: -6 }]);
    expect(await t.fig('A')).toEqual(fig(4, 10));
  });

  it('stock.configured sets the threshold; low stock is announced once per downward crossing', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    const cfg = await t.ok({
      op: 'configureStock',
      sku: 'A',
      locationId: D,
      reorderLevel: 3,
      reorderQuantity: 20,
    });
    expect(cfg.payload.config).toEqual([
      {
        sku: 'A',
        locationId: D,
        reorderLevel: 3,
        reorderQuantity: 20,
        policy: 'deny',
        policyLimit: 0,
        preorderUntil: null,
      },
    ]);
    expect(cfg.payload.outcome).toEqual({ result: 'applied' });
    expect(cfg.payload.movements).toEqual([]);
    expect(await redis.hmget(t.k.stock('A\x1fdefault'), 'reorderLevel', 'reorderQuantity')).toEqual(
      ['3', '20'],
    );

    const low = (available: number, reorderLevel = 3) => [
      { sku: 'A', locationId: D, available, reorderLevel, reorderQuantity: 20 },
    ];
    expect((await t.ok(cartAdd('c1', 'A', 6))).payload.outcome).toEqual({ result: 'applied' }); // 4
    expect((await t.ok(cartAdd('c2', 'A', 1))).payload.outcome.lowStock).toEqual(low(3)); // crosses to 3
    expect((await t.ok(cartAdd('c3', 'A', 1))).payload.outcome.lowStock).toBeUndefined(); // already low
    expect(
      (await t.ok({ op: 'releaseCart', mode: 'clear', cartId: 'c1' })).payload.outcome.lowStock,
    ).toBeUndefined(); // 8
    expect((await t.ok(cartAdd('c1', 'A', 5))).payload.outcome.lowStock).toEqual(low(3)); // crosses again

    const raise = await t.ok({ op: 'configureStock', sku: 'A', locationId: D, reorderLevel: 5 });
    expect(raise.payload.config).toEqual([
      { sku: 'A', locationId: D, reorderLevel: 5, reorderQuantity: 20, ...DENY },
    ]);
    expect(raise.payload.outcome.lowStock).toBeUndefined(); // was already at or below the level

    // a threshold raised above what is available is a crossing too
    const u = tenant();
    await u.ok(receive('A', 4));
    const first = await u.ok({ op: 'configureStock', sku: 'A', locationId: D, reorderLevel: 4 });
    expect(first.payload.config).toEqual([
      { sku: 'A', locationId: D, reorderLevel: 4, reorderQuantity: null, ...DENY },
    ]);
    expect(first.payload.outcome.lowStock).toEqual([
      { sku: 'A', locationId: D, available: 4, reorderLevel: 4, reorderQuantity: null },
    ]);
  });
});

describe('carts', () => {
  it('cart.added holds cumulatively with a sliding expiry; a short add is refused whole', async () => {
    const t = tenant();
    await t.ok(receive('A', 5));
    clock = NOW;
    const a1 = await t.ok(cartAdd('c1', 'A', 2));
    expect(a1.payload.movements).toEqual([mv('A', D, 'reserved', [0, 2], 'cart', 'c1')]);
    expect(a1.payload.holds).toEqual([
      {
        kind: 'cart',
        id: 'c1',
        state: 'open',
        lines: [{ sku: 'A', locationId: D, held: 2 }],
        expiresAt: NOW + TTL,
        version: 1,
      },
    ]);
    clock = NOW + 1000;
    const a2 = await t.ok(cartAdd('c1', 'A', 2));
    expect(a2.payload.holds).toEqual([
      {
        kind: 'cart',
        id: 'c1',
        state: 'open',
        lines: [{ sku: 'A', locationId: D, held: 4 }],
        expiresAt: NOW + 1000 + TTL,
        version: 2,
      },
    ]);
    clock = NOW;
    expect(await t.fig('A')).toEqual(fig(5, 4));

    const before = await dumpPrefix(redis, prefix);
    const short = await t.apply(cartAdd('c2', 'A', 2), 'short-1');
    expect(short.status).toBe('applied');
    if (short.status !== 'applied') return;
    expect(short.payload.outcome).toEqual({
      result: 'rejected',
      reason: 'insufficient-stock',
      short: [{ sku: 'A', locationId: D, requested: 2, available: 1 }],
      referenceType: 'cart',
      referenceId: 'c2',
    });
    expect(short.payload.movements).toEqual([]);
    expect(short.payload.holds).toEqual([]);
    const after = await dumpPrefix(redis, prefix);
    // only the marker and the outbox entry of the refusal were added
    expect(Object.keys(after).filter((k) => !(k in before))).toEqual([
      t.k.marker('/test', 'short-1'),
    ]);
    expect(after[t.k.stock('A\x1fdefault')]).toEqual(before[t.k.stock('A\x1fdefault')]);
    expect(await redis.exists(t.k.cart('c2'))).toBe(0);
  });

  it('cart.removed releases part or all of a SKU, over its locations in sorted order', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    await t.ok(receive('B', 10));
    await t.ok(receive('A', 10, 'south'));
    await t.ok(receive('A', 10, 'north'));
    await t.ok(cartAdd('c1', 'A', 3));
    await t.ok(cartAdd('c1', 'B', 2));
    const part = await t.ok({
      op: 'releaseCart',
      mode: 'remove',
      cartId: 'c1',
      sku: 'A',
      quantity: 1,
    });
    expect(part.payload.movements).toEqual([mv('A', D, 'released', [0, -1], 'cart', 'c1')]);
    const all = await t.ok({ op: 'releaseCart', mode: 'remove', cartId: 'c1', sku: 'A' });
    expect(all.payload.movements).toEqual([mv('A', D, 'released', [0, -2], 'cart', 'c1')]);
    expect(await t.fig('A')).toEqual(fig(10, 0));
    expect(await t.fig('B')).toEqual(fig(10, 2));
    const none = await t.ok({ op: 'releaseCart', mode: 'remove', cartId: 'c1', sku: 'A' });
    expect(none.payload.outcome).toEqual({ result: 'ignored', reason: 'nothing-held' });
    const last = await t.ok({
      op: 'releaseCart',
      mode: 'remove',
      cartId: 'c1',
      sku: 'B',
      quantity: 5,
    });
    expect(last.payload.movements).toEqual([mv('B', D, 'released', [0, -2], 'cart', 'c1')]);
    expect(last.payload.holds).toMatchObject([
      { kind: 'cart', id: 'c1', state: 'released', lines: [] },
    ]);
    expect(await redis.exists(t.k.cart('c1'))).toBe(0);
    const gone = await t.ok({ op: 'releaseCart', mode: 'remove', cartId: 'c1', sku: 'B' });
    expect(gone.payload.outcome).toEqual({ result: 'ignored', reason: 'no-cart-hold' });

    await t.ok(cartAdd('c2', 'A', 3, 'south'));
    await t.ok(cartAdd('c2', 'A', 2, 'north'));
    const spread = await t.ok({
      op: 'releaseCart',
      mode: 'remove',
      cartId: 'c2',
      sku: 'A',
      quantity: 4,
    });
    expect(spread.payload.movements).toEqual([
      mv('A', 'north', 'released', [0, -2], 'cart', 'c2'),
      mv('A', 'south', 'released', [0, -2], 'cart', 'c2'),
    ]);
    expect(await t.fig('A', 'south')).toEqual(fig(10, 1));
  });

  it('cart.cleared releases the whole hold', async () => {
    const t = tenant();
    await t.ok(receive('B', 10));
    await t.ok(receive('A', 10));
    await t.ok(cartAdd('c1', 'B', 2));
    await t.ok(cartAdd('c1', 'A', 3));
    const r = await t.ok({ op: 'releaseCart', mode: 'clear', cartId: 'c1' });
    expect(r.payload.movements).toEqual([
      mv('A', D, 'released', [0, -3], 'cart', 'c1'),
      mv('B', D, 'released', [0, -2], 'cart', 'c1'),
    ]);
    expect(r.payload.holds).toEqual([
      { kind: 'cart', id: 'c1', state: 'released', lines: [], expiresAt: NOW + TTL, version: 3 },
    ]);
    expect(await t.fig('A')).toEqual(fig(10));
    expect(await t.fig('B')).toEqual(fig(10));
    expect(await redis.exists(t.k.cart('c1'))).toBe(0);
    const again = await t.ok({ op: 'releaseCart', mode: 'clear', cartId: 'c1' });
    expect(again.payload.outcome).toEqual({ result: 'ignored', reason: 'no-cart-hold' });
  });

  it('cart expiry releases only when the expiry it was scheduled for is still the cart’s', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    clock = NOW;
    await t.ok(cartAdd('c1', 'A', 2));
    clock = NOW + 5000;
    await t.ok(cartAdd('c1', 'A', 1));
    clock = NOW;
    const before = await t.fig('A');
    const stale = await t.ok({
      op: 'releaseCart',
      mode: 'expire',
      cartId: 'c1',
      expiresAt: NOW + TTL,
    });
    expect(stale.payload.outcome).toEqual({ result: 'ignored', reason: 'cart-refreshed' });
    expect(stale.payload.movements).toEqual([]);
    expect(await t.fig('A')).toEqual(before);
    const due = await t.ok({
      op: 'releaseCart',
      mode: 'expire',
      cartId: 'c1',
      expiresAt: NOW + 5000 + TTL,
    });
    expect(due.payload.movements).toEqual([mv('A', D, 'expired', [0, -3], 'cart', 'c1')]);
    expect(due.payload.holds).toMatchObject([
      { kind: 'cart', id: 'c1', state: 'expired', lines: [] },
    ]);
    expect(await t.fig('A')).toEqual(fig(10));
    expect(await redis.exists(t.k.cart('c1'))).toBe(0);
  });
});

describe('orders', () => {
  it('order.placed takes the cart hold, reserves what it lacked, releases the rest', async () => {
    const t = tenant();
    for (const s of ['A', 'B', 'C']) await t.ok(receive(s, 10));
    await t.ok(cartAdd('c1', 'A', 3));
    await t.ok(cartAdd('c1', 'B', 2));
    const r = await t.ok({
      op: 'placeOrder',
      orderId: 'o1',
      cartId: 'c1',
      lines: [line('C', 1), line('A', 2)],
    });
    expect(r.payload.outcome).toEqual({ result: 'applied' });
    expect(r.payload.movements).toEqual([
      mv('C', D, 'reserved', [0, 1], 'order', 'o1'),
      mv('A', D, 'released', [0, -1], 'cart', 'c1', 'not-ordered'),
      mv('B', D, 'released', [0, -2], 'cart', 'c1', 'not-ordered'),
    ]);
    expect(r.payload.holds).toEqual([
      { kind: 'cart', id: 'c1', state: 'converted', lines: [], link: 'o1', version: 3 },
      {
        kind: 'order',
        id: 'o1',
        state: 'placed',
        link: 'c1',
        version: 1,
        lines: [
          { sku: 'A', locationId: D, held: 2, ordered: 2, shipped: 0 },
          { sku: 'C', locationId: D, held: 1, ordered: 1, shipped: 0 },
        ],
      },
    ]);
    expect(await t.fig('A')).toEqual(fig(10, 2));
    expect(await t.fig('B')).toEqual(fig(10, 0));
    expect(await t.fig('C')).toEqual(fig(10, 1));

    // the cart had less than the order: the difference is reserved now
    await t.ok(cartAdd('c2', 'A', 2));
    const more = await t.ok({
      op: 'placeOrder',
      orderId: 'o2',
      cartId: 'c2',
      lines: [line('A', 5)],
    });
    expect(more.payload.movements).toEqual([mv('A', D, 'reserved', [0, 3], 'order', 'o2')]);
    expect(await t.fig('A')).toEqual(fig(10, 7));

    // a cart that became an order takes no more adds
    const late = await t.ok(cartAdd('c1', 'A', 1));
    expect(late.payload.outcome).toEqual({ result: 'ignored', reason: 'cart-converted' });
    expect(late.payload.movements).toEqual([]);
    const twice = await t.ok({ op: 'placeOrder', orderId: 'o1', lines: [line('A', 1)] });
    expect(twice.payload.outcome).toEqual({ result: 'ignored', reason: 'order-exists' });
    expect(await t.fig('A')).toEqual(fig(10, 7));
  });

  it('order.placed is all-or-nothing and lists every short line', async () => {
    const t = tenant();
    for (const s of ['A', 'B', 'C']) await t.ok(receive(s, 10));
    await t.ok(cartAdd('x', 'A', 7)); // A available 3
    await t.ok(cartAdd('x', 'C', 1)); // C available 9
    const before = await dumpPrefix(redis, prefix);
    const r = await t.ok({
      op: 'placeOrder',
      orderId: 'o1',
      lines: [line('C', 20), line('B', 1), line('A', 4)],
    });
    expect(r.payload.outcome).toEqual({
      result: 'rejected',
      reason: 'insufficient-stock',
      short: [
        { sku: 'A', locationId: D, requested: 4, available: 3 },
        { sku: 'C', locationId: D, requested: 20, available: 9 },
      ],
      referenceType: 'order',
      referenceId: 'o1',
    });
    expect(r.payload.movements).toEqual([]);
    expect(r.payload.holds).toEqual([]);

    // with a cart: what the cart holds counts towards the line
    await t.ok(cartAdd('c3', 'A', 2)); // A available 1
    const r2 = await t.ok({
      op: 'placeOrder',
      orderId: 'o2',
      cartId: 'c3',
      lines: [line('A', 4), line('B', 2)],
    });
    expect(r2.payload.outcome.short).toEqual([
      { sku: 'A', locationId: D, requested: 4, available: 3 },
    ]);
    const after = await dumpPrefix(redis, prefix);
    expect(await t.fig('B')).toEqual(fig(10, 0));
    expect(await t.fig('A')).toEqual(fig(10, 9));
    expect(after[t.k.order('o1')]).toBeUndefined();
    expect(after[t.k.order('o2')]).toBeUndefined();
    expect(after[t.k.cart('c3')]).toMatchObject({ st: 'open', 'h:A\x1fdefault': '2' });
    expect(before[t.k.stock('B\x1fdefault')]).toEqual(after[t.k.stock('B\x1fdefault')]);
  });

  it('payment.succeeded commits the first time only', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    await t.ok(receive('B', 10));
    await t.ok({ op: 'placeOrder', orderId: 'o1', lines: [line('B', 1), line('A', 2)] });
    const p1 = await t.ok({ op: 'commitOrder', orderId: 'o1', paymentId: 'p1' });
    expect(p1.payload.movements).toEqual([
      mv('A', D, 'committed', [0, 0, 2], 'order', 'o1'),
      mv('B', D, 'committed', [0, 0, 1], 'order', 'o1'),
    ]);
    expect(p1.payload.holds).toMatchObject([
      { kind: 'order', id: 'o1', state: 'paid', paid: true, paymentId: 'p1' },
    ]);
    expect(await t.fig('A')).toEqual(fig(10, 2, 2));
    const p2 = await t.ok({ op: 'commitOrder', orderId: 'o1', paymentId: 'p2' });
    expect(p2.payload.outcome).toEqual({ result: 'ignored', reason: 'already-committed' });
    expect(p2.payload.movements).toEqual([]);
    expect(p2.payload.holds).toEqual([]);
    expect(await t.fig('A')).toEqual(fig(10, 2, 2));
    expect(await redis.hget(t.k.order('o1'), 'pay')).toBe('p1');
  });

  it('payment.succeeded before order.placed: reserves from its lines, or waits for the order', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    await t.ok(receive('B', 10));
    const withLines = await t.ok({
      op: 'commitOrder',
      orderId: 'o1',
      paymentId: 'p1',
      lines: [line('A', 1)],
    });
    expect(withLines.payload.movements).toEqual([
      mv('A', D, 'reserved', [0, 1], 'order', 'o1'),
      mv('A', D, 'committed', [0, 0, 1], 'order', 'o1'),
    ]);
    const placed = await t.ok({ op: 'placeOrder', orderId: 'o1', lines: [line('A', 1)] });
    expect(placed.payload.outcome).toEqual({ result: 'ignored', reason: 'order-exists' });
    expect(await t.fig('A')).toEqual(fig(10, 1, 1));

    const noLines = await t.ok({ op: 'commitOrder', orderId: 'o2', paymentId: 'p2' });
    expect(noLines.payload.outcome).toEqual({ result: 'applied', reason: 'awaiting-order' });
    expect(noLines.payload.movements).toEqual([]);
    expect(noLines.payload.holds).toMatchObject([
      { kind: 'order', id: 'o2', state: 'prepaid', paid: true, lines: [] },
    ]);
    const later = await t.ok({ op: 'placeOrder', orderId: 'o2', lines: [line('B', 2)] });
    expect(later.payload.movements).toEqual([
      mv('B', D, 'reserved', [0, 2], 'order', 'o2'),
      mv('B', D, 'committed', [0, 0, 2], 'order', 'o2'),
    ]);
    expect(later.payload.holds).toMatchObject([
      { kind: 'order', id: 'o2', state: 'paid', paid: true, paymentId: 'p2' },
    ]);
    expect(await t.fig('B')).toEqual(fig(10, 2, 2));
  });

  it('payment.failed releases an unpaid order, is ignored once paid', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    await t.ok({ op: 'placeOrder', orderId: 'o1', lines: [line('A', 3)] });
    const f = await t.ok({ op: 'releaseOrder', mode: 'payfail', orderId: 'o1', paymentId: 'p1' });
    expect(f.payload.movements).toEqual([
      mv('A', D, 'released', [0, -3], 'order', 'o1', 'payment-failed'),
    ]);
    expect(f.payload.holds).toMatchObject([{ kind: 'order', id: 'o1', state: 'released' }]);
    expect(await t.fig('A')).toEqual(fig(10));
    const again = await t.ok({
      op: 'releaseOrder',
      mode: 'payfail',
      orderId: 'o1',
      paymentId: 'p2',
    });
    expect(again.payload.outcome).toEqual({ result: 'ignored', reason: 'nothing-held' });

    await t.ok({ op: 'placeOrder', orderId: 'o2', lines: [line('A', 2)] });
    await t.ok({ op: 'commitOrder', orderId: 'o2', paymentId: 'p3' });
    const late = await t.ok({
      op: 'releaseOrder',
      mode: 'payfail',
      orderId: 'o2',
      paymentId: 'p4',
    });
    expect(late.payload.outcome).toEqual({ result: 'ignored', reason: 'already-committed' });
    expect(late.payload.movements).toEqual([]);
    expect(await t.fig('A')).toEqual(fig(10, 2, 2));
  });

  it('payment.failed before order.placed: the late order (and its cart) is released', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    const f = await t.ok({ op: 'releaseOrder', mode: 'payfail', orderId: 'o1', paymentId: 'p1' });
    expect(f.payload.outcome).toEqual({ result: 'applied', reason: 'awaiting-order' });
    expect(f.payload.holds).toMatchObject([{ kind: 'order', id: 'o1', state: 'payfailed' }]);
    const o = await t.ok({ op: 'placeOrder', orderId: 'o1', lines: [line('A', 2)] });
    expect(o.payload.movements).toEqual([
      mv('A', D, 'reserved', [0, 2], 'order', 'o1'),
      mv('A', D, 'released', [0, -2], 'order', 'o1', 'payment-failed'),
    ]);
    expect(o.payload.holds).toMatchObject([{ kind: 'order', id: 'o1', state: 'released' }]);
    expect(await t.fig('A')).toEqual(fig(10));

    await t.ok(cartAdd('c2', 'A', 3));
    await t.ok({ op: 'releaseOrder', mode: 'payfail', orderId: 'o2', paymentId: 'p2' });
    const withCart = await t.ok({
      op: 'placeOrder',
      orderId: 'o2',
      cartId: 'c2',
      lines: [line('A', 2)],
    });
    expect(withCart.payload.movements).toEqual([
      mv('A', D, 'released', [0, -1], 'cart', 'c2', 'not-ordered'),
      mv('A', D, 'released', [0, -2], 'order', 'o2', 'payment-failed'),
    ]);
    expect(await t.fig('A')).toEqual(fig(10));
  });

  it('order.placed after its payment, cancellation or shipment still ends the cart hold', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    await t.ok(cartAdd('c1', 'A', 3));
    await t.ok({ op: 'commitOrder', orderId: 'o1', paymentId: 'p1', lines: [line('A', 2)] });
    expect(await t.fig('A')).toEqual(fig(10, 5, 2));
    const paidFirst = await t.ok({
      op: 'placeOrder',
      orderId: 'o1',
      cartId: 'c1',
      lines: [line('A', 2)],
    });
    expect(paidFirst.payload.outcome).toEqual({ result: 'applied', reason: 'order-exists' });
    expect(paidFirst.payload.movements).toEqual([
      mv('A', D, 'released', [0, -3], 'cart', 'c1', 'order-exists'),
    ]);
    expect(paidFirst.payload.holds).toEqual([
      { kind: 'cart', id: 'c1', state: 'converted', lines: [], link: 'o1', version: 2 },
    ]);
    // the same figures as placed-then-paid would have left
    expect(await t.fig('A')).toEqual(fig(10, 2, 2));
    const late = await t.ok(cartAdd('c1', 'A', 1));
    expect(late.payload.outcome).toEqual({ result: 'ignored', reason: 'cart-converted' });

    await t.ok(cartAdd('c2', 'A', 1));
    await t.ok({ op: 'releaseOrder', mode: 'cancel', orderId: 'o2' });
    const cancelledFirst = await t.ok({
      op: 'placeOrder',
      orderId: 'o2',
      cartId: 'c2',
      lines: [line('A', 1)],
    });
    expect(cancelledFirst.payload.outcome).toEqual({
      result: 'applied',
      reason: 'order-cancelled',
    });
    expect(cancelledFirst.payload.movements).toEqual([
      mv('A', D, 'released', [0, -1], 'cart', 'c2', 'order-cancelled'),
    ]);
    expect(await t.fig('A')).toEqual(fig(10, 2, 2));

    await t.ok(cartAdd('c3', 'A', 2));
    await t.ok({ op: 'fulfilShipment', shipmentId: 's3', orderId: 'o3', lines: [line('A', 2)] });
    const shippedFirst = await t.ok({
      op: 'placeOrder',
      orderId: 'o3',
      cartId: 'c3',
      lines: [line('A', 2)],
    });
    expect(shippedFirst.payload.movements).toEqual([
      mv('A', D, 'released', [0, -2], 'cart', 'c3', 'order-exists'),
    ]);
    expect(await t.fig('A')).toEqual(fig(8, 2, 2));
  });

  it('payment.succeeded after payment.failed and a partial shipment holds only what is left to ship', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    await t.ok({ op: 'placeOrder', orderId: 'o1', lines: [line('A', 3)] });
    await t.ok({ op: 'fulfilShipment', shipmentId: 's1', orderId: 'o1', lines: [line('A', 1)] });
    await t.ok({ op: 'releaseOrder', mode: 'payfail', orderId: 'o1', paymentId: 'p1' });
    expect(await t.fig('A')).toEqual(fig(9));
    const paid = await t.ok({ op: 'commitOrder', orderId: 'o1', paymentId: 'p2' });
    expect(paid.payload.movements).toEqual([
      mv('A', D, 'reserved', [0, 2], 'order', 'o1'),
      mv('A', D, 'committed', [0, 0, 2], 'order', 'o1'),
    ]);
    expect(paid.payload.holds).toMatchObject([
      {
        kind: 'order',
        id: 'o1',
        state: 'paid',
        lines: [{ sku: 'A', locationId: D, held: 2, ordered: 3, shipped: 1 }],
      },
    ]);
    const rest = await t.ok({
      op: 'fulfilShipment',
      shipmentId: 's2',
      orderId: 'o1',
      lines: [line('A', 2)],
    });
    expect(rest.payload.holds).toMatchObject([{ kind: 'order', id: 'o1', state: 'fulfilled' }]);
    expect(await t.fig('A')).toEqual(fig(7));

    // everything shipped while released: the payment is only recorded
    await t.ok({ op: 'placeOrder', orderId: 'o2', lines: [line('A', 2)] });
    await t.ok({ op: 'releaseOrder', mode: 'payfail', orderId: 'o2', paymentId: 'p3' });
    await t.ok({ op: 'fulfilShipment', shipmentId: 's3', orderId: 'o2', lines: [line('A', 2)] });
    const recorded = await t.ok({ op: 'commitOrder', orderId: 'o2', paymentId: 'p4' });
    expect(recorded.payload.outcome).toEqual({ result: 'applied' });
    expect(recorded.payload.movements).toEqual([]);
    expect(recorded.payload.holds).toMatchObject([
      { kind: 'order', id: 'o2', state: 'fulfilled', paid: true },
    ]);
    expect(await t.fig('A')).toEqual(fig(5));
  });

  it('order.cancelled after a partial shipment releases only the rest', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    await t.ok({ op: 'placeOrder', orderId: 'o1', lines: [line('A', 5)] });
    await t.ok({ op: 'commitOrder', orderId: 'o1', paymentId: 'p1' });
    const s = await t.ok({
      op: 'fulfilShipment',
      shipmentId: 's1',
      orderId: 'o1',
      lines: [line('A', 2)],
    });
    expect(s.payload.movements).toEqual([mv('A', D, 'shipped', [-2, -2, -2], 'order', 'o1')]);
    expect(await t.fig('A')).toEqual(fig(8, 3, 3));
    const c = await t.ok({ op: 'releaseOrder', mode: 'cancel', orderId: 'o1', reason: 'customer' });
    expect(c.payload.movements).toEqual([
      mv('A', D, 'released', [0, -3, -3], 'order', 'o1', 'customer'),
    ]);
    expect(c.payload.holds).toMatchObject([
      {
        kind: 'order',
        id: 'o1',
        state: 'cancelled',
        lines: [{ sku: 'A', locationId: D, held: 0, ordered: 5, shipped: 2 }],
      },
    ]);
    expect(await t.fig('A')).toEqual(fig(8));
    const again = await t.ok({ op: 'releaseOrder', mode: 'cancel', orderId: 'o1' });
    expect(again.payload.outcome).toEqual({ result: 'ignored', reason: 'order-cancelled' });

    // cancelled before it was placed: the late order.placed holds nothing
    const early = await t.ok({ op: 'releaseOrder', mode: 'cancel', orderId: 'o2' });
    expect(early.payload.holds).toMatchObject([{ kind: 'order', id: 'o2', state: 'cancelled' }]);
    const late = await t.ok({ op: 'placeOrder', orderId: 'o2', lines: [line('A', 1)] });
    expect(late.payload.outcome).toEqual({ result: 'ignored', reason: 'order-cancelled' });
    expect(await t.fig('A')).toEqual(fig(8));
  });
});

describe('shipments, returns, transfers', () => {
  it('shipment.created ships partially, then fulfils the order', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    await t.ok(receive('B', 10));
    await t.ok({ op: 'placeOrder', orderId: 'o1', lines: [line('A', 3), line('B', 2)] });
    const s1 = await t.ok({
      op: 'fulfilShipment',
      shipmentId: 's1',
      orderId: 'o1',
      lines: [line('A', 1)],
    });
    expect(s1.payload.movements).toEqual([mv('A', D, 'shipped', [-1, -1], 'order', 'o1')]);
    expect(s1.payload.holds).toMatchObject([{ kind: 'order', id: 'o1', state: 'placed' }]);
    const s2 = await t.ok({
      op: 'fulfilShipment',
      shipmentId: 's2',
      orderId: 'o1',
      lines: [line('B', 2), line('A', 2)],
    });
    expect(s2.payload.movements).toEqual([
      mv('A', D, 'shipped', [-2, -2], 'order', 'o1'),
      mv('B', D, 'shipped', [-2, -2], 'order', 'o1'),
    ]);
    expect(s2.payload.holds).toMatchObject([{ kind: 'order', id: 'o1', state: 'fulfilled' }]);
    expect(await t.fig('A')).toEqual(fig(7));
    expect(await t.fig('B')).toEqual(fig(8));

    // beyond the hold: the extra unit leaves on-hand only
    await t.ok({ op: 'placeOrder', orderId: 'o2', lines: [line('A', 2)] });
    const over = await t.ok({
      op: 'fulfilShipment',
      shipmentId: 's3',
      orderId: 'o2',
      lines: [line('A', 3)],
    });
    expect(over.payload.movements).toEqual([mv('A', D, 'shipped', [-3, -2], 'order', 'o2')]);
    expect(await t.fig('A')).toEqual(fig(4));
  });

  it('a shipment for an unknown order takes on-hand only and announces the shortage', async () => {
    const t = tenant();
    await t.ok(receive('A', 5));
    await t.ok(cartAdd('c1', 'A', 4)); // available 1
    const s = await t.ok({
      op: 'fulfilShipment',
      shipmentId: 's1',
      orderId: 'nobody',
      lines: [line('A', 3)],
    });
    expect(s.payload.outcome).toEqual({
      result: 'applied',
      shortage: [{ sku: 'A', locationId: D, available: -2 }],
      availability: [
        { sku: 'A', locationId: D, available: -2, inStock: false },
        { sku: 'A', available: 0, inStock: false }, // its only location: the total too
      ],
    });
    expect(s.payload.movements).toEqual([mv('A', D, 'shipped', [-3, 0, 0], 'order', 'nobody')]);
    expect(s.payload.holds).toMatchObject([
      {
        kind: 'order',
        id: 'nobody',
        state: 'fulfilled',
        lines: [{ sku: 'A', locationId: D, held: 0, ordered: 0, shipped: 3 }],
      },
    ]);
    expect(await t.fig('A')).toEqual(fig(2, 4));
    // order.placed arriving after its shipment holds nothing
    const late = await t.ok({ op: 'placeOrder', orderId: 'nobody', lines: [line('A', 1)] });
    expect(late.payload.outcome).toEqual({ result: 'ignored', reason: 'order-exists' });
    expect(await t.fig('A')).toEqual(fig(2, 4));
  });

  it('rma.passed restocks or quarantines, line by line as given', async () => {
    const t = tenant();
    const r = await t.ok({
      op: 'returnStock',
      rmaId: 'r1',
      lines: [
        { ...line('B', 2), disposition: 'restock' },
        { ...line('A', 1), disposition: 'quarantine' },
      ],
    });
    expect(r.payload.movements).toEqual([
      mv('B', D, 'returned', [2], 'rma', 'r1', 'restock'),
      mv('A', D, 'returned', [1, 0, 0, 1], 'rma', 'r1', 'quarantine'),
    ]);
    expect(await t.fig('A')).toEqual(fig(1, 0, 0, 1));
    expect(await t.fig('B')).toEqual(fig(2));
  });

  it('transfer.shipped moves available stock into transit; transfer.received lands it', async () => {
    const t = tenant();
    await t.ok(receive('A', 10, 'north'));
    await t.ok(receive('B', 5, 'north'));
    await t.ok(cartAdd('c1', 'A', 8, 'north'));
    const tooMuch = await t.ok({
      op: 'shipTransfer',
      transferId: 't1',
      fromLocationId: 'north',
      toLocationId: 'south',
      lines: [{ sku: 'A', quantity: 3 }],
    });
    expect(tooMuch.payload.outcome).toEqual({
      result: 'rejected',
      reason: 'insufficient-stock',
      short: [{ sku: 'A', locationId: 'north', requested: 3, available: 2 }],
      referenceType: 'transfer',
      referenceId: 't1',
    });
    const ship = await t.ok({
      op: 'shipTransfer',
      transferId: 't1',
      fromLocationId: 'north',
      toLocationId: 'south',
      lines: [
        { sku: 'B', quantity: 2 },
        { sku: 'A', quantity: 2 },
        { sku: 'B', quantity: 1 },
      ],
    });
    expect(ship.payload.movements).toEqual([
      mv('A', 'north', 'transfer_out', [-2], 'transfer', 't1'),
      mv('A', 'south', 'transfer_in_transit', [0, 0, 0, 0, 2], 'transfer', 't1'),
      mv('B', 'north', 'transfer_out', [-3], 'transfer', 't1'),
      mv('B', 'south', 'transfer_in_transit', [0, 0, 0, 0, 3], 'transfer', 't1'),
    ]);
    expect(ship.payload.holds).toMatchObject([
      {
        kind: 'transfer',
        id: 't1',
        state: 'shipped',
        fromLocationId: 'north',
        toLocationId: 'south',
      },
    ]);
    expect(await t.fig('A', 'north')).toEqual(fig(8, 8));
    expect(await t.fig('A', 'south')).toEqual(fig(0, 0, 0, 0, 2));
    const again = await t.ok({
      op: 'shipTransfer',
      transferId: 't1',
      fromLocationId: 'north',
      toLocationId: 'south',
      lines: [{ sku: 'B', quantity: 1 }],
    });
    expect(again.payload.outcome).toEqual({ result: 'ignored', reason: 'transfer-exists' });

    const rcv = await t.ok({ op: 'receiveTransfer', transferId: 't1' });
    expect(rcv.payload.movements).toEqual([
      mv('A', 'south', 'transfer_received', [2, 0, 0, 0, -2], 'transfer', 't1'),
      mv('B', 'south', 'transfer_received', [3, 0, 0, 0, -3], 'transfer', 't1'),
    ]);
    expect(await t.fig('A', 'south')).toEqual(fig(2));
    expect(await t.fig('B', 'south')).toEqual(fig(3));
    expect(await t.fig('B', 'north')).toEqual(fig(2));
    const twice = await t.ok({ op: 'receiveTransfer', transferId: 't1' });
    expect(twice.payload.outcome).toEqual({ result: 'ignored', reason: 'transfer-received' });
  });

  it('transfer.received before transfer.shipped is not-yet and changes nothing', async () => {
    const t = tenant();
    await t.ok(receive('A', 5, 'north'));
    const before = await dumpPrefix(redis, prefix);
    const early = await t.apply({ op: 'receiveTransfer', transferId: 't9' }, 'rcv-t9');
    expect(early).toEqual({ status: 'not-yet', reason: 'transfer-not-shipped' });
    expect(await dumpPrefix(redis, prefix)).toEqual(before);
    await t.ok({
      op: 'shipTransfer',
      transferId: 't9',
      fromLocationId: 'north',
      toLocationId: 'south',
      lines: [{ sku: 'A', quantity: 5 }],
    });
    // the same event, retried, now applies (no marker was written the first time)
    const retried = await t.ok({ op: 'receiveTransfer', transferId: 't9' }, 'rcv-t9');
    expect(retried.payload.movements).toEqual([
      mv('A', 'south', 'transfer_received', [5, 0, 0, 0, -5], 'transfer', 't9'),
    ]);
  });
});

describe('idempotency', () => {
  it('the same (source, id) applies once, even with different data', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    const first = await t.ok(cartAdd('c1', 'A', 2), 'dup-1');
    const before = await dumpPrefix(redis, prefix);
    const dup = await t.apply(cartAdd('c2', 'A', 5), 'dup-1');
    expect(dup).toEqual({ status: 'duplicate', entryId: first.entryId, pending: first.payload });
    const dup2 = await t.apply(
      { op: 'receiveStock', sku: 'Z', locationId: D, quantity: 1 },
      'dup-1',
    );
    expect(dup2.status).toBe('duplicate');
    expect(await dumpPrefix(redis, prefix)).toEqual(before);
    expect(await t.fig('A')).toEqual(fig(10, 2));

    // another source, or another tenant, is another event
    const other = await engine.apply(
      { tenant: t.name, source: '/other', id: 'dup-1', type: 'cart.added', occurredAt: 'x' },
      cartAdd('c1', 'A', 1),
    );
    expect(other.status).toBe('applied');
    const u = tenant();
    await u.ok(receive('A', 1), 'dup-1');
    expect(await t.fig('A')).toEqual(fig(10, 3));
    expect(await u.fig('A')).toEqual(fig(1));
  });
});
