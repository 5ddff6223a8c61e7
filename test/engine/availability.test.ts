/**
 * inventory.availability-changed: `available` crossing zero at a SKU-location, and the SKU's
 * total across its locations crossing zero (no `locationId`), detected in the script that moves
 * the stock (the outcome's `availability` lines), through the Lua engine on real Redis. The
 * model computes the same (test/domain/model.property.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Engine } from '../../src/engine/engine.js';
import type { Command } from '../../src/domain/types.js';
import { announce } from '../../src/domain/announcements.js';
import { TenantKeys } from '../../src/engine/keys.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { eventMaker, mustApply, testEngine } from '../support/engine-harness.js';

const NOW = 1_800_000_000_000;
const TTL = 60 * 60 * 1000;
const D = 'default';

let redis: Redis;
let engine: Engine;
const prefix = uniqueName('availability');

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
  const name = `av${++tenants}`;
  const ev = eventMaker(name);
  return {
    ok: (c: Command, id?: string) => mustApply(engine, ev(c.op, id), c),
    /** the event's crossings of zero at SKU-locations (the totals left out) */
    async flips(c: Command, id?: string) {
      const all = (await mustApply(engine, ev(c.op, id), c)).payload.outcome.availability;
      const at = all?.filter((l) => l.locationId !== undefined);
      return at?.length ? at : undefined;
    },
    /** every line, the totals included */
    async all(c: Command, id?: string) {
      return (await mustApply(engine, ev(c.op, id), c)).payload.outcome.availability;
    },
    /** the tenant's per-SKU counts of in-stock locations, as Redis has them */
    inStock: () => redis.hgetall(new TenantKeys(prefix, name).inStock),
  };
}

const out = (sku: string, available = 0, locationId = D) => ({
  sku,
  locationId,
  available,
  inStock: false,
});
const back = (sku: string, available: number, locationId = D) => ({
  sku,
  locationId,
  available,
  inStock: true,
});

/** the SKU's total crossed zero: no locationId */
const total = (sku: string, available: number) => ({ sku, available, inStock: available > 0 });

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
const adjust = (sku: string, delta: number, locationId = D): Command => ({
  op: 'adjustStock',
  sku,
  locationId,
  delta,
  reason: 'correction',
});
const count = (sku: string, onHand: number, locationId = D): Command => ({
  op: 'countStock',
  sku,
  locationId,
  onHand,
});

describe('crossings of zero at a SKU-location', () => {
  it('stock.received at zero is back in stock; more stock is no crossing', async () => {
    const t = tenant();
    expect(await t.flips(receive('A', 5))).toEqual([back('A', 5)]);
    expect(await t.flips(receive('A', 2))).toBeUndefined();
  });

  it('reserving the last units (the fast path and the generic path) is out of stock', async () => {
    const t = tenant();
    await t.ok(receive('A', 5));
    expect(await t.flips(cartAdd('c1', 'A', 2))).toBeUndefined();
    // the fast path: a plain open cart taking exactly what is left
    expect(await t.flips(cartAdd('c2', 'A', 3))).toEqual([out('A')]);
    // the generic path: an order reserving the last units of B
    await t.ok(receive('B', 4));
    expect(
      await t.flips({
        op: 'placeOrder',
        orderId: 'o1',
        lines: [{ sku: 'B', quantity: 4, locationId: D }],
      }),
    ).toEqual([out('B')]);
  });

  it('a low-stock crossing and a crossing of zero in the same fast-path reservation', async () => {
    const t = tenant();
    await t.ok(receive('A', 3));
    await t.ok({ op: 'configureStock', sku: 'A', locationId: D, reorderLevel: 1 });
    const r = await t.ok(cartAdd('c1', 'A', 3));
    expect(r.payload.outcome).toEqual({
      result: 'applied',
      lowStock: [{ sku: 'A', locationId: D, available: 0, reorderLevel: 1, reorderQuantity: null }],
      availability: [out('A'), total('A', 0)],
    });
  });

  it('releasing from zero is back in stock (cart.removed, cart.cleared, order.cancelled)', async () => {
    const t = tenant();
    await t.ok(receive('A', 4));
    await t.ok(cartAdd('c1', 'A', 4));
    expect(
      await t.flips({ op: 'releaseCart', mode: 'remove', cartId: 'c1', sku: 'A', quantity: 1 }),
    ).toEqual([back('A', 1)]);
    await t.ok(cartAdd('c2', 'A', 1));
    expect(await t.flips({ op: 'releaseCart', mode: 'clear', cartId: 'c1' })).toEqual([
      back('A', 3),
    ]);
    await t.ok({
      op: 'placeOrder',
      orderId: 'o1',
      lines: [{ sku: 'A', quantity: 3, locationId: D }],
    });
    expect(await t.flips({ op: 'releaseOrder', mode: 'cancel', orderId: 'o1' })).toEqual([
      back('A', 3),
    ]);
  });

  it('stock.adjusted and stock.counted, both ways; a deeper shortage is no new crossing', async () => {
    const t = tenant();
    await t.ok(receive('A', 5));
    await t.ok(cartAdd('c1', 'A', 3)); // available 2
    expect(await t.flips(adjust('A', -2))).toEqual([out('A')]);
    expect(await t.flips(adjust('A', 1))).toEqual([back('A', 1)]);
    // a count below the holds: out of stock, and a shortage
    const c = await t.ok(count('A', 2));
    expect(c.payload.outcome.availability).toEqual([out('A', -1), total('A', 0)]);
    expect(c.payload.outcome.shortage).toEqual([{ sku: 'A', locationId: D, available: -1 }]);
    expect(await t.flips(adjust('A', -1))).toBeUndefined(); // -1 → -2: still out
    expect(await t.flips(count('A', 9))).toEqual([back('A', 6)]);
    expect(await t.flips(count('A', 9))).toBeUndefined(); // no change
  });

  it('a transfer: the source ships its last available units, the destination receives them', async () => {
    const t = tenant();
    await t.ok(receive('A', 3, 'north'));
    await t.ok(receive('B', 5, 'north'));
    const shipped = await t.flips({
      op: 'shipTransfer',
      transferId: 't1',
      fromLocationId: 'north',
      toLocationId: 'south',
      lines: [
        { sku: 'A', quantity: 3 },
        { sku: 'B', quantity: 1 },
      ],
    });
    // incoming is not available: the destination stays out of stock until it receives
    expect(shipped).toEqual([out('A', 0, 'north')]);
    expect(await t.flips({ op: 'receiveTransfer', transferId: 't1' })).toEqual([
      back('A', 3, 'south'),
      back('B', 1, 'south'),
    ]);
  });

  it('an event that crosses and crosses back within itself announces nothing', async () => {
    const t = tenant();
    await t.ok(receive('A', 1));
    await t.ok({
      op: 'configureStock',
      sku: 'A',
      locationId: D,
      policy: 'backorder',
      policyLimit: 10,
    });
    const r = await t.ok(cartAdd('c1', 'A', 4)); // 1 held, 3 backordered: out of stock
    expect(r.payload.outcome.availability).toEqual([out('A'), total('A', 0)]);
    // 3 arrive and go to the waiting cart in the same step: available 0 → 3 → 0
    const rcv = await t.ok(receive('A', 3));
    expect(rcv.payload.outcome.filled).toHaveLength(1);
    expect(rcv.payload.outcome.availability).toBeUndefined();
    // 5 arrive, 0 wait: back in stock with what is left after the fills
    expect(await t.flips(receive('A', 5))).toEqual([back('A', 5)]);
  });

  it('a stock.configured or a refusal moves nothing and announces nothing', async () => {
    const t = tenant();
    await t.ok(receive('A', 2));
    expect(
      await t.flips({ op: 'configureStock', sku: 'A', locationId: D, reorderLevel: 5 }),
    ).toBeUndefined();
    const refused = await t.ok(cartAdd('c1', 'A', 3));
    expect(refused.payload.outcome.result).toBe('rejected');
    expect(refused.payload.outcome.availability).toBeUndefined();
  });

  it('is announced once per crossing pair, after the event’s other announcements', async () => {
    const t = tenant();
    await t.ok(receive('A', 2));
    await t.ok(receive('B', 1));
    const p = (
      await t.ok({
        op: 'placeOrder',
        orderId: 'o1',
        lines: [
          { sku: 'A', quantity: 2, locationId: D },
          { sku: 'B', quantity: 1, locationId: D },
        ],
      })
    ).payload;
    const a = announce(p).filter((x) => x.type === 'inventory.availability-changed');
    expect(a.map((x) => x.data)).toEqual([
      { causationId: p.id, causationSource: p.source, causationType: p.type, ...out('A') },
      { causationId: p.id, causationSource: p.source, causationType: p.type, ...out('B') },
      // then the SKUs' totals, in the order the SKUs first crossed
      { causationId: p.id, causationSource: p.source, causationType: p.type, ...total('A', 0) },
      { causationId: p.id, causationSource: p.source, causationType: p.type, ...total('B', 0) },
    ]);
  });
});

describe('a networked tenant', () => {
  it('a routed cart that drains two locations: one crossing per location', async () => {
    const t = tenant();
    for (const [loc, priority, qty] of [
      ['east', 1, 2],
      ['west', 2, 3],
    ] as const) {
      await t.ok({ op: 'upsertLocation', locationId: loc, name: loc, priority, shipsTo: [] });
      await t.ok({ op: 'bindLocation', locationId: loc, skus: ['A'], bound: true });
      expect(await t.flips(receive('A', qty, loc))).toEqual([back('A', qty, loc)]);
    }
    // no location named: routed, east gives 2, west 3
    const r = await t.ok({ op: 'reserveCart', cartId: 'c1', sku: 'A', quantity: 5, ttlMs: TTL });
    expect(r.payload.outcome.availability).toEqual([
      out('A', 0, 'east'),
      out('A', 0, 'west'),
      total('A', 0),
    ]);
    expect(await t.all({ op: 'releaseCart', mode: 'clear', cartId: 'c1' })).toEqual([
      back('A', 2, 'east'),
      back('A', 3, 'west'),
      total('A', 5),
    ]);
    expect(await t.inStock()).toEqual({ A: '2' });
  });
});

describe("the SKU's total across its locations", () => {
  it('a tenant loaded without the counts (meta without isc: an older version) announces no total', async () => {
    const name = `av${++tenants}`;
    await redis.hset(new TenantKeys(prefix, name).meta, 'epoch', 1);
    const ev = eventMaker(name);
    const all = async (c: Command) =>
      (await mustApply(engine, ev(c.op), c)).payload.outcome.availability;
    expect(await all(receive('A', 2))).toEqual([back('A', 2)]);
    expect(await all(cartAdd('c1', 'A', 2))).toEqual([out('A')]); // the fast path
    expect(await all(adjust('A', 1))).toEqual([back('A', 1)]); // the generic path
    expect(await redis.exists(new TenantKeys(prefix, name).inStock)).toBe(0);
  });

  it('out of stock when its last in-stock location sells out, back with the first receipt', async () => {
    const t = tenant();
    // one location: each of its crossings is the total's too
    expect(await t.all(receive('A', 2, 'north'))).toEqual([back('A', 2, 'north'), total('A', 2)]);
    expect(await t.all(receive('A', 3, 'south'))).toEqual([back('A', 3, 'south')]);
    expect(await t.inStock()).toEqual({ A: '2' });
    // the fast path: north sells out, south still has 3
    expect(await t.all(cartAdd('c1', 'A', 2, 'north'))).toEqual([out('A', 0, 'north')]);
    expect(await t.inStock()).toEqual({ A: '1' });
    // the fast path again: south sells out, the last in-stock location
    expect(await t.all(cartAdd('c2', 'A', 3, 'south'))).toEqual([
      out('A', 0, 'south'),
      total('A', 0),
    ]);
    expect(await t.inStock()).toEqual({});
    // a receipt at either: back in stock, with what that location has
    expect(await t.all(receive('A', 4, 'south'))).toEqual([back('A', 4, 'south'), total('A', 4)]);
    expect(await t.inStock()).toEqual({ A: '1' });
  });

  it('the generic path: an order taking the last units at two locations, a transfer', async () => {
    const t = tenant();
    await t.ok(receive('A', 1, 'north'));
    await t.ok(receive('A', 2, 'south'));
    await t.ok(receive('B', 5, 'south'));
    expect(
      await t.all({
        op: 'placeOrder',
        orderId: 'o1',
        lines: [
          { sku: 'A', quantity: 1, locationId: 'north' },
          { sku: 'B', quantity: 1, locationId: 'south' },
          { sku: 'A', quantity: 2, locationId: 'south' },
        ],
      }),
    ).toEqual([out('A', 0, 'north'), out('A', 0, 'south'), total('A', 0)]);
    expect(await t.inStock()).toEqual({ B: '1' });
    // B's only stock leaves south for east: out, and back when east receives it
    expect(
      await t.all({
        op: 'shipTransfer',
        transferId: 't1',
        fromLocationId: 'south',
        toLocationId: 'east',
        lines: [{ sku: 'B', quantity: 4 }],
      }),
    ).toEqual([out('B', 0, 'south'), total('B', 0)]);
    expect(await t.all({ op: 'receiveTransfer', transferId: 't1' })).toEqual([
      back('B', 4, 'east'),
      total('B', 4),
    ]);
    // the order cancelled: both of A's locations back, the total with both
    expect(await t.all({ op: 'releaseOrder', mode: 'cancel', orderId: 'o1' })).toEqual([
      back('A', 1, 'north'),
      back('A', 2, 'south'),
      back('B', 1, 'south'),
      total('A', 3),
    ]);
    expect(await t.inStock()).toEqual({ A: '2', B: '2' });
  });

  it('a count lost behind the scripts never goes below 0 nor announces a total it cannot know', async () => {
    const t = tenant();
    await t.ok(receive('A', 2, 'north'));
    await t.ok(receive('B', 2, 'north'));
    await redis.hdel(new TenantKeys(prefix, `av${tenants}`).inStock, 'A', 'B');
    // the fast path and the generic path: the count would go to -1
    expect(await t.all(cartAdd('c1', 'A', 2, 'north'))).toEqual([out('A', 0, 'north')]);
    expect(await t.all(adjust('B', -2, 'north'))).toEqual([out('B', 0, 'north')]);
    expect(await t.inStock()).toEqual({});
  });

  it('a shortage elsewhere does not hide stock: the total counts in-stock locations', async () => {
    const t = tenant();
    await t.ok(receive('A', 2, 'north'));
    await t.ok(cartAdd('c1', 'A', 2, 'north'));
    // north short by 2 (a count below its holds), south receives 1: in stock at south
    expect(await t.all(count('A', 0, 'north'))).toBeUndefined();
    expect(await t.all(receive('A', 1, 'south'))).toEqual([back('A', 1, 'south'), total('A', 1)]);
  });
});
