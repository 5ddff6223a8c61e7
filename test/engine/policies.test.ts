/**
 * Selling ahead of stock: backorder and pre-order policies on the Lua engine, against real
 * Redis. Limits hold under 1,000 concurrent holds; stock that arrives fills the waiting holds
 * first, oldest first; every waiting unit is explained by the movements.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { pairOf, TenantKeys } from '../../src/engine/keys.js';
import type { ApplyResult, Engine } from '../../src/engine/engine.js';
import type { Command, Movement } from '../../src/domain/types.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { compareEntryIds, eventMaker, mustApply, testEngine } from '../support/engine-harness.js';

const NOW = 1_800_000_000_000;
const TTL = 60 * 60 * 1000;
const D = 'default';
const CONNECTIONS = 8;

let clients: Redis[] = [];
let engines: Engine[] = [];
let redis: Redis;
let clock = NOW;
const prefix = uniqueName('policies');

beforeAll(() => {
  clients = Array.from({ length: CONNECTIONS }, () => testRedis());
  engines = clients.map((r) => testEngine(r, prefix, () => clock));
  redis = clients[0]!;
});

afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await Promise.all(clients.map((c) => c.quit()));
});

let tenants = 0;
function tenant() {
  const name = `p${++tenants}`;
  const ev = eventMaker(name);
  const k = new TenantKeys(prefix, name);
  const engine = engines[0]!;
  return {
    k,
    apply: (c: Command, id?: string, i = 0) => engines[i % CONNECTIONS]!.apply(ev(c.op, id), c),
    ok: (c: Command) => mustApply(engine, ev(c.op), c),
    /** The stock hash's figures, absent fields as 0. */
    fig: async (sku: string, loc = D) => {
      const h = await redis.hgetall(k.stock(pairOf(sku, loc)));
      const n = (f: string) => Number(h[f] ?? 0);
      return {
        onHand: n('onHand'),
        reserved: n('reserved'),
        committed: n('committed'),
        backordered: n('backordered'),
        preordered: n('preordered'),
        available: n('onHand') - n('reserved') - n('unavailable'),
      };
    },
    /** A hold's line fields: h (held), b (backordered), p (preordered). */
    line: async (kind: 'cart' | 'order', id: string, sku: string, loc = D) => {
      const h = await redis.hgetall(kind === 'cart' ? k.cart(id) : k.order(id));
      const p = pairOf(sku, loc);
      return {
        held: Number(h[`h:${p}`] ?? 0),
        backordered: Number(h[`b:${p}`] ?? 0),
        preordered: Number(h[`p:${p}`] ?? 0),
      };
    },
    queue: (sku: string, loc = D) => redis.zrange(`${k.base}wait:${pairOf(sku, loc)}`, 0, -1),
  };
}

const receive = (sku: string, quantity: number): Command => ({
  op: 'receiveStock',
  sku,
  locationId: D,
  quantity,
});
const add = (cartId: string, sku: string, quantity: number): Command => ({
  op: 'reserveCart',
  cartId,
  sku,
  locationId: D,
  quantity,
  ttlMs: TTL,
});
const policy = (
  sku: string,
  p: 'deny' | 'backorder' | 'preorder',
  limit: number,
  until?: number | null,
): Command => ({
  op: 'configureStock',
  sku,
  locationId: D,
  policy: p,
  policyLimit: limit,
  ...(until !== undefined ? { preorderUntil: until } : {}),
});

const resultOf = (r: ApplyResult) =>
  r.status === 'applied'
    ? `${r.payload.outcome.result}:${r.payload.outcome.reason ?? ''}`
    : r.status;

/** Sum of every movement's delta of one figure. */
const sum = (ms: Movement[], f: 'reserved' | 'backordered' | 'preordered' | 'onHand') =>
  ms.reduce((s, m) => s + (m[f] ?? 0), 0);

describe('backorders', () => {
  it('sells below on hand up to the limit, then refuses; the hold says what waits', async () => {
    const t = tenant();
    await t.ok(receive('A', 2));
    await t.ok(policy('A', 'backorder', 3));
    const r1 = await t.ok(add('c1', 'A', 4));
    // the last units on hand went: out of stock, though the policy still lets units wait
    expect(r1.payload.outcome).toEqual({
      result: 'applied',
      availability: [
        { sku: 'A', locationId: D, available: 0, inStock: false },
        { sku: 'A', available: 0, inStock: false }, // its only location: the total too
      ],
    });
    expect(r1.payload.movements.map((m) => [m.kind, m.reserved, m.backordered])).toEqual([
      ['reserved', 2, undefined],
      ['backordered', 0, 2],
    ]);
    expect(r1.payload.holds[0]!.lines).toEqual([
      { sku: 'A', locationId: D, held: 2, backordered: 2 },
    ]);
    expect(await t.fig('A')).toMatchObject({ reserved: 2, backordered: 2, available: 0 });

    // 1 more may wait, not 2
    const r2 = await t.ok(add('c2', 'A', 2));
    expect(r2.payload.outcome).toMatchObject({
      result: 'rejected',
      reason: 'insufficient-stock',
      short: [{ sku: 'A', locationId: D, requested: 2, available: 1 }],
    });
    await t.ok(add('c2', 'A', 1));
    expect((await t.ok(add('c3', 'A', 1))).payload.outcome.result).toBe('rejected');
    expect(await t.fig('A')).toMatchObject({ onHand: 2, reserved: 2, backordered: 3 });
    expect(await t.queue('A')).toEqual(['cart:c1', 'cart:c2']);
  });

  it('a deny SKU never sells below available (the default)', async () => {
    const t = tenant();
    await t.ok(receive('A', 1));
    expect((await t.ok(add('c1', 'A', 2))).payload.outcome.result).toBe('rejected');
    await t.ok(policy('A', 'backorder', 5));
    await t.ok(policy('A', 'deny', 5));
    expect((await t.ok(add('c1', 'A', 2))).payload.outcome.result).toBe('rejected');
    expect(await t.fig('A')).toMatchObject({ reserved: 0, backordered: 0 });
  });

  it('arriving stock fills the waiting holds first, oldest first, each a movement and a fill', async () => {
    const t = tenant();
    await t.ok(policy('A', 'backorder', 10));
    await t.ok(add('c1', 'A', 3));
    await t.ok(add('c2', 'A', 2));
    await t.ok(add('c3', 'A', 1));
    const r = await t.ok(receive('A', 4));
    expect(r.payload.outcome.filled).toEqual([
      {
        referenceType: 'cart',
        referenceId: 'c1',
        sku: 'A',
        locationId: D,
        quantity: 3,
        backordered: 3,
        preordered: 0,
      },
      {
        referenceType: 'cart',
        referenceId: 'c2',
        sku: 'A',
        locationId: D,
        quantity: 1,
        backordered: 1,
        preordered: 0,
      },
    ]);
    expect(
      r.payload.movements.map((m) => [m.kind, m.referenceId, m.reserved, m.backordered]),
    ).toEqual([
      ['received', expect.any(String), 0, undefined],
      ['filled', 'c1', 3, -3],
      ['filled', 'c2', 1, -1],
    ]);
    expect(await t.line('cart', 'c2', 'A')).toEqual({ held: 1, backordered: 1, preordered: 0 });
    expect(await t.queue('A')).toEqual(['cart:c2', 'cart:c3']);
    expect(await t.fig('A')).toMatchObject({
      onHand: 4,
      reserved: 4,
      backordered: 2,
      available: 0,
    });
    // a new cart cannot jump the queue: what arrives next goes to c2 and c3 first
    await t.ok(receive('A', 3));
    expect(await t.fig('A')).toMatchObject({
      onHand: 7,
      reserved: 6,
      backordered: 0,
      available: 1,
    });
    expect(await t.queue('A')).toEqual([]);
  });

  it('an order takes over its cart’s waiting units and place; paid fills are committed', async () => {
    const t = tenant();
    await t.ok(receive('A', 1));
    await t.ok(policy('A', 'backorder', 10));
    await t.ok(add('c0', 'A', 1)); // takes the unit on hand
    await t.ok(add('c0', 'A', 1)); // waits first
    await t.ok(add('c1', 'A', 2)); // waits second
    expect(await t.queue('A')).toEqual(['cart:c0', 'cart:c1']);
    const placed = await t.ok({
      op: 'placeOrder',
      orderId: 'o1',
      cartId: 'c1',
      lines: [{ sku: 'A', locationId: D, quantity: 3 }],
    });
    // c1 held nothing backed (c0 took the unit), waited 2; the order needs 1 more: it waits too
    expect(await t.line('order', 'o1', 'A')).toEqual({ held: 0, backordered: 3, preordered: 0 });
    expect(sum(placed.payload.movements, 'backordered')).toBe(1);
    expect(await t.queue('A')).toEqual(['cart:c0', 'order:o1']);
    await t.ok({ op: 'commitOrder', orderId: 'o1', paymentId: 'p1' });
    await t.ok({ op: 'releaseCart', mode: 'clear', cartId: 'c0' }); // its backed unit goes to o1 at once
    expect(await t.line('order', 'o1', 'A')).toEqual({ held: 1, backordered: 2, preordered: 0 });
    expect(await t.fig('A')).toMatchObject({ reserved: 1, committed: 1, backordered: 2 });
    await t.ok(receive('A', 5));
    expect(await t.fig('A')).toMatchObject({
      onHand: 6,
      reserved: 3,
      committed: 3,
      backordered: 0,
    });
  });

  it('released and shipped waiting units leave the queue and the figures', async () => {
    const t = tenant();
    await t.ok(policy('A', 'backorder', 10));
    await t.ok(add('c1', 'A', 3));
    const removed = await t.ok({
      op: 'releaseCart',
      mode: 'remove',
      cartId: 'c1',
      sku: 'A',
      quantity: 2,
    });
    expect(removed.payload.movements).toMatchObject([
      { kind: 'released', reserved: 0, backordered: -2 },
    ]);
    await t.ok({ op: 'releaseCart', mode: 'clear', cartId: 'c1' });
    expect(await t.queue('A')).toEqual([]);
    await t.ok({
      op: 'placeOrder',
      orderId: 'o2',
      lines: [{ sku: 'A', locationId: D, quantity: 2 }],
    });
    await t.ok(receive('A', 0 + 1)); // fills 1 of o2's 2
    const shipped = await t.ok({
      op: 'fulfilShipment',
      shipmentId: 's1',
      orderId: 'o2',
      lines: [{ sku: 'A', locationId: D, quantity: 2 }],
    });
    expect(shipped.payload.movements).toMatchObject([
      { kind: 'shipped', onHand: -2, reserved: -1, backordered: -1 },
    ]);
    expect(await t.fig('A')).toMatchObject({ onHand: -1, reserved: 0, backordered: 0 });
    expect(await t.queue('A')).toEqual([]);
  });
});

describe('pre-orders', () => {
  it('sell ahead up to the limit until the date, then refuse new ones', async () => {
    const t = tenant();
    clock = NOW;
    await t.ok(policy('A', 'preorder', 3, NOW + 1000));
    const r = await t.ok(add('c1', 'A', 2));
    expect(r.payload.movements).toMatchObject([{ kind: 'preordered', preordered: 2 }]);
    expect((await t.ok(add('c2', 'A', 2))).payload.outcome.result).toBe('rejected');
    clock = NOW + 1000;
    expect((await t.ok(add('c2', 'A', 1))).payload.outcome.result).toBe('rejected');
    await t.ok(policy('A', 'preorder', 3, null));
    expect((await t.ok(add('c2', 'A', 1))).payload.outcome.result).toBe('applied');
    clock = NOW;
    expect(await t.fig('A')).toMatchObject({ preordered: 3, backordered: 0, reserved: 0 });
    const filled = await t.ok(receive('A', 10));
    expect(filled.payload.outcome.filled?.map((f) => [f.referenceId, f.preordered])).toEqual([
      ['c1', 2],
      ['c2', 1],
    ]);
    expect(await t.fig('A')).toMatchObject({
      onHand: 10,
      reserved: 3,
      preordered: 0,
      available: 7,
    });
  });
});

describe('limits under concurrency', () => {
  it('1,000 concurrent holds: exactly on hand + limit, filled in the order they waited', async () => {
    const t = tenant();
    await t.ok(receive('A', 200));
    await t.ok(policy('A', 'backorder', 300));
    await t.ok(receive('B', 0 + 50));
    await t.ok(policy('B', 'preorder', 250));
    const all = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        t.apply(add(`c${i}`, i % 2 ? 'A' : 'B', 1), undefined, i),
      ),
    );
    const byResult: Record<string, number> = {};
    for (const r of all) byResult[resultOf(r)] = (byResult[resultOf(r)] ?? 0) + 1;
    // A: 500 carts for 200 on hand + 300 backordered; B: 500 carts for 50 + 250 pre-ordered
    expect(byResult).toEqual({ 'applied:': 800, 'rejected:insufficient-stock': 200 });
    expect(await t.fig('A')).toMatchObject({ reserved: 200, backordered: 300, available: 0 });
    expect(await t.fig('B')).toMatchObject({ reserved: 50, preordered: 250, available: 0 });

    // the movements explain every unit
    const applied = all.flatMap((r) => (r.status === 'applied' ? [r] : []));
    const moves = applied.flatMap((r) => r.payload.movements);
    expect(
      sum(
        moves.filter((m) => m.sku === 'A'),
        'backordered',
      ),
    ).toBe(300);
    expect(
      sum(
        moves.filter((m) => m.sku === 'B'),
        'preordered',
      ),
    ).toBe(250);

    // the carts that waited, in the order the engine applied them
    const waitedA = applied
      .filter((r) => r.payload.movements.some((m) => m.kind === 'backordered'))
      .sort((x, y) => compareEntryIds(x.entryId, y.entryId))
      .map((r) => r.payload.holds[0]!.id);
    expect(waitedA).toHaveLength(300);
    expect((await t.queue('A')).map((m) => m.slice('cart:'.length))).toEqual(waitedA);

    const r = await t.ok(receive('A', 120));
    expect(r.payload.outcome.filled?.map((f) => f.referenceId)).toEqual(waitedA.slice(0, 120));
    expect(await t.fig('A')).toMatchObject({ onHand: 320, reserved: 320, backordered: 180 });
  });
});
