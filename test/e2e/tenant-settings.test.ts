/**
 * `tenant.configured` through RabbitMQ, Redis and MySQL: the tenant's cart TTL applies to the
 * next cart.added (the hold's expiry in Redis and in `reservations.expires_at`), its checkout TTL
 * to the next cart.checkout-started; a late older event changes nothing; `tenant_settings` has
 * the row; Redis losing the tenant gets the settings back from MySQL; `inventory tenant show`
 * says where each value comes from; an invalid event is dead-lettered.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TenantKeys } from '../../src/engine/keys.js';
import { expiryBucketOf } from '../../src/domain/cart-expiry.js';
import { unlinkTenantKeys } from '../../src/ledger/tenant-keys.js';
import { inventory } from '../cli/run.js';
import { E2E, type Ev } from './harness.js';

const CART_TTL_S = 600;
const CHECKOUT_TTL_S = 1800;
let x: E2E;

beforeAll(async () => {
  x = await E2E.start('e2e_tenantcfg', {
    CART_TTL_SECONDS: String(CART_TTL_S),
    CHECKOUT_TTL_SECONDS: String(CHECKOUT_TTL_S),
  });
});

afterAll(async () => {
  await x?.close();
});

/** The cart's expiry as Redis's expiry set and MySQL's reservations have it (ms). */
async function expiryOf(tenant: string, cartId: string) {
  const keys = new TenantKeys(x.t.config.REDIS_PREFIX, tenant);
  const score = await x.t.worker.services.redis.zscore(keys.cartExpiries, cartId);
  const row = (await x
    .knex('reservations')
    .where({ tenant, ref_type: 'cart', ref_id: cartId })
    .first('expires_at')) as { expires_at: Date | null } | undefined;
  return {
    set: score === null ? null : Number(score),
    mysql: row?.expires_at ? row.expires_at.getTime() : null,
  };
}

/** `expiry` is `seconds` after `from` (to the few seconds a run takes) */
const after = (expiry: number | null, from: number, seconds: number) => {
  expect(expiry).not.toBeNull();
  expect(expiry! - from).toBeGreaterThanOrEqual(seconds * 1000);
  expect(expiry! - from).toBeLessThan(seconds * 1000 + 10_000);
};

const settingsRow = async (tenant: string) =>
  (await x.knex('tenant_settings').where({ tenant }).first()) as
    Record<string, unknown> | undefined;

it('cartTtlSeconds applies to the next cart.added; a late older event changes nothing; the MySQL row', async () => {
  const t = x.tenant();
  await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }));
  const configured = x.ev(
    t,
    'tenant.configured',
    { cartTtlSeconds: 5, checkoutTtlSeconds: 120 },
    { time: '2026-11-23T10:00:00.000Z' },
  );
  await x.run(configured);
  expect(await x.outcome(configured)).toMatchObject({ result: 'applied' });

  const before = Date.now();
  const add = x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 2 });
  await x.run(add);
  const added = await expiryOf(t, 'c');
  after(added.set, before, 5);
  expect(added.mysql).toBe(added.set);
  // its expiry job is due at the new TTL: the bucket of that expiry is scheduled
  const bucket = expiryBucketOf(added.set!);
  const jobs = await x.t.worker.cartExpiry.queue.getJobs([
    'delayed',
    'waiting',
    'active',
    'completed',
  ]);
  expect(jobs.map((j) => j.data).filter((d) => 'until' in d && d.until === bucket)).toHaveLength(1);
  // the cart's reservation is announced; the settings announce nothing
  await x.waitAnnouncements(add, 1);
  expect(x.announcementsOf(configured)).toEqual([]);

  // a late event, older by its time: ignored, the setting stays
  const older = x.ev(
    t,
    'tenant.configured',
    { cartTtlSeconds: 3600 },
    { time: '2026-11-23T09:00:00.000Z' },
  );
  await x.run(older);
  expect(await x.outcome(older)).toMatchObject({ result: 'ignored', reason: 'older-settings' });
  const again = Date.now();
  await x.run(x.ev(t, 'cart.added', { cartId: 'e', sku: 'A', quantity: 1 }));
  after((await expiryOf(t, 'e')).set, again, 5);

  expect(await settingsRow(t)).toMatchObject({
    cart_ttl_seconds: 5,
    checkout_ttl_seconds: 120,
    default_reorder_level: null,
    cart_ttl_set_at: new Date('2026-11-23T10:00:00.000Z'),
    checkout_ttl_set_at: new Date('2026-11-23T10:00:00.000Z'),
    default_reorder_level_set_at: null,
    event_source: configured.source ?? '/test',
    event_id: configured.id,
  });

  // null clears: back to CART_TTL_SECONDS
  const cleared = x.ev(
    t,
    'tenant.configured',
    { cartTtlSeconds: null, defaultReorderLevel: 4 },
    { time: '2026-11-23T11:00:00.000Z' },
  );
  await x.run(cleared);
  const later = Date.now();
  await x.run(x.ev(t, 'cart.added', { cartId: 'f', sku: 'A', quantity: 1 }));
  after((await expiryOf(t, 'f')).set, later, CART_TTL_S);
  expect(await settingsRow(t)).toMatchObject({
    cart_ttl_seconds: null,
    checkout_ttl_seconds: 120,
    default_reorder_level: 4,
    cart_ttl_set_at: new Date('2026-11-23T11:00:00.000Z'),
    event_id: cleared.id,
  });
  await x.expectLedgerMatchesLevels(t);
});

it("checkoutTtlSeconds applies to the next cart.checkout-started naming no ttlSeconds; the event's own first", async () => {
  const t = x.tenant();
  await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }));
  await x.run(x.ev(t, 'tenant.configured', { cartTtlSeconds: 60, checkoutTtlSeconds: 120 }));
  await x.run(
    x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 1 }),
    x.ev(t, 'cart.added', { cartId: 'd', sku: 'A', quantity: 1 }),
  );
  const startedAt = Date.now();
  await x.run(x.ev(t, 'cart.checkout-started', { cartId: 'c' }));
  after((await expiryOf(t, 'c')).set, startedAt, 120);
  expect((await expiryOf(t, 'c')).mysql).toBe((await expiryOf(t, 'c')).set);
  await x.run(x.ev(t, 'cart.checkout-started', { cartId: 'd', ttlSeconds: 300 }));
  after((await expiryOf(t, 'd')).set, startedAt, 300);
});

it('defaultReorderLevel: low stock for a SKU-location with no level of its own, never written into it', async () => {
  const t = x.tenant('reorder');
  await x.run(
    x.ev(t, 'tenant.configured', { defaultReorderLevel: 3 }),
    x.ev(t, 'stock.received', { sku: 'R', quantity: 6 }),
    x.ev(t, 'stock.received', { sku: 'OWN', quantity: 6 }),
    x.ev(t, 'stock.configured', { sku: 'OWN', locationId: 'default', reorderLevel: 1 }),
  );
  // 6 → 4: above the default; 4 → 2: at or below it, once
  const first = x.ev(t, 'cart.added', { cartId: 'c1', sku: 'R', quantity: 2 });
  const second = x.ev(t, 'cart.added', { cartId: 'c2', sku: 'R', quantity: 2 });
  const third = x.ev(t, 'cart.added', { cartId: 'c3', sku: 'R', quantity: 1 });
  // its own level (1) wins over the default: 6 → 3 is not low
  const own = x.ev(t, 'cart.added', { cartId: 'c4', sku: 'OWN', quantity: 3 });
  await x.run(first);
  await x.run(second);
  await x.run(third, own);
  const lows = async (e: Ev) =>
    (await x.waitAnnouncements(e, 1)).filter((a) => a.type === 'inventory.low-stock');
  expect(await lows(first)).toEqual([]);
  const low = await lows(second);
  expect(low.map((a) => a.data)).toEqual([
    expect.objectContaining({
      sku: 'R',
      locationId: 'default',
      available: 2,
      reorderLevel: 3,
      reorderQuantity: null,
    }),
  ]);
  expect(await lows(third)).toEqual([]);
  expect(await lows(own)).toEqual([]);
  // the default is not written into the pair
  expect(await x.config(t, 'R')).toEqual({ reorderLevel: null, reorderQuantity: null });
});

it('Redis losing the tenant: the loader restores its settings from MySQL', async () => {
  const t = x.tenant();
  await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }));
  await x.run(
    x.ev(t, 'tenant.configured', { cartTtlSeconds: 7 }, { time: '2026-11-23T10:00:00.000Z' }),
  );
  const keys = new TenantKeys(x.t.config.REDIS_PREFIX, t);
  const redis = x.t.worker.services.redis;
  const meta = await redis.hgetall(keys.meta);
  await unlinkTenantKeys(redis, keys);
  expect(await redis.exists(keys.meta)).toBe(0);

  const before = Date.now();
  await x.run(x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 1 }));
  after((await expiryOf(t, 'c')).set, before, 7);
  const reloaded = await redis.hgetall(keys.meta);
  expect(Number(reloaded.epoch)).toBeGreaterThan(Number(meta.epoch));
  expect(reloaded['cfg:cartTtlSeconds']).toBe('7');
  expect(reloaded['cfgAt:cartTtlSeconds']).toBe(meta['cfgAt:cartTtlSeconds']);
  // the ordering survives it: an event older than the restored setting is still ignored
  const older = x.ev(
    t,
    'tenant.configured',
    { cartTtlSeconds: 60 },
    { time: '2026-11-23T09:00:00.000Z' },
  );
  await x.run(older);
  expect(await x.outcome(older)).toMatchObject({ result: 'ignored', reason: 'older-settings' });
});

it('inventory tenant show: each value and where it comes from', async () => {
  const t = x.tenant();
  const env = {
    AMQP_URL: x.url,
    MYSQL_URL: x.t.config.MYSQL_URL,
    REDIS_PREFIX: x.t.config.REDIS_PREFIX,
    CART_TTL_SECONDS: String(CART_TTL_S),
    CHECKOUT_TTL_SECONDS: String(CHECKOUT_TTL_S),
  };
  const show = async () => {
    const r = await inventory(['tenant', 'show', t, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as {
      settings: { setting: string; value: number | null; source: string }[];
      lastEvent: { id: string } | null;
    };
  };
  expect(await show()).toMatchObject({
    settings: [
      { setting: 'cartTtlSeconds', value: CART_TTL_S, source: 'CART_TTL_SECONDS' },
      { setting: 'checkoutTtlSeconds', value: CHECKOUT_TTL_S, source: 'CHECKOUT_TTL_SECONDS' },
      { setting: 'defaultReorderLevel', value: null, source: 'none' },
    ],
    lastEvent: null,
  });
  const e = x.ev(t, 'tenant.configured', { checkoutTtlSeconds: 90 });
  await x.run(e);
  expect(await show()).toMatchObject({
    settings: [
      { setting: 'cartTtlSeconds', value: CART_TTL_S, source: 'CART_TTL_SECONDS' },
      {
        setting: 'checkoutTtlSeconds',
        value: 90,
        source: 'tenant.configured',
        setAt: '2026-11-23T10:15:00.000Z',
      },
      { setting: 'defaultReorderLevel', value: null, source: 'none' },
    ],
    lastEvent: { id: e.id },
  });
  const text = await inventory(['tenant', 'show', t], env);
  expect(text.stdout).toMatch(/^checkoutTtlSeconds +90 +tenant\.configured/m);
});

it('an invalid tenant.configured is dead-lettered with its reason', async () => {
  const t = x.tenant();
  const none = x.ev(t, 'tenant.configured', {});
  const zero = x.ev(t, 'tenant.configured', { cartTtlSeconds: 0 });
  const long = x.ev(t, 'tenant.configured', { checkoutTtlSeconds: 604_801 });
  await x.publishInvalid(none, zero, long);
  await x.quiesce();
  const dead = await x.takeDeadLetters();
  const reasons = new Map(
    dead.map((m) => [
      (JSON.parse(m.content.toString()) as { id: string }).id,
      String(m.properties.headers?.['x-error-reason']),
    ]),
  );
  expect(reasons.get(none.id)).toMatch(
    /^invalid: invalid tenant\.configured data: .*must name at least one of/,
  );
  expect(reasons.get(zero.id)).toMatch(/^invalid: invalid tenant\.configured data: cartTtlSeconds/);
  expect(reasons.get(long.id)).toMatch(
    /^invalid: invalid tenant\.configured data: checkoutTtlSeconds/,
  );
  expect(await settingsRow(t)).toBeUndefined();
});
