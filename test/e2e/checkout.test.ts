/**
 * `cart.checkout-started`: the shopper reached payment, so the cart's hold lasts at least the
 * checkout TTL from now (the event's `ttlSeconds`, else CHECKOUT_TTL_SECONDS), even past the
 * cart TTL; a later `cart.added` does not shorten it; `order.placed` takes the cart over as
 * always. The new expiry is where everything that expires carts reads it: the hold in Redis, the
 * tenant's expiry set (its expiry job and "expire first"), and `reservations.expires_at`.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TenantKeys } from '../../src/engine/keys.js';
import { expiryBucketOf } from '../../src/domain/cart-expiry.js';
import { E2E, type Ev } from './harness.js';

const CART_TTL_S = 600;
const CHECKOUT_TTL_S = 1800;
let x: E2E;

beforeAll(async () => {
  x = await E2E.start('e2e_checkout', {
    CART_TTL_SECONDS: String(CART_TTL_S),
    CHECKOUT_TTL_SECONDS: String(CHECKOUT_TTL_S),
  });
});

afterAll(async () => {
  await x?.close();
});

/** The cart's expiry as Redis's expiry set, the hold and MySQL's reservations have it (ms). */
async function expiryOf(tenant: string, cartId: string) {
  const keys = new TenantKeys(x.t.config.REDIS_PREFIX, tenant);
  const redis = x.t.worker.services.redis;
  const [score, exp] = await Promise.all([
    redis.zscore(keys.cartExpiries, cartId),
    redis.hget(keys.cart(cartId), 'exp'),
  ]);
  const row = (await x
    .knex('reservations')
    .where({ tenant, ref_type: 'cart', ref_id: cartId })
    .first('expires_at', 'state')) as { expires_at: Date | null; state: string } | undefined;
  return {
    set: score === null ? null : Number(score),
    hold: exp === null ? null : Number(exp),
    mysql: row?.expires_at ? row.expires_at.getTime() : null,
  };
}

const near = (ms: number, expected: number) => Math.abs(ms - expected) < 60_000;

async function outcomeOf(e: Ev) {
  return x.outcome(e);
}

it('a checkout makes the hold last its TTL from now, past the cart TTL; cart.added does not shorten it', async () => {
  const t = x.tenant();
  await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }));
  const before = Date.now();
  await x.run(x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 2 }));
  const added = await expiryOf(t, 'c');
  expect(near(added.set!, before + CART_TTL_S * 1000)).toBe(true);

  // the tenant's default checkout TTL (CHECKOUT_TTL_SECONDS)
  const checkout = x.ev(t, 'cart.checkout-started', { cartId: 'c' });
  await x.run(checkout);
  expect(await outcomeOf(checkout)).toMatchObject({ result: 'applied' });
  const extended = await expiryOf(t, 'c');
  expect(near(extended.set!, before + CHECKOUT_TTL_S * 1000)).toBe(true);
  expect(extended.hold).toBe(extended.set);
  expect(extended.mysql).toBe(extended.set);

  // a later cart.added slides the cart TTL, but never below the checkout's deadline
  await x.run(x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 1 }));
  expect(await expiryOf(t, 'c')).toEqual(extended);
  expect(await x.level(t, 'A')).toMatchObject({ reserved: 3 });

  // its expiry job follows the new deadline: the bucket of that expiry is scheduled
  const bucket = expiryBucketOf(extended.set!);
  const jobs = await x.t.worker.cartExpiry.queue.getJobs(['delayed', 'waiting']);
  expect(jobs.map((j) => j.data).filter((d) => 'until' in d && d.until === bucket)).toHaveLength(1);

  // a shorter checkout changes nothing
  const shorter = x.ev(t, 'cart.checkout-started', { cartId: 'c', ttlSeconds: 60 });
  await x.run(shorter);
  expect(await outcomeOf(shorter)).toMatchObject({ result: 'ignored', reason: 'expires-later' });
  expect(await expiryOf(t, 'c')).toEqual(extended);

  // the order takes the cart over, as always; a checkout after it is ignored
  await x.run(
    x.ev(t, 'order.placed', { orderId: 'o', cartId: 'c', lines: [{ sku: 'A', quantity: 3 }] }),
  );
  expect((await expiryOf(t, 'c')).set).toBeNull();
  const late = x.ev(t, 'cart.checkout-started', { cartId: 'c', ttlSeconds: 3600 });
  await x.run(late);
  expect(await outcomeOf(late)).toMatchObject({ result: 'ignored', reason: 'cart-converted' });
  expect(await x.level(t, 'A')).toMatchObject({ reserved: 3 });
  await x.expectLedgerMatchesLevels(t);
});

it('a checkout of a cart that holds nothing is ignored, and an invalid one dead-lettered', async () => {
  const t = x.tenant();
  const none = x.ev(t, 'cart.checkout-started', { cartId: 'nobody', ttlSeconds: 600 });
  await x.run(none);
  expect(await outcomeOf(none)).toMatchObject({ result: 'ignored', reason: 'no-cart-hold' });
  expect(await expiryOf(t, 'nobody')).toEqual({ set: null, hold: null, mysql: null });

  const bad = x.ev(t, 'cart.checkout-started', { cartId: 'c', ttlSeconds: 0 });
  await x.publishInvalid(bad);
  await x.quiesce();
  const dead = await x.takeDeadLetters();
  expect(dead.map((m) => String(m.properties.headers?.['x-error-reason']))).toEqual([
    expect.stringMatching(/^invalid: invalid cart\.checkout-started data: ttlSeconds/),
  ]);
});
