/**
 * Kits in lines (domain/kits.ts expandKits), step by step on the engine and the model, which
 * must agree: a cart takes n kits' components at one location or nothing, and names the short
 * component; removing kits gives their components back (without a quantity, every whole kit);
 * orders, payments, shipments and returns naming a kit move its components; in a network the
 * kit goes whole to the first location that has every component; a redefinition leaves the
 * components a hold took where they are. The payload tags the units each kit came to.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { pairOf, TenantKeys } from '../../src/engine/keys.js';
import type { Engine } from '../../src/engine/engine.js';
import type { Command } from '../../src/domain/types.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { readFigures, testEngine, twinTenant } from '../support/engine-harness.js';

const NOW = 1_800_000_000_000;
const TTL = 3_600_000;
const D = 'default';
let redis: Redis;
let engine: Engine;
const prefix = uniqueName('kits');

beforeAll(() => {
  redis = testRedis();
  engine = testEngine(redis, prefix, () => NOW);
});

afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

let tenants = 0;
function tenant() {
  const name = `k${++tenants}`;
  const k = new TenantKeys(prefix, name);
  const { run: step } = twinTenant(engine, name, NOW);
  return {
    step,
    /** kit.defined, in both */
    define: (sku: string, components: { sku: string; quantity: number }[]) =>
      step({
        op: 'defineKit',
        sku,
        components: [...components].sort((a, b) => (a.sku < b.sku ? -1 : 1)),
      }),
    fig: (sku: string, loc = D) => readFigures(redis, k, sku, loc),
    cart: async (id: string) => (await redis.hgetall(k.cart(id))) as Record<string, string>,
  };
}

const receive = (sku: string, quantity: number, locationId = D): Command => ({
  op: 'receiveStock',
  sku,
  locationId,
  quantity,
});
const add = (cartId: string, sku: string, quantity: number, locationId?: string): Command => ({
  op: 'reserveCart',
  cartId,
  sku,
  quantity,
  ttlMs: TTL,
  ...(locationId ? { locationId } : {}),
});
const GIFT = [
  { sku: 'mug', quantity: 2 },
  { sku: 'tea', quantity: 1 },
];

describe('a cart', () => {
  it('takes n kits of every component or nothing, and names the short component', async () => {
    const t = tenant();
    await t.step(receive('mug', 10));
    await t.step(receive('tea', 10));
    await t.define('gift', GIFT);
    const p = await t.step(add('c1', 'gift', 3));
    expect(p.outcome.result).toBe('applied');
    expect(p.movements.map((m) => [m.sku, m.kind, m.reserved])).toEqual([
      ['mug', 'reserved', 6],
      ['tea', 'reserved', 3],
    ]);
    expect(p.kits).toEqual([
      { kit: 'gift', sku: 'mug', quantity: 6 },
      { kit: 'gift', sku: 'tea', quantity: 3 },
    ]);
    const refused = await t.step(add('c2', 'gift', 3));
    expect(refused.outcome).toMatchObject({
      result: 'rejected',
      reason: 'insufficient-stock',
      short: [{ sku: 'mug', locationId: D, requested: 6, available: 4 }],
    });
    expect(refused.movements).toEqual([]);
    expect((await t.fig('tea')).reserved).toBe(3);
  });

  it('gives back the components of the kits removed, and every whole kit without a quantity', async () => {
    const t = tenant();
    await t.step(receive('mug', 10));
    await t.step(receive('tea', 10));
    await t.define('gift', GIFT);
    await t.step(add('c1', 'gift', 3));
    await t.step(add('c1', 'mug', 1));
    const one = await t.step({
      op: 'releaseCart',
      mode: 'remove',
      cartId: 'c1',
      sku: 'gift',
      quantity: 1,
    });
    expect(one.movements.map((m) => [m.sku, m.reserved])).toEqual([
      ['mug', -2],
      ['tea', -1],
    ]);
    // 5 mugs and 2 teas held: two whole kits; the fifth mug stays
    const all = await t.step({ op: 'releaseCart', mode: 'remove', cartId: 'c1', sku: 'gift' });
    expect(all.movements.map((m) => [m.sku, m.reserved])).toEqual([
      ['mug', -4],
      ['tea', -2],
    ]);
    expect(all.kits).toEqual([
      { kit: 'gift', sku: 'mug' },
      { kit: 'gift', sku: 'tea' },
    ]);
    expect(await t.cart('c1')).toMatchObject({ st: 'open', [`h:${pairOf('mug', D)}`]: '1' });
  });

  it('in a network, goes whole to the first location that has every component', async () => {
    const t = tenant();
    for (const [loc, priority] of [
      ['north', 0],
      ['south', 1],
    ] as const) {
      await t.step({ op: 'upsertLocation', locationId: loc, name: loc, priority, shipsTo: [] });
      await t.step({ op: 'bindLocation', locationId: loc, skus: ['mug', 'tea'], bound: true });
    }
    await t.step(receive('mug', 10, 'north'));
    await t.step(receive('tea', 1, 'north'));
    await t.step(receive('mug', 4, 'south'));
    await t.step(receive('tea', 4, 'south'));
    await t.define('gift', GIFT);
    const p = await t.step(add('c1', 'gift', 2));
    expect(p.movements.map((m) => [m.sku, m.locationId, m.reserved])).toEqual([
      ['mug', 'south', 4],
      ['tea', 'south', 2],
    ]);
    // now north has them all (its one tea), first in routing order
    const north = await t.step(add('c2', 'gift', 1));
    expect(north.movements.map((m) => [m.sku, m.locationId])).toEqual([
      ['mug', 'north'],
      ['tea', 'north'],
    ]);
    // no location has a kit left: the refusal names the first location's short component
    const refused = await t.step(add('c3', 'gift', 1));
    expect(refused.outcome.short).toEqual([
      { sku: 'tea', locationId: 'north', requested: 1, available: 0 },
    ]);
  });
});

describe('an order', () => {
  it('places, pays, ships and returns kits as their components, beside the same SKU alone', async () => {
    const t = tenant();
    await t.step(receive('mug', 20));
    await t.step(receive('tea', 20));
    await t.define('gift', GIFT);
    await t.step(add('c1', 'gift', 2));
    const placed = await t.step({
      op: 'placeOrder',
      orderId: 'o1',
      cartId: 'c1',
      lines: [
        { sku: 'gift', locationId: D, quantity: 2 },
        { sku: 'mug', locationId: D, quantity: 1 },
      ],
    });
    expect(placed.holds.find((h) => h.kind === 'order')?.lines).toEqual([
      { sku: 'mug', locationId: D, held: 5, ordered: 5, shipped: 0 },
      { sku: 'tea', locationId: D, held: 2, ordered: 2, shipped: 0 },
    ]);
    expect(placed.kits).toEqual([
      { kit: 'gift', sku: 'mug', quantity: 4 },
      { kit: 'gift', sku: 'tea', quantity: 2 },
    ]);
    await t.step({ op: 'commitOrder', orderId: 'o1', paymentId: 'p1' });
    const shipped = await t.step({
      op: 'fulfilShipment',
      shipmentId: 's1',
      orderId: 'o1',
      lines: [{ sku: 'gift', locationId: D, quantity: 1 }],
    });
    expect(shipped.movements.map((m) => [m.sku, m.kind, m.onHand])).toEqual([
      ['mug', 'shipped', -2],
      ['tea', 'shipped', -1],
    ]);
    const back = await t.step({
      op: 'returnStock',
      rmaId: 'r1',
      orderId: 'o1',
      lines: [{ sku: 'gift', locationId: D, quantity: 1, disposition: 'restock' }],
    });
    expect(back.movements.map((m) => [m.sku, m.kind, m.onHand])).toEqual([
      ['mug', 'returned', 2],
      ['tea', 'returned', 1],
    ]);
    expect(await t.fig('mug')).toMatchObject({ onHand: 20, reserved: 3, committed: 3 });
  });

  it('routed, keeps a kit whole where no location fills the whole order', async () => {
    const t = tenant();
    for (const [loc, priority] of [
      ['north', 0],
      ['south', 1],
    ] as const) {
      await t.step({ op: 'upsertLocation', locationId: loc, name: loc, priority, shipsTo: [] });
      await t.step({
        op: 'bindLocation',
        locationId: loc,
        skus: ['mug', 'tea', 'cup'],
        bound: true,
      });
    }
    // north: mugs and cups, no tea; south: mugs and tea, no cups
    await t.step(receive('mug', 10, 'north'));
    await t.step(receive('cup', 5, 'north'));
    await t.step(receive('mug', 10, 'south'));
    await t.step(receive('tea', 5, 'south'));
    await t.define('gift', GIFT);
    const placed = await t.step({
      op: 'placeOrder',
      orderId: 'o1',
      lines: [],
      routed: [
        { sku: 'gift', quantity: 1 },
        { sku: 'cup', quantity: 1 },
      ],
    });
    // mugs alone would go north (the first that has them); with the kit they go with the tea
    expect(placed.movements.map((m) => [m.sku, m.locationId, m.reserved])).toEqual([
      ['cup', 'north', 1],
      ['mug', 'south', 2],
      ['tea', 'south', 1],
    ]);
    const refused = await t.step({
      op: 'placeOrder',
      orderId: 'o2',
      lines: [],
      routed: [{ sku: 'gift', quantity: 5 }],
    });
    expect(refused.outcome).toMatchObject({
      result: 'rejected',
      short: [
        { sku: 'mug', locationId: '*', requested: 10, available: 10 },
        { sku: 'tea', locationId: '*', requested: 5, available: 4 },
      ],
    });
  });

  it('keeps the components it took when the kit is redefined', async () => {
    const t = tenant();
    for (const s of ['mug', 'tea', 'cup']) await t.step(receive(s, 10));
    await t.define('gift', GIFT);
    await t.step({
      op: 'placeOrder',
      orderId: 'o1',
      lines: [{ sku: 'gift', locationId: D, quantity: 1 }],
    });
    await t.define('gift', [{ sku: 'cup', quantity: 1 }]);
    const cancelled = await t.step({ op: 'releaseOrder', mode: 'cancel', orderId: 'o1' });
    expect(cancelled.movements.map((m) => [m.sku, m.reserved])).toEqual([
      ['mug', -2],
      ['tea', -1],
    ]);
    expect(cancelled.kits).toBeUndefined();
    const placed = await t.step({
      op: 'placeOrder',
      orderId: 'o2',
      lines: [{ sku: 'gift', locationId: D, quantity: 1 }],
    });
    expect(placed.movements.map((m) => [m.sku, m.reserved])).toEqual([['cup', 1]]);
  });
});
