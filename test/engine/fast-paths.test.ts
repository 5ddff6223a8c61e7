/**
 * The scripts' fast paths against their generic paths (test/support/fast-paths.ts): every call
 * of reserveCart, placeOrder, commitOrder and fulfilShipment the fast path takes is run again with the
 * generic path forced, on the same state; both must leave the same keys (DUMP), write the same
 * outbox payload and give the same reply. The common cases go through the fast path (counted);
 * the uncommon ones must not, and still apply as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Engine } from '../../src/engine/engine.js';
import type { Command } from '../../src/domain/types.js';
import { pairOf, TenantKeys } from '../../src/engine/keys.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { eventMaker, mustApply, testEngine } from '../support/engine-harness.js';
import { checkFastPaths, type FastPathCounts } from '../support/fast-paths.js';

const NOW = 1_800_000_000_000;
const TTL = 60 * 60 * 1000;
const D = 'default';

let redis: Redis;
let engine: Engine;
let counts: FastPathCounts;
const prefix = uniqueName('fastpaths');

beforeAll(async () => {
  redis = testRedis();
  engine = testEngine(redis, prefix, () => NOW);
  counts = await checkFastPaths(redis);
});

afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

let tenants = 0;
function tenant() {
  const name = `fp${++tenants}`;
  const ev = eventMaker(name);
  const keys = new TenantKeys(prefix, name);
  return {
    keys,
    ok: (c: Command, id?: string) => mustApply(engine, ev(c.op, id), c),
    traced: (c: Command) =>
      mustApply(engine, { ...ev(c.op), traceId: '0af7651916cd43dd8448eb211c80319c' }, c),
  };
}

/** How many calls of `script` took the fast path (and matched the generic path) during `f`. */
async function fastCalls(script: string, f: () => Promise<unknown>): Promise<number> {
  const before = counts.fast[script] ?? 0;
  await f();
  expect(counts.mismatches).toEqual([]);
  return (counts.fast[script] ?? 0) - before;
}

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
type Line = { sku: string; locationId: string; quantity: number };
const l = (sku: string, quantity: number, locationId = D): Line => ({ sku, locationId, quantity });
const place = (orderId: string, lines: Line[], cartId?: string): Command => ({
  op: 'placeOrder',
  orderId,
  lines,
  ...(cartId ? { cartId } : {}),
});
const pay = (orderId: string, paymentId = 'pay-1', lines?: Line[]): Command => ({
  op: 'commitOrder',
  orderId,
  paymentId,
  ...(lines ? { lines } : {}),
});

describe('cart.added (reserveCart)', () => {
  it('the fast path: first and later adds, a low-stock crossing and the last units', async () => {
    const t = tenant();
    await t.ok(receive('A', 6));
    await t.ok(receive('B', 4));
    await t.ok({ op: 'configureStock', sku: 'A', locationId: D, reorderLevel: 3 });
    expect(
      await fastCalls('reserveCart', async () => {
        await t.ok(cartAdd('c1', 'A', 1));
        await t.ok(cartAdd('c1', 'B', 2));
        // low stock and out of stock in one outcome: its fields in finish's order
        const r = await t.ok(cartAdd('c2', 'A', 5));
        expect(Object.keys(r.payload.outcome)).toEqual(['result', 'lowStock', 'availability']);
        await t.traced(cartAdd('c1', 'B', 2));
      }),
    ).toBe(4);
  });
});
const ship = (orderId: string, shipmentId: string, lines: Line[]): Command => ({
  op: 'fulfilShipment',
  orderId,
  shipmentId,
  lines,
});

describe('order.placed (placeOrder)', () => {
  it('the fast path: from a cart holding the lines, more, less, other lines; from none', async () => {
    const t = tenant();
    await t.ok(receive('A', 20));
    await t.ok(receive('B', 20));
    await t.ok(receive('C', 20, 'north'));
    await t.ok(cartAdd('c1', 'A', 2));
    await t.ok(cartAdd('c2', 'A', 3));
    await t.ok(cartAdd('c2', 'B', 1));
    await t.ok(cartAdd('c2', 'C', 2, 'north'));
    await t.ok(cartAdd('c3', 'A', 1));
    expect(
      await fastCalls('placeOrder', async () => {
        // exactly what the cart holds: nothing moves but the cart's conversion
        const r = await t.ok(place('o1', [l('A', 2)], 'c1'));
        expect(r.payload.movements).toEqual([]);
        // less of A than held, more of B, C not ordered, D not in the cart; a line twice
        await t.ok(place('o2', [l('B', 2), l('A', 1), l('B', 1), l('C', 1, 'north')], 'c2'));
        // no cart; a cart id whose cart does not exist
        await t.ok(place('o3', [l('A', 1), l('B', 2)]));
        await t.traced(place('o4', [l('B', 1)], 'c-none'));
        await t.ok(place('o5', [l('A', 4)], 'c3'));
      }),
    ).toBe(5);
  });

  it('the fast path: crossings (low stock, out of stock, back in stock), missing figures', async () => {
    const t = tenant();
    await t.ok(receive('A', 6));
    await t.ok(receive('B', 2));
    await t.ok({
      op: 'configureStock',
      sku: 'A',
      locationId: D,
      reorderLevel: 3,
      reorderQuantity: 10,
    });
    await t.ok(cartAdd('c1', 'B', 2));
    await redis.hdel(t.keys.stock(pairOf('A', D)), 'committed', 'incoming');
    await redis.hdel(t.keys.stock(pairOf('B', D)), 'unavailable');
    expect(
      await fastCalls('placeOrder', async () => {
        // A crosses its level; B's cart line released (back in stock)
        const r = await t.ok(place('o1', [l('A', 4)], 'c1'));
        expect(Object.keys(r.payload.outcome)).toEqual(['result', 'lowStock', 'availability']);
        // the last units of A: out of stock
        await t.ok(place('o2', [l('A', 2)]));
      }),
    ).toBe(2);
  });

  it('uncommon cases take the generic path', async () => {
    const t = tenant();
    await t.ok(receive('A', 5));
    await t.ok(cartAdd('c1', 'A', 1));
    await t.ok(place('o4', [l('A', 1)], 'c1'));
    const n = await fastCalls('placeOrder', async () => {
      // not enough: refused
      await t.ok(place('o1', [l('A', 9)]));
      // the order exists (paid first, placed twice)
      await t.ok(pay('o2', 'p', [l('A', 1)]));
      await t.ok(place('o2', [l('A', 1)]));
      await t.ok(pay('o3', 'p'));
      await t.ok(place('o3', [l('A', 1)]));
      // a cart already converted (by o4, before)
      await t.ok(place('o5', [l('A', 1)], 'c1'));
      // units waiting at the pair
      await t.ok({
        op: 'configureStock',
        sku: 'W',
        locationId: D,
        policy: 'backorder',
        policyLimit: 5,
      });
      await t.ok(place('o6', [l('W', 2)]));
    });
    expect(n).toBe(0);
  });
});

describe('payment.succeeded (commitOrder)', () => {
  it('the fast path: an order placed from a cart, one line and three lines', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    await t.ok(receive('B', 10));
    await t.ok(receive('C', 10, 'north'));
    await t.ok(cartAdd('c1', 'A', 2));
    await t.ok(place('o1', [l('A', 2)], 'c1'));
    await t.ok(cartAdd('c2', 'A', 1));
    await t.ok(cartAdd('c2', 'B', 3));
    await t.ok(cartAdd('c2', 'C', 1, 'north'));
    await t.ok(place('o2', [l('A', 1), l('B', 3), l('C', 1, 'north')], 'c2'));
    expect(
      await fastCalls('commitOrder', async () => {
        const r = await t.ok(pay('o1'));
        expect(r.payload.holds[0]).toMatchObject({ state: 'paid', paid: true, link: 'c1' });
        await t.ok(pay('o2', 'pay-2', [l('A', 1)]));
      }),
    ).toBe(2);
  });

  it('the fast path: an order placed without a cart, with a trace id', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    await t.ok(place('o1', [l('A', 4)]));
    expect(await fastCalls('commitOrder', () => t.traced(pay('o1')))).toBe(1);
  });

  it('the fast path: stock hashes missing figures, a reorder level, the last units', async () => {
    const t = tenant();
    await t.ok(receive('A', 3));
    await t.ok(receive('B', 5));
    await t.ok({ op: 'configureStock', sku: 'B', locationId: D, reorderLevel: 4 });
    await t.ok(place('o1', [l('A', 3), l('B', 2)]));
    // figures a hash may lack (written only when a movement changes them)
    await redis.hdel(t.keys.stock(pairOf('A', D)), 'committed', 'incoming');
    await redis.hdel(t.keys.stock(pairOf('B', D)), 'unavailable');
    expect(await fastCalls('commitOrder', () => t.ok(pay('o1')))).toBe(1);
  });

  it('uncommon cases take the generic path', async () => {
    const t = tenant();
    await t.ok(receive('A', 5));
    await t.ok(place('o1', [l('A', 2)]));
    await t.ok(pay('o1'));
    const n = await fastCalls('commitOrder', async () => {
      // a second payment: already committed
      expect((await t.ok(pay('o1', 'pay-2'))).payload.outcome.reason).toBe('already-committed');
      // paid before it was placed: reserved from the lines
      await t.ok(pay('o2', 'pay-3', [l('A', 1)]));
      // no hold, no lines: prepaid
      expect((await t.ok(pay('o3'))).payload.outcome.reason).toBe('awaiting-order');
      // payment failed, then succeeded
      await t.ok(place('o4', [l('A', 1)]));
      await t.ok({ op: 'releaseOrder', mode: 'payfail', orderId: 'o4', paymentId: 'p' });
      await t.ok(pay('o4'));
      // a cancelled order
      await t.ok(place('o5', [l('A', 1)]));
      await t.ok({ op: 'releaseOrder', mode: 'cancel', orderId: 'o5' });
      await t.ok(pay('o5'));
      // a line waiting under a backorder policy
      await t.ok({
        op: 'configureStock',
        sku: 'W',
        locationId: D,
        policy: 'backorder',
        policyLimit: 5,
      });
      await t.ok(place('o6', [l('W', 2)]));
      await t.ok(pay('o6'));
      // an id JSON must escape
      await t.ok(place('o"7', [l('A', 1)]));
      await t.ok(pay('o"7'));
    });
    expect(n).toBe(0);
  });
});

describe('shipment.created (fulfilShipment)', () => {
  it('the fast path: a paid order shipped whole, one line and three lines', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    await t.ok(receive('B', 10));
    await t.ok(receive('C', 10, 'north'));
    await t.ok(cartAdd('c1', 'A', 2));
    await t.ok(place('o1', [l('A', 2)], 'c1'));
    await t.ok(pay('o1'));
    await t.ok(place('o2', [l('A', 1), l('B', 3), l('C', 1, 'north')]));
    await t.ok(pay('o2'));
    expect(
      await fastCalls('fulfilShipment', async () => {
        const r = await t.ok(ship('o1', 's1', [l('A', 2)]));
        expect(r.payload.holds[0]).toMatchObject({ state: 'fulfilled', link: 'c1' });
        // lines out of order, one pair twice
        await t.traced(ship('o2', 's1', [l('C', 1, 'north'), l('B', 2), l('A', 1), l('B', 1)]));
      }),
    ).toBe(2);
  });

  it('the fast path: part of a paid order, stock hashes missing figures', async () => {
    const t = tenant();
    await t.ok(receive('A', 10));
    await t.ok(receive('B', 10));
    await t.ok({ op: 'configureStock', sku: 'A', locationId: D, reorderLevel: 9 });
    await t.ok(place('o1', [l('A', 3), l('B', 2)]));
    await t.ok(pay('o1'));
    await redis.hdel(t.keys.stock(pairOf('A', D)), 'incoming');
    await redis.hdel(t.keys.stock(pairOf('B', D)), 'unavailable', 'incoming');
    expect(
      await fastCalls('fulfilShipment', async () => {
        const r = await t.ok(ship('o1', 's1', [l('A', 1), l('B', 2)]));
        expect(r.payload.holds[0]).toMatchObject({ state: 'paid' });
      }),
    ).toBe(1);
    // a second shipment: the order has a shipment record (the generic path)
    expect(await fastCalls('fulfilShipment', () => t.ok(ship('o1', 's2', [l('A', 2)])))).toBe(0);
  });

  it('uncommon cases take the generic path', async () => {
    const t = tenant();
    await t.ok(receive('A', 5));
    await t.ok(place('o1', [l('A', 2)]));
    await t.ok(pay('o1'));
    const n = await fastCalls('fulfilShipment', async () => {
      // more than the order holds
      await t.ok(ship('o1', 's1', [l('A', 3)]));
      // the same shipment again
      await t.ok(ship('o1', 's1', [l('A', 3)]));
      // an unpaid order
      await t.ok(place('o2', [l('A', 1)]));
      await t.ok(ship('o2', 's1', [l('A', 1)]));
      // an order never placed
      await t.ok(ship('o3', 's1', [l('A', 1)]));
      // a line naming no location
      await t.ok(place('o4', [l('A', 1)]));
      await t.ok(pay('o4'));
      await t.ok({
        op: 'fulfilShipment',
        orderId: 'o4',
        shipmentId: 's1',
        lines: [],
        unlocated: [{ sku: 'A', quantity: 1 }],
      });
    });
    expect(n).toBe(0);
  });
});
