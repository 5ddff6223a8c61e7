/**
 * The hold hash has two writers and readers, Lua (saveHold / loadHold in includes/holds.lua)
 * and TypeScript (src/engine/hold-hash.ts): they must agree. Events that set every field (cart
 * expiry, waiting lines of both kinds, an order taking over its cart, a payment, a partial
 * shipment and its record, a transfer) run through the scripts; then, for each hold, the hash the scripts
 * wrote decodes to the snapshot the same script reported, and encodes back to itself field for
 * field (no field the codec does not know). A hash the codec wrote is then used by a script.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Command, HoldSnapshot } from '../../src/domain/types.js';
import type { Engine } from '../../src/engine/engine.js';
import { decodeHoldHash, encodeHoldHash } from '../../src/engine/hold-hash.js';
import { pairOf, TenantKeys } from '../../src/engine/keys.js';
import { decodeShipment, encodeShipment } from '../../src/domain/shipment-record.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { eventMaker, mustApply, testEngine } from '../support/engine-harness.js';

const NOW = 1_800_000_000_000;
const TTL = 60 * 60 * 1000;
const D = 'default';
let redis: Redis;
let engine: Engine;
const prefix = uniqueName('holdhash');
const tenant = 'hh';
const k = new TenantKeys(prefix, tenant);
const ev = eventMaker(tenant);
/** the last snapshot each script reported, by hash key */
const reported = new Map<string, HoldSnapshot>();

async function ok(c: Command): Promise<void> {
  const r = await mustApply(engine, ev(c.op), c);
  for (const h of r.payload.holds) {
    const key =
      h.kind === 'cart' ? k.cart(h.id) : h.kind === 'order' ? k.order(h.id) : k.transfer(h.id);
    reported.set(key, h);
  }
}

beforeAll(async () => {
  redis = testRedis();
  engine = testEngine(redis, prefix, () => NOW);
  await ok({ op: 'receiveStock', sku: 'A', locationId: D, quantity: 3 });
  await ok({ op: 'receiveStock', sku: 'B', locationId: 'north', quantity: 10 });
  await ok({ op: 'configureStock', sku: 'A', locationId: D, policy: 'backorder', policyLimit: 5 });
  await ok({ op: 'configureStock', sku: 'C', locationId: D, policy: 'preorder', policyLimit: 5 });
  await ok({ op: 'reserveCart', cartId: 'c1', sku: 'A', locationId: D, quantity: 4, ttlMs: TTL });
  await ok({ op: 'reserveCart', cartId: 'c1', sku: 'C', locationId: D, quantity: 2, ttlMs: TTL });
  await ok({ op: 'reserveCart', cartId: 'c2', sku: 'A', locationId: D, quantity: 1, ttlMs: TTL });
  await ok({
    op: 'placeOrder',
    orderId: 'o1',
    cartId: 'c1',
    lines: [
      { sku: 'A', locationId: D, quantity: 4 },
      { sku: 'C', locationId: D, quantity: 2 },
      { sku: 'B', locationId: 'north', quantity: 3 },
    ],
  });
  await ok({ op: 'commitOrder', orderId: 'o1', paymentId: 'pay-1' });
  await ok({
    op: 'fulfilShipment',
    shipmentId: 'sh1',
    orderId: 'o1',
    lines: [{ sku: 'B', locationId: 'north', quantity: 1 }],
  });
  await ok({
    op: 'shipTransfer',
    transferId: 't1',
    fromLocationId: 'north',
    toLocationId: D,
    lines: [{ sku: 'B', quantity: 2 }],
  });
});

afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

/** A snapshot as the decoded hash should read it. */
function expected(s: HoldSnapshot) {
  return {
    state: s.state,
    expiresAt: s.expiresAt,
    link: s.link,
    paid: s.paid ?? false,
    paymentId: s.paymentId,
    fromLocationId: s.fromLocationId,
    toLocationId: s.toLocationId,
    version: s.version,
    shipments: s.shipments ? new Map(Object.entries(s.shipments)) : undefined,
    lines: new Map(
      s.lines.map((l) => [
        pairOf(l.sku, l.locationId),
        Object.fromEntries(
          (['held', 'ordered', 'shipped', 'backordered', 'preordered'] as const)
            .filter((f) => l[f])
            .map((f) => [f, l[f]]),
        ),
      ]),
    ),
  };
}

it('every field was exercised', async () => {
  const names = new Set<string>();
  for (const key of reported.keys())
    for (const f of await redis.hkeys(key)) names.add(f.split(':')[0]!);
  expect([...names].sort()).toEqual([
    'b',
    'c',
    'exp',
    'from',
    'h',
    'lk',
    'o',
    'p',
    'pay',
    's',
    'st',
    'to',
    'v',
    'x',
  ]);
});

it('the hash each script wrote decodes to the snapshot it reported', async () => {
  expect(reported.size).toBeGreaterThanOrEqual(4);
  for (const [key, snap] of reported) {
    const decoded = decodeHoldHash(await redis.hgetall(key));
    const want = expected(snap);
    expect({ ...decoded, lines: [...decoded.lines] }, key).toEqual(
      Object.fromEntries(
        Object.entries({ ...want, lines: [...want.lines] }).filter(([, v]) => v !== undefined),
      ),
    );
  }
});

it('and encodes back to the same fields and values', async () => {
  for (const key of reported.keys()) {
    const h = await redis.hgetall(key);
    const flat = encodeHoldHash(decodeHoldHash(h));
    const again: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) again[flat[i]!] = flat[i + 1]!;
    expect(again, key).toEqual(h);
  }
});

it('a hash the codec wrote is one the scripts go on from', async () => {
  // c2, rewritten by the codec (as the tenant loader writes holds), then released by a script
  const h = await redis.hgetall(k.cart('c2'));
  await redis.del(k.cart('c2'));
  await redis.hset(k.cart('c2'), ...encodeHoldHash(decodeHoldHash(h)));
  expect(Object.keys(decodeHoldHash(h).lines.get(pairOf('A', D)) ?? {})).not.toEqual([]);
  await ok({ op: 'releaseCart', mode: 'clear', cartId: 'c2' });
  // the script read the codec's hash: it released the line and went on from its version
  const after = reported.get(k.cart('c2'))!;
  expect(after.version).toBe(Number(h.v) + 1);
  expect(after.lines).toEqual([]);
  expect(after.state).not.toBe('open');
});

it("a shipment's record: the codec's text is the script's, and a script undoes it", async () => {
  const h = await redis.hgetall(k.order('o1'));
  // B at north: one unit shipped from the hold
  expect(h['x:sh1']).toBe(
    encodeShipment(new Map([[pairOf('B', 'north'), { held: 1, beyond: 0 }]])),
  );
  expect(decodeShipment(h['x:sh1']!)).toEqual(
    new Map([[pairOf('B', 'north'), { held: 1, beyond: 0 }]]),
  );
  // rewritten by the codec (as the tenant loader writes holds), then cancelled by a script
  await redis.del(k.order('o1'));
  await redis.hset(k.order('o1'), ...encodeHoldHash(decodeHoldHash(h)));
  await ok({ op: 'voidShipment', shipmentId: 'sh1', orderId: 'o1' });
  const after = reported.get(k.order('o1'))!;
  expect(after.shipments).toEqual({ sh1: 'c' });
  expect(after.lines.find((l) => l.sku === 'B')).toMatchObject({ held: 3, shipped: 0 });
  expect(decodeHoldHash(await redis.hgetall(k.order('o1'))).shipments).toEqual(
    new Map([['sh1', 'c']]),
  );
});
