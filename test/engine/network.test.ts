/**
 * Locations, bindings, routing and transfers through the Lua engine on real Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { TenantKeys } from '../../src/engine/keys.js';
import type { Engine } from '../../src/engine/engine.js';
import type { Command, HoldLine } from '../../src/domain/types.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { eventMaker, mustApply, readFigures, testEngine } from '../support/engine-harness.js';

const NOW = 1_800_000_000_000;
const TTL = 60 * 60 * 1000;

let redis: Redis;
let engine: Engine;
const prefix = uniqueName('network');

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
  const name = `n${++tenants}`;
  const ev = eventMaker(name);
  const k = new TenantKeys(prefix, name);
  const t = {
    name,
    k,
    apply: (c: Command, id?: string) => engine.apply(ev(c.op, id), c),
    ok: (c: Command, id?: string) => mustApply(engine, ev(c.op, id), c),
    fig: (sku: string, loc: string) => readFigures(redis, k, sku, loc),
    /** a location, bound to the SKUs, with `stock[i]` units of `skus[i]` */
    async location(
      locationId: string,
      priority: number,
      shipsTo: string[],
      stock: Record<string, number>,
    ) {
      await t.ok({ op: 'upsertLocation', locationId, name: locationId, priority, shipsTo });
      await t.ok({ op: 'bindLocation', locationId, skus: Object.keys(stock), bound: true });
      for (const [sku, quantity] of Object.entries(stock)) {
        if (quantity > 0) await t.ok({ op: 'receiveStock', sku, locationId, quantity });
      }
    },
    /** lines of an order's hold as sku@location → held */
    async held(kind: 'cart' | 'order', id: string) {
      const f = await redis.hgetall(kind === 'cart' ? k.cart(id) : k.order(id));
      const out: Record<string, number> = {};
      for (const [key, v] of Object.entries(f)) {
        if (!key.startsWith('h:')) continue;
        const [sku, loc] = key.slice(2).split('\x1f') as [string, string];
        out[`${sku}@${loc}`] = Number(v);
      }
      return out;
    },
  };
  return t;
}

const order = (
  orderId: string,
  routed: [string, number][],
  extra: Partial<Extract<Command, { op: 'placeOrder' }>> = {},
): Command => ({
  op: 'placeOrder',
  orderId,
  lines: [],
  routed: routed.map(([sku, quantity]) => ({ sku, quantity })),
  ...extra,
});

describe('locations and binding', () => {
  it('refuses an event naming a SKU-location the network does not stock, changing nothing', async () => {
    const t = tenant();
    await t.location('wh-1', 1, [], { A: 5 });
    const stockKeysBefore = await redis.keys(`${t.k.base}stock:*`);
    for (const [c, ref] of [
      [{ op: 'receiveStock', sku: 'A', locationId: 'wh-2', quantity: 3 }, undefined],
      [{ op: 'receiveStock', sku: 'B', locationId: 'wh-1', quantity: 3 }, undefined],
      [
        { op: 'reserveCart', cartId: 'c1', sku: 'A', locationId: 'ghost', quantity: 1, ttlMs: TTL },
        { referenceType: 'cart', referenceId: 'c1' },
      ],
      [
        { op: 'placeOrder', orderId: 'o1', lines: [{ sku: 'B', locationId: 'wh-1', quantity: 1 }] },
        { referenceType: 'order', referenceId: 'o1' },
      ],
    ] as [Command, object | undefined][]) {
      const r = await t.ok(c);
      const named = c.op === 'receiveStock' || c.op === 'reserveCart' ? c : null;
      expect(r.payload.outcome).toEqual({
        result: 'rejected',
        reason: 'location-not-stocked',
        unstocked:
          c.op === 'placeOrder'
            ? [{ sku: 'B', locationId: 'wh-1' }]
            : [{ sku: named!.sku, locationId: named!.locationId }],
        ...ref,
      });
      expect(r.payload.movements).toEqual([]);
      expect(r.payload.holds).toEqual([]);
    }
    expect(await redis.keys(`${t.k.base}stock:*`)).toEqual(stockKeysBefore);
    expect(await redis.exists(t.k.cart('c1'), t.k.order('o1'))).toBe(0);
    expect(await t.fig('A', 'wh-1')).toMatchObject({ onHand: 5, reserved: 0 });
  });

  it('binds only at known locations, and unbinds only what a location does not hold', async () => {
    const t = tenant();
    const unknown = await t.ok({ op: 'bindLocation', locationId: 'x', skus: ['A'], bound: true });
    expect(unknown.payload.outcome).toEqual({ result: 'rejected', reason: 'unknown-location' });
    await t.location('wh-1', 1, ['US'], { A: 2, B: 0 });
    const busy = await t.ok({
      op: 'bindLocation',
      locationId: 'wh-1',
      skus: ['A', 'B'],
      bound: false,
    });
    expect(busy.payload.outcome).toEqual({ result: 'rejected', reason: 'location-has-stock' });
    const free = await t.ok({ op: 'bindLocation', locationId: 'wh-1', skus: ['B'], bound: false });
    expect(free.payload.network).toEqual([
      { kind: 'binding', sku: 'B', locationId: 'wh-1', bound: false },
    ]);
    expect(await redis.hkeys(t.k.bindings)).toEqual(['A\x1fwh-1']);
    const upsert = await t.ok({
      op: 'upsertLocation',
      locationId: 'wh-1',
      name: 'Main',
      priority: 3,
      shipsTo: [],
    });
    expect(upsert.payload.network).toEqual([
      { kind: 'location', locationId: 'wh-1', name: 'Main', priority: 3, shipsTo: [] },
    ]);
  });

  it('a tenant without locations works as before: lines naming none are at default', async () => {
    const t = tenant();
    await t.ok({ op: 'receiveStock', sku: 'A', locationId: 'default', quantity: 4 });
    await t.ok({ op: 'reserveCart', cartId: 'c1', sku: 'A', quantity: 1, ttlMs: TTL });
    await t.ok(order('o1', [['A', 2]]));
    expect(await t.fig('A', 'default')).toMatchObject({ onHand: 4, reserved: 3 });
  });
});

describe('order routing', () => {
  it('picks the one location that fills the whole order over a higher-priority one that cannot', async () => {
    const t = tenant();
    await t.location('near', 1, [], { A: 5, B: 1 });
    await t.location('far', 2, [], { A: 5, B: 5 });
    const r = await t.ok(
      order('o1', [
        ['A', 2],
        ['B', 2],
      ]),
    );
    expect(r.payload.outcome.result).toBe('applied');
    expect(await t.held('order', 'o1')).toEqual({ 'A@far': 2, 'B@far': 2 });
    // and the higher-priority one when it can
    await t.ok(
      order('o2', [
        ['A', 1],
        ['B', 1],
      ]),
    );
    expect(await t.held('order', 'o2')).toEqual({ 'A@near': 1, 'B@near': 1 });
  });

  it('splits only when no single location can fill the order, and refuses all-or-nothing', async () => {
    const t = tenant();
    await t.location('l1', 1, [], { A: 3, B: 0 });
    await t.location('l2', 2, [], { A: 1, B: 4 });
    await t.location('l3', 3, [], { A: 2, B: 1 });
    const r = await t.ok(
      order('o1', [
        ['A', 5],
        ['B', 2],
      ]),
    );
    expect(r.payload.outcome.result).toBe('applied');
    // A: nobody has 5, so l1 then l2 then l3 give what they have; B: l2 fills it alone
    expect(await t.held('order', 'o1')).toEqual({ 'A@l1': 3, 'A@l2': 1, 'A@l3': 1, 'B@l2': 2 });
    const refused = await t.ok(
      order('o2', [
        ['A', 1],
        ['B', 4],
      ]),
    );
    expect(refused.payload.outcome).toEqual({
      result: 'rejected',
      reason: 'insufficient-stock',
      short: [{ sku: 'B', locationId: '*', requested: 4, available: 3 }],
      referenceType: 'order',
      referenceId: 'o2',
    });
    expect(refused.payload.movements).toEqual([]);
    expect(await t.fig('A', 'l3')).toMatchObject({ onHand: 2, reserved: 1 });
  });

  it('routes only to locations that ship to the destination, and honours named locations', async () => {
    const t = tenant();
    await t.location('us-west', 1, ['US-CA', 'US-OR'], { A: 5 });
    await t.location('us', 2, ['US'], { A: 5 });
    await t.location('eu', 0, ['FR', 'DE'], { A: 5 });
    await t.ok(order('o1', [['A', 1]], { destination: { country: 'US', region: 'CA' } }));
    await t.ok(order('o2', [['A', 1]], { destination: { country: 'US', region: 'NY' } }));
    await t.ok(order('o3', [['A', 1]], { destination: { country: 'DE' } }));
    const none = await t.ok(order('o4', [['A', 1]], { destination: { country: 'JP' } }));
    await t.ok(order('o5', [['A', 1]]));
    // fulfillFromLocationId: the consumer names the location on every line
    await t.ok({
      op: 'placeOrder',
      orderId: 'o6',
      lines: [{ sku: 'A', locationId: 'us', quantity: 2 }],
    });
    expect(await t.held('order', 'o1')).toEqual({ 'A@us-west': 1 });
    expect(await t.held('order', 'o2')).toEqual({ 'A@us': 1 });
    expect(await t.held('order', 'o3')).toEqual({ 'A@eu': 1 });
    expect(none.payload.outcome).toMatchObject({
      result: 'rejected',
      reason: 'insufficient-stock',
    });
    expect(await t.held('order', 'o5')).toEqual({ 'A@eu': 1 });
    expect(await t.held('order', 'o6')).toEqual({ 'A@us': 2 });
  });

  it('never holds at a location that does not stock the SKU, whatever it has on hand', async () => {
    const t = tenant();
    // stock received before the tenant had locations, at a location never bound to A
    await t.ok({ op: 'receiveStock', sku: 'A', locationId: 'shop', quantity: 50 });
    await t.location('shop', 0, [], { B: 1 });
    await t.location('wh', 1, [], { A: 2 });
    await t.ok(order('o1', [['A', 2]]));
    expect(await t.held('order', 'o1')).toEqual({ 'A@wh': 2 });
    const r = await t.ok({ op: 'reserveCart', cartId: 'c1', sku: 'A', quantity: 1, ttlMs: TTL });
    expect(r.payload.outcome).toMatchObject({ result: 'rejected', reason: 'insufficient-stock' });
    expect(await t.fig('A', 'shop')).toMatchObject({ onHand: 50, reserved: 0 });
  });

  it('routes cart holds; the order re-routes them towards its destination, figures exact', async () => {
    const t = tenant();
    await t.location('ca', 1, ['CA'], { A: 5 });
    await t.location('us', 2, ['US'], { A: 5 });
    await t.ok({ op: 'reserveCart', cartId: 'c1', sku: 'A', quantity: 2, ttlMs: TTL });
    expect(await t.held('cart', 'c1')).toEqual({ 'A@ca': 2 });
    const r = await t.ok(order('o1', [['A', 2]], { cartId: 'c1', destination: { country: 'US' } }));
    expect(await t.held('order', 'o1')).toEqual({ 'A@us': 2 });
    expect(await t.fig('A', 'ca')).toMatchObject({ reserved: 0, available: 5 });
    expect(await t.fig('A', 'us')).toMatchObject({ reserved: 2, available: 3 });
    expect(
      (r.payload.holds.find((h) => h.kind === 'order')!.lines as HoldLine[]).map(
        (l) => l.locationId,
      ),
    ).toEqual(['us']);
    // an order shipping where the cart's units are takes them over
    await t.ok({ op: 'reserveCart', cartId: 'c2', sku: 'A', quantity: 3, ttlMs: TTL });
    await t.ok(order('o2', [['A', 3]], { cartId: 'c2', destination: { country: 'CA' } }));
    expect(await t.held('order', 'o2')).toEqual({ 'A@ca': 3 });
    expect(await t.fig('A', 'ca')).toMatchObject({ reserved: 3, available: 2 });
  });

  it('a concurrent flash sale across three locations never oversells any of them', async () => {
    const t = tenant();
    await t.location('a', 1, [], { HOT: 7 });
    await t.location('b', 2, [], { HOT: 5 });
    await t.location('c', 3, [], { HOT: 9 });
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      calls.push(
        i % 3 === 0
          ? t.ok({
              op: 'reserveCart',
              cartId: `c${i}`,
              sku: 'HOT',
              quantity: 1 + (i % 2),
              ttlMs: TTL,
            })
          : t.ok(order(`o${i}`, [['HOT', 1 + (i % 4 === 1 ? 2 : 0)]])),
      );
      // network changes while the sale runs: plans made before them are re-made
      if (i === 100)
        calls.push(
          t.ok({ op: 'upsertLocation', locationId: 'c', name: 'c', priority: 0, shipsTo: [] }),
        );
    }
    const results = (await Promise.all(calls)) as Awaited<ReturnType<typeof t.ok>>[];
    let held = 0;
    for (const r of results) {
      for (const m of r.payload.movements) held += m.reserved;
    }
    expect(held).toBe(21);
    for (const loc of ['a', 'b', 'c']) {
      const f = await t.fig('HOT', loc);
      expect(f.available).toBe(0);
      expect(f.reserved).toBe(f.onHand);
    }
  });
});

describe('shipping a routed order', () => {
  it('lines naming no location ship from where the order holds the SKU', async () => {
    const t = tenant();
    await t.location('l1', 1, [], { A: 3 });
    await t.location('l2', 2, [], { A: 3 });
    await t.ok(order('o1', [['A', 5]]));
    expect(await t.held('order', 'o1')).toEqual({ 'A@l1': 3, 'A@l2': 2 });
    const s1 = await t.ok({
      op: 'fulfilShipment',
      shipmentId: 's1',
      orderId: 'o1',
      lines: [],
      unlocated: [{ sku: 'A', quantity: 4 }],
    });
    expect(s1.payload.movements.map((m) => [m.locationId, m.onHand, m.reserved])).toEqual([
      ['l1', -3, -3],
      ['l2', -1, -1],
    ]);
    // beyond the hold: from the first location the order has the SKU at
    const s2 = await t.ok({
      op: 'fulfilShipment',
      shipmentId: 's2',
      orderId: 'o1',
      lines: [],
      unlocated: [{ sku: 'A', quantity: 2 }],
    });
    expect(s2.payload.movements.map((m) => [m.locationId, m.onHand, m.reserved])).toEqual([
      ['l1', -1, 0],
      ['l2', -1, -1],
    ]);
  });
});

describe('transfers', () => {
  it('create, cancel before shipping: neither location changes; shipped: no cancel', async () => {
    const t = tenant();
    await t.ok({ op: 'receiveStock', sku: 'A', locationId: 'n', quantity: 5 });
    const c = await t.ok({
      op: 'createTransfer',
      transferId: 't1',
      fromLocationId: 'n',
      toLocationId: 's',
      lines: [{ sku: 'A', quantity: 3 }],
    });
    expect(c.payload.movements).toEqual([]);
    expect(c.payload.holds[0]).toMatchObject({
      state: 'created',
      lines: [{ sku: 'A', locationId: 's', held: 0, ordered: 3 }],
    });
    const x = await t.ok({ op: 'cancelTransfer', transferId: 't1' });
    expect(x.payload.holds[0]).toMatchObject({ state: 'cancelled' });
    const late = await t.ok({
      op: 'shipTransfer',
      transferId: 't1',
      fromLocationId: 'n',
      toLocationId: 's',
      lines: [{ sku: 'A', quantity: 3 }],
    });
    expect(late.payload.outcome).toEqual({ result: 'ignored', reason: 'transfer-cancelled' });
    expect(await t.fig('A', 'n')).toMatchObject({ onHand: 5 });
    expect(await t.fig('A', 's')).toMatchObject({ onHand: 0, incoming: 0 });

    await t.ok({
      op: 'shipTransfer',
      transferId: 't2',
      fromLocationId: 'n',
      toLocationId: 's',
      lines: [{ sku: 'A', quantity: 1 }],
    });
    const refused = await t.ok({ op: 'cancelTransfer', transferId: 't2' });
    expect(refused.payload.outcome).toMatchObject({
      result: 'rejected',
      reason: 'transfer-shipped',
    });
  });

  it('create, ship, partial receipts: in transit on the record, incoming at the destination', async () => {
    const t = tenant();
    await t.ok({ op: 'receiveStock', sku: 'A', locationId: 'n', quantity: 10 });
    await t.ok({ op: 'receiveStock', sku: 'B', locationId: 'n', quantity: 10 });
    await t.ok({
      op: 'createTransfer',
      transferId: 't1',
      fromLocationId: 'n',
      toLocationId: 's',
      lines: [
        { sku: 'A', quantity: 4 },
        { sku: 'B', quantity: 2 },
      ],
    });
    await t.ok({
      op: 'shipTransfer',
      transferId: 't1',
      fromLocationId: 'n',
      toLocationId: 's',
      lines: [
        { sku: 'A', quantity: 4 },
        { sku: 'B', quantity: 2 },
      ],
    });
    expect(await t.fig('A', 's')).toMatchObject({ onHand: 0, incoming: 4 });
    const early = await t.apply({ op: 'receiveTransfer', transferId: 't9' });
    expect(early).toEqual({ status: 'not-yet', reason: 'transfer-not-shipped' });
    const tooMuch = await t.ok({
      op: 'receiveTransfer',
      transferId: 't1',
      lines: [{ sku: 'A', quantity: 5 }],
    });
    expect(tooMuch.payload.outcome).toMatchObject({
      result: 'rejected',
      reason: 'exceeds-in-transit',
    });
    const part = await t.ok({
      op: 'receiveTransfer',
      transferId: 't1',
      lines: [{ sku: 'A', quantity: 3 }],
    });
    expect(part.payload.holds[0]).toMatchObject({
      state: 'receiving',
      lines: [
        { sku: 'A', locationId: 's', held: 1, ordered: 4, shipped: 3 },
        { sku: 'B', locationId: 's', held: 2, ordered: 2, shipped: 0 },
      ],
    });
    expect(await t.fig('A', 's')).toMatchObject({ onHand: 3, incoming: 1 });
    const rest = await t.ok({ op: 'receiveTransfer', transferId: 't1' });
    expect(rest.payload.movements.map((m) => [m.sku, m.onHand, m.incoming])).toEqual([
      ['A', 1, -1],
      ['B', 2, -2],
    ]);
    expect(rest.payload.holds[0]).toMatchObject({ state: 'received' });
    expect(await t.fig('A', 's')).toMatchObject({ onHand: 4, incoming: 0 });
    expect(await t.fig('B', 's')).toMatchObject({ onHand: 2, incoming: 0 });
    expect(await t.fig('A', 'n')).toMatchObject({ onHand: 6 });
  });
});
