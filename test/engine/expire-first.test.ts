import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { TenantKeys } from '../../src/engine/keys.js';
import type { Engine } from '../../src/engine/engine.js';
import type { Command } from '../../src/domain/types.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { eventMaker, mustApply, readFigures, testEngine } from '../support/engine-harness.js';

/** The scripts' side of the cart expiry safety net: the expiry set and EXPIRE_FIRST. */
const NOW = 1_800_000_000_000;
const TTL = 1000;
const D = 'default';

let redis: Redis;
let engine: Engine;
let clock = NOW;
const prefix = uniqueName('expfirst');

beforeAll(() => {
  redis = testRedis();
  engine = testEngine(redis, prefix, () => clock);
});

afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

let tenants = 0;
function tenant() {
  const name = `x${++tenants}`;
  const ev = eventMaker(name);
  const k = new TenantKeys(prefix, name);
  return {
    k,
    ev,
    ok: (c: Command) => mustApply(engine, ev(c.op), c),
    due: (c: Command) => engine.apply(ev(c.op), c, { expireDue: true }),
    set: async () => {
      const flat = await redis.zrange(k.cartExpiries, 0, -1, 'WITHSCORES');
      const out: Record<string, number> = {};
      for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = Number(flat[i + 1]);
      return out;
    },
  };
}

const add = (cartId: string, quantity: number, sku = 'A'): Command => ({
  op: 'reserveCart',
  cartId,
  sku,
  locationId: D,
  quantity,
  ttlMs: TTL,
});

describe('cart expiry set and EXPIRE_FIRST', () => {
  it('the set follows cart holds: added, refreshed, released, converted, expired', async () => {
    clock = NOW;
    const t = tenant();
    await t.ok({ op: 'receiveStock', sku: 'A', locationId: D, quantity: 20 });
    await t.ok(add('c1', 1));
    await t.ok(add('c2', 1));
    await t.ok(add('c3', 1));
    await t.ok(add('c4', 1));
    expect(await t.set()).toEqual({ c1: NOW + TTL, c2: NOW + TTL, c3: NOW + TTL, c4: NOW + TTL });
    clock = NOW + 500;
    await t.ok(add('c1', 1)); // refreshed (fast path)
    await t.ok({ op: 'releaseCart', mode: 'remove', cartId: 'c2', sku: 'A', quantity: 1 }); // emptied
    await t.ok({ op: 'releaseCart', mode: 'clear', cartId: 'c3' });
    await t.ok({
      op: 'placeOrder',
      orderId: 'o4',
      cartId: 'c4',
      lines: [{ sku: 'A', locationId: D, quantity: 1 }],
    });
    expect(await t.set()).toEqual({ c1: NOW + 500 + TTL });
    clock = NOW + 5000;
    await t.ok({ op: 'releaseCart', mode: 'expire', cartId: 'c1', expiresAt: NOW + 500 + TTL });
    expect(await t.set()).toEqual({});
  });

  it('a refusal while a cart is past its expiry is EXPIRE_FIRST, and writes nothing', async () => {
    clock = NOW;
    const t = tenant();
    await t.ok({ op: 'receiveStock', sku: 'A', locationId: D, quantity: 2 });
    await t.ok(add('old', 2));
    clock = NOW + TTL; // an expiry at `now` is due
    const outbox = await redis.xlen(t.k.outbox);
    const meta = t.ev('cart.added', 'new-add');
    const r = await engine.apply(meta, add('new', 1), { expireDue: true });
    expect(r).toEqual({ status: 'expire-first', due: [{ cartId: 'old', expiresAt: NOW + TTL }] });
    expect(await redis.xlen(t.k.outbox)).toBe(outbox);
    expect(await redis.exists(t.k.marker(meta.source, meta.id))).toBe(0);
    expect(await readFigures(redis, t.k, 'A', D)).toMatchObject({ reserved: 2, available: 0 });
    // without expireDue the refusal stands, as it always did
    const plain = await engine.apply(t.ev('cart.added'), add('new', 1));
    expect(plain.status === 'applied' && plain.payload.outcome).toMatchObject({
      result: 'rejected',
      reason: 'insufficient-stock',
    });
    // the order and payment scripts ask too
    const order: Command = {
      op: 'placeOrder',
      orderId: 'o1',
      lines: [{ sku: 'A', locationId: D, quantity: 1 }],
    };
    expect((await t.due(order)).status).toBe('expire-first');
    const pay: Command = {
      op: 'commitOrder',
      orderId: 'o2',
      paymentId: 'p2',
      lines: [{ sku: 'A', locationId: D, quantity: 1 }],
    };
    expect((await t.due(pay)).status).toBe('expire-first');
    // once the cart is expired (as the caller does) the event goes through
    await t.ok({ op: 'releaseCart', mode: 'expire', cartId: 'old', expiresAt: NOW + TTL });
    const again = await t.due(add('new', 1));
    expect(again.status === 'applied' && again.payload.outcome.result).toBe('applied');
  });

  it('an order.updated growing an order asks too', async () => {
    clock = NOW;
    const t = tenant();
    await t.ok({ op: 'receiveStock', sku: 'A', locationId: D, quantity: 3 });
    await t.ok({
      op: 'placeOrder',
      orderId: 'o1',
      lines: [{ sku: 'A', locationId: D, quantity: 1 }],
    });
    await t.ok(add('old', 2));
    clock = NOW + TTL;
    const grow: Command = {
      op: 'updateOrder',
      orderId: 'o1',
      lines: [{ sku: 'A', locationId: D, quantity: 2 }],
    };
    expect(await t.due(grow)).toEqual({
      status: 'expire-first',
      due: [{ cartId: 'old', expiresAt: NOW + TTL }],
    });
    await t.ok({ op: 'releaseCart', mode: 'expire', cartId: 'old', expiresAt: NOW + TTL });
    const again = await t.due(grow);
    expect(again.status === 'applied' && again.payload.outcome.result).toBe('applied');
    expect(await readFigures(redis, t.k, 'A', D)).toMatchObject({ reserved: 2, available: 1 });
  });

  it('a cart refreshed before its expiry still blocks; a converted cart is never due', async () => {
    clock = NOW;
    const t = tenant();
    await t.ok({ op: 'receiveStock', sku: 'A', locationId: D, quantity: 3 });
    await t.ok(add('kept', 1));
    await t.ok(add('conv', 1));
    await t.ok({
      op: 'placeOrder',
      orderId: 'o-conv',
      cartId: 'conv',
      lines: [{ sku: 'A', locationId: D, quantity: 1 }],
    });
    clock = NOW + 900;
    await t.ok(add('kept', 1)); // refreshed: the last unit, expiring at NOW + 900 + TTL
    clock = NOW + TTL + 500; // past the first expiry, before the refreshed one
    const r = await t.due(add('other', 1));
    expect(r.status).toBe('applied');
    expect(r.status === 'applied' && r.payload.outcome).toMatchObject({
      result: 'rejected',
      reason: 'insufficient-stock',
    });
    expect(await t.set()).toEqual({ kept: NOW + 900 + TTL });
  });

  it('routed reservations (includes/route) ask too', async () => {
    clock = NOW;
    const t = tenant();
    for (const [loc, priority] of [
      ['wh-1', 1],
      ['wh-2', 2],
    ] as const) {
      await t.ok({ op: 'upsertLocation', locationId: loc, name: loc, priority, shipsTo: [] });
      await t.ok({ op: 'bindLocation', locationId: loc, skus: ['A'], bound: true });
      await t.ok({ op: 'receiveStock', sku: 'A', locationId: loc, quantity: 1 });
    }
    await t.ok({ op: 'reserveCart', cartId: 'old', sku: 'A', quantity: 2, ttlMs: TTL });
    expect(await t.set()).toEqual({ old: NOW + TTL });
    clock = NOW + 2 * TTL;
    const cart = await t.due({
      op: 'reserveCart',
      cartId: 'new',
      sku: 'A',
      quantity: 1,
      ttlMs: TTL,
    });
    expect(cart.status).toBe('expire-first');
    const order = await t.due({
      op: 'placeOrder',
      orderId: 'o',
      lines: [],
      routed: [{ sku: 'A', quantity: 2 }],
    });
    expect(order.status).toBe('expire-first');
    await t.ok({ op: 'releaseCart', mode: 'expire', cartId: 'old', expiresAt: NOW + TTL });
    const again = await t.due({
      op: 'placeOrder',
      orderId: 'o',
      lines: [],
      routed: [{ sku: 'A', quantity: 2 }],
    });
    expect(again.status === 'applied' && again.payload.outcome.result).toBe('applied');
  });

  it('an expiry job for a cart the set no longer matches repairs the set', async () => {
    clock = NOW;
    const t = tenant();
    await t.ok({ op: 'receiveStock', sku: 'A', locationId: D, quantity: 1 });
    await t.ok(add('c', 1));
    // a stale entry (written behind the scripts' back) for a cart with no hold
    await redis.zadd(t.k.cartExpiries, NOW - 10, 'ghost');
    clock = NOW + 100;
    const r = await t.due(add('other', 1));
    expect(r).toEqual({ status: 'expire-first', due: [{ cartId: 'ghost', expiresAt: NOW - 10 }] });
    await t.ok({ op: 'releaseCart', mode: 'expire', cartId: 'ghost', expiresAt: NOW - 10 });
    expect(await t.set()).toEqual({ c: NOW + TTL });
    const after = await t.due(add('other', 1));
    expect(after.status === 'applied' && after.payload.outcome.result).toBe('rejected');
  });
});
