/**
 * One script call for the events of a tenant that reach the engine together
 * (src/engine/script-batch.ts): the same effects as each event alone, in the order queued; a
 * batch stops at an event that needs its caller first, and a script error fails its own event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { ApplyResult, Engine } from '../../src/engine/engine.js';
import { keyRefs } from '../../src/engine/script-batch.js';
import { pairOf, TenantKeys } from '../../src/engine/keys.js';
import type { Command, EventMeta } from '../../src/domain/types.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { readFigures, testEngine } from '../support/engine-harness.js';

const NOW = Date.parse('2026-12-03T10:00:00Z');
const TTL = 60 * 60 * 1000;
const prefix = uniqueName('batch');
let redis: Redis;
let batched: Engine;
let alone: Engine;

beforeAll(() => {
  redis = testRedis();
  batched = testEngine(redis, prefix, () => NOW, { batchEvents: 8 });
  alone = testEngine(redis, prefix, () => NOW, { batchEvents: 1 });
});

afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

const meta = (tenant: string, id: string, type: string): EventMeta => ({
  tenant,
  source: '/batch',
  id,
  type,
  occurredAt: '2026-12-03T10:00:00Z',
});

/** Applies the commands on one tenant, all queued in the same turn (so batched together). */
const together = (engine: Engine, tenant: string, cs: Command[]) =>
  Promise.all(cs.map((c, i) => engine.apply(meta(tenant, `e${i}`, c.op), c)));

/** Stock for the tenant: `quantity` units of sku-1 at main. */
const receive = (engine: Engine, tenant: string, quantity: number) =>
  engine.apply(meta(tenant, 'stock', 'stock.received'), {
    op: 'receiveStock',
    sku: 'sku-1',
    locationId: 'main',
    quantity,
  });

/**
 * Runs the same steps on the batching engine (tenant `<name>-batched`) and then on the one that
 * sends every event alone (`<name>-alone`), for comparing what each left.
 */
async function bothWays<T>(
  name: string,
  steps: (tenant: string, engine: Engine) => Promise<T>,
): Promise<{ batched: T; alone: T }> {
  return {
    batched: await steps(`${name}-batched`, batched),
    alone: await steps(`${name}-alone`, alone),
  };
}

const reserve = (cart: string, quantity: number): Command => ({
  op: 'reserveCart',
  cartId: cart,
  sku: 'sku-1',
  locationId: 'main',
  quantity,
  ttlMs: TTL,
});

/** The payloads without the stream ids, for comparing two tenants. */
const shape = (r: ApplyResult) =>
  r.status === 'applied'
    ? { status: r.status, outcome: r.payload.outcome, movements: r.payload.movements }
    : { status: r.status };

/**
 * Applies the events on one tenant in the same turn: on the batching engine, one batch call
 * carrying them all (checked). Returns each event's result as `shape` gives it.
 */
async function oneBatch(
  engine: Engine,
  tenant: string,
  events: [id: string, type: string, command: Command][],
) {
  const before = { ...engine.batches };
  const got = await Promise.all(
    events.map(([id, type, c]) => engine.apply(meta(tenant, id, type), c)),
  );
  if (engine === batched) {
    expect(engine.batches.calls - before.calls).toBe(1);
    expect(engine.batches.events - before.events).toBe(events.length);
  }
  return got.map(shape);
}

/** An order of `quantity` units of sku-1 at main, placed without a cart. */
const order = (orderId: string, quantity: number): Command => ({
  op: 'placeOrder',
  orderId,
  lines: [{ sku: 'sku-1', locationId: 'main', quantity }],
});

/** The outcome's result of each of `shape`'s results. */
const resultsOf = (outcomes: ReturnType<typeof shape>[]) =>
  outcomes.map((o) => (o as { outcome?: { result: string } }).outcome?.result);

describe('batched script calls', () => {
  it('apply a flash sale as the events alone would, in the order queued, in fewer calls', async () => {
    // 5 units for 12 carts of one each: the first five queued get them
    const carts = Array.from({ length: 12 }, (_, i) => reserve(`c${i}`, 1));
    const results = await bothWays('flash', async (tenant, engine) => {
      await receive(engine, tenant, 5);
      const before = { ...batched.batches };
      const got = await together(engine, tenant, carts);
      const after = batched.batches;
      if (engine === batched) {
        // 12 events, at most 8 per call: two batch calls
        expect(after.calls - before.calls).toBe(2);
        expect(after.events - before.events).toBe(12);
      } else expect(after).toEqual(before);
      return got;
    });
    expect(results.batched.map(shape)).toEqual(results.alone.map(shape));
    expect(
      results.batched.map((r) => (r.status === 'applied' ? r.payload.outcome.result : r.status)),
    ).toEqual([...Array(5).fill('applied'), ...Array(7).fill('rejected')]);
    const f = await readFigures(redis, new TenantKeys(prefix, 'flash-batched'), 'sku-1', 'main');
    expect(f).toMatchObject({ onHand: 5, reserved: 5, available: 0 });
    // the same events again: every one a duplicate, in one call again
    const again = await together(batched, 'flash-batched', carts);
    expect(again.map((r) => r.status)).toEqual(Array(12).fill('duplicate'));
  });

  it('stop at an event that needs its caller first (EXPIRE_FIRST) and run the rest again', async () => {
    const tenant = 'expire-first';
    const k = new TenantKeys(prefix, tenant);
    const earlier = testEngine(redis, prefix, () => NOW - 2 * TTL, { batchEvents: 1 });
    await receive(earlier, tenant, 1);
    // the one unit held by a cart past its expiry: a reservation asks for it to expire first
    await earlier.apply(meta(tenant, 'old', 'cart.added'), reserve('old', 1));
    const before = { ...batched.batches };
    const got = await Promise.all(
      ['a', 'b', 'c'].map((cart) =>
        batched.apply(meta(tenant, cart, 'cart.added'), reserve(cart, 1), { expireDue: true }),
      ),
    );
    expect(got.map((r) => r.status)).toEqual(Array(3).fill('expire-first'));
    // the batch of three stopped at the first: the two behind it were not run, and went again
    expect(batched.batches.events - before.events).toBeGreaterThanOrEqual(3);
    expect(batched.batches.notRun - before.notRun).toBeGreaterThanOrEqual(2);
    const f = await readFigures(redis, k, 'sku-1', 'main');
    expect(f).toMatchObject({ onHand: 1, reserved: 1, available: 0 });
  });

  it('see a duplicate within the batch and one applied before it, though markers are read at once', async () => {
    const tenant = 'markers';
    const k = new TenantKeys(prefix, tenant);
    await receive(batched, tenant, 10);
    await batched.apply(meta(tenant, 'before', 'cart.added'), reserve('a', 1));
    const before = { ...batched.batches };
    // one batch: an event applied before it, a new one, that same new one again, another new one
    const got = await Promise.all([
      batched.apply(meta(tenant, 'before', 'cart.added'), reserve('a', 1)),
      batched.apply(meta(tenant, 'twice', 'cart.added'), reserve('b', 2)),
      batched.apply(meta(tenant, 'twice', 'cart.added'), reserve('b', 2)),
      batched.apply(meta(tenant, 'once', 'cart.added'), reserve('c', 3)),
    ]);
    expect(batched.batches.calls - before.calls).toBe(1);
    expect(got.map((r) => r.status)).toEqual(['duplicate', 'applied', 'duplicate', 'applied']);
    // the duplicate names the first application's outbox entry
    expect(got[2]!.status === 'duplicate' && got[2]!.entryId).toBe(
      got[1]!.status === 'applied' && got[1]!.entryId,
    );
    const f = await readFigures(redis, k, 'sku-1', 'main');
    expect(f).toMatchObject({ onHand: 10, reserved: 1 + 2 + 3 });
  });

  it("keep a stock hash's figures between reservations of one batch, and read them again after another script", async () => {
    // one batch: two reservations (the second takes the first's figures), an order (another
    // script, reserving on the same stock), then reservations that must read the order's figures
    const { batched: b, alone: a } = await bothWays('figures', async (tenant, engine) => {
      await receive(engine, tenant, 10);
      await engine.apply(meta(tenant, 'b', 'cart.added'), reserve('b', 3));
      const outcomes = await oneBatch(engine, tenant, [
        ['a1', 'cart.added', reserve('a', 2)],
        ['c1', 'cart.added', reserve('c', 1)],
        ['o1', 'order.placed', order('o1', 2)],
        ['d1', 'cart.added', reserve('d', 2)],
        ['e1', 'cart.added', reserve('e', 1)],
      ]);
      return {
        outcomes,
        figures: await readFigures(redis, new TenantKeys(prefix, tenant), 'sku-1', 'main'),
      };
    });
    expect(b.outcomes).toEqual(a.outcomes);
    expect(b.figures).toEqual(a.figures);
    // 3 + 2 + 1 + 2 + 2 held of 10; the last refused
    expect(b.figures).toMatchObject({ onHand: 10, reserved: 10, available: 0 });
    expect(resultsOf(b.outcomes)).toEqual(['applied', 'applied', 'applied', 'applied', 'rejected']);
  });

  it("write a run of reservations' stock figures and cart expiries once, before another script runs", async () => {
    // one batch: reservations of two carts (their stock and expiry writes held back to the end
    // of the run), an order (another script: it must find the stock as they left it), then two
    // more reservations, whose writes are made when the batch ends
    const { batched: b, alone: a } = await bothWays('deferred', async (tenant, engine) => {
      const k = new TenantKeys(prefix, tenant);
      await receive(engine, tenant, 11);
      const outcomes = await oneBatch(engine, tenant, [
        ['a1', 'cart.added', reserve('a', 2)],
        ['b1', 'cart.added', reserve('b', 1)],
        ['a2', 'cart.added', reserve('a', 1)],
        ['o1', 'order.placed', order('o1', 3)],
        ['c1', 'cart.added', reserve('c', 3)],
        ['b2', 'cart.added', reserve('b', 1)],
      ]);
      return {
        outcomes,
        figures: await readFigures(redis, k, 'sku-1', 'main'),
        expiries: await redis.zrange(k.cartExpiries, 0, -1, 'WITHSCORES'),
      };
    });
    expect(b).toEqual(a);
    // 2 + 1 + 1 for the carts, 3 for the order, 3 + 1 for the carts again: all of the 11
    expect(b.figures).toMatchObject({ onHand: 11, available: 0 });
    expect(resultsOf(b.outcomes)).toEqual(Array(6).fill('applied'));
    const exp = String(NOW + TTL);
    expect(b.expiries).toEqual(['a', exp, 'b', exp, 'c', exp]);
  });

  it("read a stock hash's figures again after a reservation took the generic path", async () => {
    // a cart whose checkout started keeps its later expiry: its reservation takes the generic
    // path, which writes stock; the fast-path reservation after it must not take older figures
    const figures = await bothWays('generic', async (tenant, engine) => {
      await receive(engine, tenant, 10);
      await engine.apply(meta(tenant, 'b', 'cart.added'), reserve('b', 3));
      await engine.apply(meta(tenant, 'b-checkout', 'cart.checkout-started'), {
        op: 'extendCart',
        cartId: 'b',
        ttlMs: 4 * TTL,
      });
      const before = { ...engine.batches };
      await Promise.all([
        engine.apply(meta(tenant, 'a1', 'cart.added'), reserve('a', 2)),
        engine.apply(meta(tenant, 'b1', 'cart.added'), reserve('b', 1)),
        engine.apply(meta(tenant, 'c1', 'cart.added'), reserve('c', 1)),
      ]);
      if (engine === batched) expect(engine.batches.events - before.events).toBe(3);
      return readFigures(redis, new TenantKeys(prefix, tenant), 'sku-1', 'main');
    });
    expect(figures.batched).toEqual(figures.alone);
    expect(figures.batched).toMatchObject({ onHand: 10, reserved: 3 + 2 + 1 + 1 });
  });

  it('stop at a tenant whose meta Redis lost, and apply the batch once it is loaded again', async () => {
    const tenant = 'lost';
    const k = new TenantKeys(prefix, tenant);
    await receive(batched, tenant, 10);
    // the first event of the batch finds no meta (NOT_READY): the engine loads the tenant (the
    // harness writes its meta back) and the events go again, none of them with the missing meta
    await redis.del(k.meta);
    const before = { ...batched.batches };
    const got = await Promise.all(
      ['a', 'b', 'c'].map((cart, i) =>
        batched.apply(meta(tenant, `lost-${i}`, 'cart.added'), reserve(cart, 1)),
      ),
    );
    expect(got.map((r) => r.status)).toEqual(['applied', 'applied', 'applied']);
    expect(batched.batches.notRun - before.notRun).toBeGreaterThanOrEqual(2);
    const f = await readFigures(redis, k, 'sku-1', 'main');
    expect(f).toMatchObject({ onHand: 10, reserved: 3 });
  });

  it('fail only the event whose script raised an error, and run the events after it', async () => {
    const tenant = 'broken-key';
    const k = new TenantKeys(prefix, tenant);
    await receive(batched, tenant, 10);
    // a string where the second SKU's stock hash should be: its script's HMGET fails
    await redis.set(k.stock(pairOf('sku-2', 'main')), 'not a hash');
    const cs: Command[] = [
      reserve('a', 1),
      { op: 'reserveCart', cartId: 'b', sku: 'sku-2', locationId: 'main', quantity: 1, ttlMs: TTL },
      reserve('c', 1),
      reserve('d', 1),
    ];
    const before = { ...batched.batches };
    const got = await Promise.allSettled(
      cs.map((c, i) => batched.apply(meta(tenant, `e${i}`, c.op), c)),
    );
    // one batch of four stopped after the second: the last two went again
    expect(batched.batches.events - before.events).toBeGreaterThanOrEqual(4);
    expect(batched.batches.notRun - before.notRun).toBe(2);
    expect(got.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(String((got[1] as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    const f = await readFigures(redis, k, 'sku-1', 'main');
    expect(f).toMatchObject({ onHand: 10, reserved: 3 });
  });

  it('name each key once in a batch of more keys than one base-128 digit counts', async () => {
    // 70 carts over three SKUs (20 units of the first, 5 of the second, none of the third) in
    // one batch: 70 markers, 70 carts, three stock and three wait keys, meta, outbox and the
    // expiry set, 149 keys
    const wide = testEngine(redis, prefix, () => NOW, { batchEvents: 100 });
    const cs: Command[] = Array.from({ length: 70 }, (_, i) => ({
      op: 'reserveCart',
      cartId: `w${i}`,
      sku: `sku-${(i % 3) + 1}`,
      locationId: 'main',
      quantity: 1,
      ttlMs: TTL,
    }));
    const run = async (tenant: string, engine: Engine) => {
      await receive(engine, tenant, 20);
      await engine.apply(meta(tenant, 'stock-2', 'stock.received'), {
        op: 'receiveStock',
        sku: 'sku-2',
        locationId: 'main',
        quantity: 5,
      });
      const before = { ...engine.batches };
      const got = await together(engine, tenant, cs);
      return { got, calls: engine.batches.calls - before.calls };
    };
    const w = await run('wide-batched', wide);
    const a = await run('wide-alone', alone);
    expect(w.calls).toBe(1);
    expect(w.got.map(shape)).toEqual(a.got.map(shape));
    const results = w.got.map((r) =>
      r.status === 'applied' ? r.payload.outcome.result : r.status,
    );
    expect(results.filter((r) => r === 'applied')).toHaveLength(20 + 5);
    for (const sku of ['sku-1', 'sku-2']) {
      const f = await readFigures(redis, new TenantKeys(prefix, 'wide-batched'), sku, 'main');
      expect(f).toEqual(
        await readFigures(redis, new TenantKeys(prefix, 'wide-alone'), sku, 'main'),
      );
    }
  });
});

describe('keyRefs', () => {
  it("writes each key's place in the batch, two base-128 digits per key, adding new keys", () => {
    const places = new Map<string, number>();
    expect(keyRefs(['m', 'a', 'm'], places)).toBe('\x00\x01\x00\x02\x00\x01');
    for (let i = 0; i < 300; i++) keyRefs([`k${i}`], places);
    expect(places.size).toBe(302);
    // place 302 = 2 * 128 + 46
    expect(keyRefs(['k299', 'a'], places)).toBe('\x02\x2e\x00\x02');
  });
});
