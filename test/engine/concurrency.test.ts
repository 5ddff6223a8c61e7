import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { pairOf, TenantKeys } from '../../src/engine/keys.js';
import type { ApplyResult, Engine } from '../../src/engine/engine.js';
import { checkView } from '../../src/domain/invariants.js';
import type { Command, EventMeta, Line } from '../../src/domain/types.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { readFigures, readView, testEngine } from '../support/engine-harness.js';

const CONNECTIONS = 8;
const TTL = 60 * 60 * 1000;
const prefix = uniqueName('concurrency');

/** Separate connections, each with its own Engine: calls really interleave in Redis. */
let clients: Redis[] = [];
let engines: Engine[] = [];

beforeAll(async () => {
  clients = Array.from({ length: CONNECTIONS }, () => testRedis());
  engines = clients.map((r) => testEngine(r, prefix));
  await Promise.all(clients.map((c) => c.ping()));
});

afterAll(async () => {
  await dropRedisPrefix(clients[0]!, prefix);
  await Promise.all(clients.map((c) => c.quit()));
});

const meta = (tenant: string, id: string, type = 'test.event'): EventMeta => ({
  tenant,
  source: '/load',
  id,
  type,
  occurredAt: '2026-11-23T10:15:00Z',
});

const engineFor = (i: number): Engine => engines[i % CONNECTIONS]!;

/** The outcome of an applied result ('duplicate' / 'not-yet' otherwise). */
const resultOf = (r: ApplyResult): string =>
  r.status === 'applied'
    ? `${r.payload.outcome.result}:${r.payload.outcome.reason ?? ''}`
    : r.status;

function tally(results: ApplyResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) out[resultOf(r)] = (out[resultOf(r)] ?? 0) + 1;
  return out;
}

/** A small deterministic PRNG (mulberry32), so a failing run can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('concurrent reservations never oversell', () => {
  it('1,000 cart adds of one unit against 100 units: exactly 100 succeed', async () => {
    const tenant = 'flash';
    const k = new TenantKeys(prefix, tenant);
    await engines[0]!.apply(meta(tenant, 'stock'), {
      op: 'receiveStock',
      sku: 'HOT',
      locationId: 'default',
      quantity: 100,
    });
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        engineFor(i).apply(meta(tenant, `add-${i}`, 'cart.added'), {
          op: 'reserveCart',
          cartId: `cart-${i}`,
          sku: 'HOT',
          locationId: 'default',
          quantity: 1,
          ttlMs: TTL,
        }),
      ),
    );
    expect(tally(results)).toEqual({ 'applied:': 100, 'rejected:insufficient-stock': 900 });
    for (const r of results) {
      if (r.status === 'applied' && r.payload.outcome.result === 'rejected') {
        expect(r.payload.outcome.short).toEqual([
          { sku: 'HOT', locationId: 'default', requested: 1, available: 0 },
        ]);
      }
    }
    expect(await readFigures(clients[0]!, k, 'HOT', 'default')).toEqual({
      onHand: 100,
      reserved: 100,
      committed: 0,
      unavailable: 0,
      incoming: 0,
      backordered: 0,
      preordered: 0,
      available: 0,
    });
    // the winners are exactly the carts that hold a unit
    const winners = results.flatMap((r, i) =>
      r.status === 'applied' && r.payload.outcome.result === 'applied' ? [`cart-${i}`] : [],
    );
    const held = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        clients[0]!.hget(k.cart(`cart-${i}`), `h:${pairOf('HOT', 'default')}`),
      ),
    );
    const holders = held.flatMap((h, i) => (h === '1' ? [`cart-${i}`] : []));
    expect(holders).toEqual(winners);
    expect(await clients[0]!.xlen(k.outbox)).toBe(1001);
  });

  it('a flash of multi-line orders (all lines or none) never oversells any SKU', async () => {
    const tenant = 'orders';
    const k = new TenantKeys(prefix, tenant);
    const skus = ['A', 'B', 'C', 'D'];
    for (const sku of skus) {
      await engines[0]!.apply(meta(tenant, `stock-${sku}`), {
        op: 'receiveStock',
        sku,
        locationId: 'default',
        quantity: 40,
      });
    }
    const rand = rng(20261123);
    const orders = Array.from({ length: 400 }, (_, i) => {
      const picked = skus.filter(() => rand() < 0.5);
      const lines: Line[] = (picked.length ? picked : [skus[i % skus.length]!]).map((sku) => ({
        sku,
        locationId: 'default',
        quantity: 1 + Math.floor(rand() * 3),
      }));
      return { orderId: `o-${i}`, lines };
    });
    const results = await Promise.all(
      orders.map((o, i) =>
        engineFor(i).apply(meta(tenant, `place-${i}`, 'order.placed'), { op: 'placeOrder', ...o }),
      ),
    );
    const t = tally(results);
    expect(t['applied:']).toBeGreaterThan(0);
    expect(t['rejected:insufficient-stock']).toBeGreaterThan(0);
    expect((t['applied:'] ?? 0) + (t['rejected:insufficient-stock'] ?? 0)).toBe(orders.length);

    // reserved is exactly what the accepted orders asked for, and never more than on hand
    const expected = new Map(skus.map((s) => [s, 0]));
    results.forEach((r, i) => {
      if (r.status === 'applied' && r.payload.outcome.result === 'applied') {
        for (const l of orders[i]!.lines) expected.set(l.sku, expected.get(l.sku)! + l.quantity);
      }
    });
    for (const sku of skus) {
      const f = await readFigures(clients[0]!, k, sku, 'default');
      expect(f.reserved).toBe(expected.get(sku));
      expect(f.reserved).toBeLessThanOrEqual(f.onHand);
      expect(f.available).toBeGreaterThanOrEqual(0);
    }
    // a refused order holds nothing at all
    const refused = orders.filter(
      (_, i) => resultOf(results[i]!) === 'rejected:insufficient-stock',
    );
    const exists = await Promise.all(refused.map((o) => clients[0]!.exists(k.order(o.orderId))));
    expect(exists.every((e) => e === 0)).toBe(true);
    const view = await readView(
      clients[0]!,
      k,
      skus.map((s) => pairOf(s, 'default')),
      orders.map((o) => ({ kind: 'order' as const, id: o.orderId })),
    );
    expect(checkView(view)).toEqual([]);
  });

  it('concurrent adds and removes on one cart keep reserved equal to the cart hold', async () => {
    const tenant = 'churn';
    const k = new TenantKeys(prefix, tenant);
    const skus = ['A', 'B', 'C', 'D', 'E'];
    for (const sku of skus) {
      await engines[0]!.apply(meta(tenant, `stock-${sku}`), {
        op: 'receiveStock',
        sku,
        locationId: 'default',
        quantity: 1000,
      });
    }
    const rand = rng(7);
    const commands: Command[] = Array.from({ length: 400 }, () => {
      const sku = skus[Math.floor(rand() * skus.length)]!;
      return rand() < 0.6
        ? {
            op: 'reserveCart',
            cartId: 'shared',
            sku,
            locationId: 'default',
            quantity: 2,
            ttlMs: TTL,
          }
        : { op: 'releaseCart', mode: 'remove', cartId: 'shared', sku, quantity: 1 };
    });
    const results = await Promise.all(
      commands.map((c, i) => engineFor(i).apply(meta(tenant, `churn-${i}`), c)),
    );
    expect(results.every((r) => r.status === 'applied')).toBe(true);
    const view = await readView(
      clients[0]!,
      k,
      skus.map((s) => pairOf(s, 'default')),
      [{ kind: 'cart', id: 'shared' }],
    );
    expect(checkView(view)).toEqual([]);
    // every applied movement is accounted for: the sum of deltas is the final figure
    let reserved = 0;
    for (const r of results) {
      if (r.status === 'applied') for (const m of r.payload.movements) reserved += m.reserved;
    }
    const total = [...view.stocks.values()].reduce((s, f) => s + f.reserved, 0);
    expect(total).toBe(reserved);
  });
});

describe('concurrent duplicates', () => {
  it('the same event from several connections at once is applied exactly once', async () => {
    const tenant = 'dups';
    const k = new TenantKeys(prefix, tenant);
    await engines[0]!.apply(meta(tenant, 'stock'), {
      op: 'receiveStock',
      sku: 'A',
      locationId: 'default',
      quantity: 50,
    });
    const results = await Promise.all(
      Array.from({ length: CONNECTIONS * 10 }, (_, i) =>
        engineFor(i).apply(meta(tenant, 'same-event', 'cart.added'), {
          op: 'reserveCart',
          cartId: 'c1',
          sku: 'A',
          locationId: 'default',
          quantity: 3,
          ttlMs: TTL,
        }),
      ),
    );
    expect(tally(results)).toEqual({ 'applied:': 1, duplicate: CONNECTIONS * 10 - 1 });
    const first = results.find((r) => r.status === 'applied');
    for (const r of results) {
      if (r.status === 'duplicate' && first?.status === 'applied')
        expect(r.entryId).toBe(first.entryId);
    }
    expect(await readFigures(clients[0]!, k, 'A', 'default')).toMatchObject({
      reserved: 3,
      available: 47,
    });
    expect(await clients[0]!.hget(k.cart('c1'), `h:${pairOf('A', 'default')}`)).toBe('3');

    // and a release replayed concurrently releases once
    const releases = await Promise.all(
      Array.from({ length: CONNECTIONS * 5 }, (_, i) =>
        engineFor(i).apply(meta(tenant, 'same-clear', 'cart.cleared'), {
          op: 'releaseCart',
          mode: 'clear',
          cartId: 'c1',
        }),
      ),
    );
    expect(tally(releases)).toEqual({ 'applied:': 1, duplicate: CONNECTIONS * 5 - 1 });
    expect(await readFigures(clients[0]!, k, 'A', 'default')).toMatchObject({
      reserved: 0,
      available: 50,
    });
  });
});
