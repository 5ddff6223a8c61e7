/**
 * CartExpiry.schedule against the real Redis: the open carts of one turn become one delayed
 * BullMQ job per tenant and second of expiry, added in one call at the end of the turn, which
 * every caller waits for.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CartExpiry } from '../../jobs/cart-expiry.js';
import { bullPrefix } from '../../jobs/connection.js';
import type { HoldSnapshot, OutboxPayload } from '../../src/domain/types.js';
import { dropRedisPrefix, testRedis, TEST_REDIS_URL, uniqueName } from '../support/isolation.js';

const prefix = uniqueName('expiry_schedule');
const redis = testRedis();
let expiry: CartExpiry;

beforeAll(() => {
  expiry = new CartExpiry({
    redis: { url: TEST_REDIS_URL, clusterNodes: [] },
    redisPrefix: prefix,
    runner: {
      applyDurably: () => Promise.reject(new Error('no job runs in this test')),
      announce: () => Promise.resolve(),
    },
    logger: pino({ level: 'silent' }),
  });
});
afterAll(async () => {
  await expiry.close();
  await dropRedisPrefix(redis, bullPrefix(prefix));
  redis.disconnect();
});

const payload = (tenant: string, holds: HoldSnapshot[]): OutboxPayload => ({
  tenant,
  source: '/test',
  id: `e-${Math.random()}`,
  type: 'cart.added',
  occurredAt: new Date().toISOString(),
  epoch: 1,
  outcome: { result: 'applied' },
  movements: [],
  holds,
  config: [],
});
const cart = (id: string, expiresAt: number, state = 'open'): HoldSnapshot => ({
  kind: 'cart',
  id,
  state,
  lines: [],
  expiresAt,
  version: 1,
});

test('one turn’s carts: one job per tenant and second of expiry, every caller waits for it', async () => {
  const base = Math.ceil(Date.now() / 1000) * 1000 + 3_600_000;
  const calls: Promise<void>[] = [];
  const expected = new Set<string>();
  for (let i = 0; i < 1_000; i++) {
    const tenant = i % 2 === 0 ? 'acme' : 'globex';
    // three seconds of expiry, each with carts at its start, middle and end
    const expiresAt = base - 999 + (i % 3) * 1000 + (i % 5) * 249;
    calls.push(expiry.schedule(payload(tenant, [cart(`c${i}`, expiresAt)])));
    expected.add(CartExpiry.jobId({ tenant, cartId: `c${i}`, expiresAt }));
  }
  // nothing to schedule: resolved at once, no job
  calls.push(expiry.schedule(payload('initech', [cart('gone', base, 'converted')])));
  calls.push(expiry.schedule(payload('initech', [])));
  await Promise.all(calls);

  expect(expected.size).toBe(6);
  const jobs = await expiry.queue.getDelayed();
  expect(new Set(jobs.map((j) => j.id))).toEqual(expected);
  for (const j of jobs) {
    expect(j.name).toBe('expire-due');
    expect(j.data).toEqual({
      tenant: expect.stringMatching(/^(acme|globex)$/),
      until: expect.any(Number),
    });
    expect((j.data as { until: number }).until % 1000).toBe(0);
  }
});

test('a failed add fails every cart of its turn', async () => {
  // the queue's own Redis connection, closed for good: its next command fails
  (expiry as unknown as { queueConnection: { disconnect(): void } }).queueConnection.disconnect();
  const results = await Promise.allSettled([
    expiry.schedule(payload('acme', [cart('late-1', Date.now() + 60_000)])),
    expiry.schedule(payload('acme', [cart('late-2', Date.now() + 61_000)])),
  ]);
  expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
});
