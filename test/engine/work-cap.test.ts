/**
 * One event's script runs alone in Redis: an event whose lines × candidate locations exceed
 * the cap (MAX_EVENT_STOCK_KEYS) is refused before any script runs, and changes nothing. The
 * largest event under the cap is applied, and how long its call took is printed (the stall a
 * tenant can cause every other one; see docs/security.md).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Command } from '../../src/domain/types.js';
import { DEFAULT_MAX_STOCK_KEYS, type Engine } from '../../src/engine/engine.js';
import { TenantKeys } from '../../src/engine/keys.js';
import { PermanentError } from '../../src/errors/permanent-error.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { eventMaker, mustApply, readFigures, testEngine } from '../support/engine-harness.js';

const LOCATIONS = 20;
const SKUS_AT_CAP = DEFAULT_MAX_STOCK_KEYS / LOCATIONS;
const skus = Array.from({ length: SKUS_AT_CAP + 1 }, (_, i) => `S${i}`);

let redis: Redis;
let engine: Engine;
const prefix = uniqueName('workcap');
const tenant = 'cap';
const ev = eventMaker(tenant);
const ok = (c: Command) => mustApply(engine, ev(c.op), c);

beforeAll(async () => {
  redis = testRedis();
  engine = testEngine(redis, prefix);
  for (let l = 0; l < LOCATIONS; l++) {
    const locationId = `L${l}`;
    await ok({ op: 'upsertLocation', locationId, name: locationId, priority: l, shipsTo: [] });
    await ok({ op: 'bindLocation', locationId, skus, bound: true });
  }
  // stock only at the last location: routing looks at every candidate before it
  for (const sku of skus)
    await ok({ op: 'receiveStock', sku, locationId: `L${LOCATIONS - 1}`, quantity: 1 });
}, 120_000);

afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

const order = (orderId: string, n: number): Command => ({
  op: 'placeOrder',
  orderId,
  lines: [],
  routed: skus.slice(0, n).map((sku) => ({ sku, quantity: 1 })),
});

it('an event over the cap is refused before its script runs, and changes nothing', async () => {
  const k = new TenantKeys(prefix, tenant);
  const before = await redis.xlen(k.outbox);
  const refused = engine.apply(ev('placeOrder', 'too-big'), order('too-big', SKUS_AT_CAP + 1));
  await expect(refused).rejects.toBeInstanceOf(PermanentError);
  await expect(refused).rejects.toMatchObject({ reason: 'too-much-work' });
  await expect(refused).rejects.toThrow(`would touch ${(SKUS_AT_CAP + 1) * LOCATIONS} stock keys`);
  expect(await redis.exists(k.order('too-big'))).toBe(0);
  expect(await redis.xlen(k.outbox)).toBe(before);
  expect((await readFigures(redis, k, 'S0', `L${LOCATIONS - 1}`)).reserved).toBe(0);
});

it('the largest event under the cap is applied', async () => {
  const k = new TenantKeys(prefix, tenant);
  const started = performance.now();
  await ok(order('at-cap', SKUS_AT_CAP));
  const ms = performance.now() - started;
  // Redis's own time for the call, from its slow log (entries over 10 ms by default)
  const slow = (await redis.slowlog('GET', 128)) as [number, number, number, string[]][];
  const ours = slow.find(([, , , args]) => args.some((a) => a.includes(`${prefix}:`)));
  console.log(
    `work cap: an order of ${SKUS_AT_CAP} routed lines over ${LOCATIONS} locations ` +
      `(${DEFAULT_MAX_STOCK_KEYS} stock keys) took ${ms.toFixed(1)} ms end to end, ` +
      `${ours ? `${(ours[2] / 1000).toFixed(1)} ms in Redis` : 'under 10 ms in Redis'}`,
  );
  for (const sku of ['S0', `S${SKUS_AT_CAP - 1}`])
    expect((await readFigures(redis, k, sku, `L${LOCATIONS - 1}`)).reserved).toBe(1);
});
