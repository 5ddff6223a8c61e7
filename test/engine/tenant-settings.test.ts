/**
 * tenant.configured (configureTenant-3.lua) through the Lua engine on real Redis: the settings
 * go into the tenant's meta hash, the next cart.added takes the tenant's cart TTL and the next
 * cart.checkout-started its checkout TTL (the event's own first); null clears a setting; an
 * older event never overwrites a setting a later one set. The common cart.added path costs no
 * extra round trip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Engine } from '../../src/engine/engine.js';
import { TenantKeys } from '../../src/engine/keys.js';
import type { Command } from '../../src/domain/types.js';
import { InventoryModel } from '../../src/domain/model.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { eventMaker, mustApply, testEngine } from '../support/engine-harness.js';

const NOW = 1_800_000_000_000;
const TTL = 60 * 60 * 1000;
const CHECKOUT = 15 * 60 * 1000;
const T1 = Date.UTC(2026, 10, 1);
const T2 = T1 + 60_000;
const T3 = T2 + 60_000;

let redis: Redis;
let engine: Engine;
const prefix = uniqueName('tenantcfg');

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
  const name = `tc${++tenants}`;
  const ev = eventMaker(name);
  const model = new InventoryModel();
  let n = 0;
  const apply = async (c: Command) => {
    const meta = ev(c.op, `e${++n}`);
    const r = await mustApply(engine, meta, c);
    // the domain model says the same
    const m = model.apply(meta, c, NOW);
    expect(m.status).toBe('applied');
    if (m.status === 'applied') {
      expect(r.payload.outcome).toEqual(m.payload.outcome);
      expect(r.payload.holds).toEqual(m.payload.holds);
      expect(r.payload.settings).toEqual(m.payload.settings);
    }
    return r.payload;
  };
  return {
    name,
    keys: new TenantKeys(prefix, name),
    apply,
    configure: (at: number, s: Omit<Extract<Command, { op: 'configureTenant' }>, 'op' | 'at'>) =>
      apply({ op: 'configureTenant', at, ...s }),
    /** cart.added of one unit (stock received first): the cart's expiry */
    async add(cartId: string) {
      await apply({ op: 'receiveStock', sku: 'S', locationId: 'default', quantity: 1 });
      const p = await apply({
        op: 'reserveCart',
        cartId,
        sku: 'S',
        locationId: 'default',
        quantity: 1,
        ttlMs: TTL,
      });
      expect(p.outcome.result).toBe('applied');
      return p.holds[0]!.expiresAt;
    },
  };
}

describe('tenant.configured', () => {
  it('the next cart.added holds for the tenant cart TTL; a tenant without one keeps the default', async () => {
    const t = tenant();
    const p = await t.configure(T1, { cartTtlSeconds: 5 });
    expect(p.outcome).toEqual({ result: 'applied' });
    expect(p.settings).toEqual({
      cartTtlSeconds: 5,
      checkoutTtlSeconds: null,
      defaultReorderLevel: null,
      setAt: { cartTtlSeconds: T1 },
    });
    expect(await redis.hmget(t.keys.meta, 'cfg:cartTtlSeconds', 'cfgAt:cartTtlSeconds')).toEqual([
      '5',
      String(T1),
    ]);
    expect(await t.add('c1')).toBe(NOW + 5000);
    expect(Number(await redis.zscore(t.keys.cartExpiries, 'c1'))).toBe(NOW + 5000);
    expect(Number(await redis.hget(t.keys.cart('c1'), 'exp'))).toBe(NOW + 5000);
    // the generic path too (a second SKU line takes the fast path; a refusal would not apply)
    const other = tenant();
    expect(await other.add('c1')).toBe(NOW + TTL);
  });

  it('each event sets what it names; null clears back to the default', async () => {
    const t = tenant();
    await t.configure(T1, { cartTtlSeconds: 5, checkoutTtlSeconds: 120 });
    const p = await t.configure(T2, { cartTtlSeconds: null, defaultReorderLevel: 3 });
    expect(p.settings).toEqual({
      cartTtlSeconds: null,
      checkoutTtlSeconds: 120,
      defaultReorderLevel: 3,
      setAt: { cartTtlSeconds: T2, checkoutTtlSeconds: T1, defaultReorderLevel: T2 },
    });
    expect(await redis.hexists(t.keys.meta, 'cfg:cartTtlSeconds')).toBe(0);
    expect(await t.add('c1')).toBe(NOW + TTL);
  });

  it('an older event changes nothing a later one set; what it names that was not set later applies', async () => {
    const t = tenant();
    await t.configure(T2, { cartTtlSeconds: 5 });
    const late = await t.configure(T1, { cartTtlSeconds: 100 });
    expect(late.outcome).toEqual({ result: 'ignored', reason: 'older-settings' });
    expect(late.settings).toBeUndefined();
    expect(await t.add('c1')).toBe(NOW + 5000);
    const partly = await t.configure(T1, { cartTtlSeconds: 100, checkoutTtlSeconds: 60 });
    expect(partly.outcome).toEqual({ result: 'applied' });
    expect(partly.settings).toMatchObject({ cartTtlSeconds: 5, checkoutTtlSeconds: 60 });
    // a later clear wins over an older set arriving after it
    await t.configure(T3, { cartTtlSeconds: null });
    const older = await t.configure(T2, { cartTtlSeconds: 7 });
    expect(older.outcome.reason).toBe('older-settings');
    expect(await t.add('c2')).toBe(NOW + TTL);
  });

  it('cart.checkout-started: the event ttlSeconds first, then the tenant checkout TTL, then the default', async () => {
    const t = tenant();
    await t.add('c1');
    await t.add('c2');
    await t.add('c3');
    const extend = (cartId: string, ttlMs: number, ttlFromEvent?: boolean) =>
      t.apply({ op: 'extendCart', cartId, ttlMs, ...(ttlFromEvent ? { ttlFromEvent } : {}) });
    // no tenant setting: the default (here longer than the cart TTL so that it applies)
    expect((await extend('c1', 2 * TTL)).holds[0]!.expiresAt).toBe(NOW + 2 * TTL);
    await t.configure(T1, { checkoutTtlSeconds: 3 * 3600 });
    expect((await extend('c2', CHECKOUT)).holds[0]!.expiresAt).toBe(NOW + 3 * TTL);
    expect((await extend('c3', 4 * TTL, true)).holds[0]!.expiresAt).toBe(NOW + 4 * TTL);
  });

  it('the common cart.added path costs no extra round trip to Redis', async () => {
    const counted = async (t: ReturnType<typeof tenant>, cartId: string) => {
      await t.apply({ op: 'receiveStock', sku: 'S', locationId: 'default', quantity: 1 });
      let sent = 0;
      const original = redis.sendCommand.bind(redis);
      redis.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
        sent++;
        return original(...args);
      }) as Redis['sendCommand'];
      try {
        await t.apply({
          op: 'reserveCart',
          cartId,
          sku: 'S',
          locationId: 'default',
          quantity: 1,
          ttlMs: TTL,
        });
      } finally {
        redis.sendCommand = original;
      }
      return sent;
    };
    const plain = tenant();
    await plain.add('warm');
    const configured = tenant();
    await configured.configure(T1, { cartTtlSeconds: 5 });
    await configured.add('warm');
    const without = await counted(plain, 'c1');
    const withSetting = await counted(configured, 'c1');
    expect(without).toBe(1); // the script call, nothing else
    expect(withSetting).toBe(without);
  });
});
