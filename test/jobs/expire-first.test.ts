import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CartExpiry, CART_EXPIRY_SOURCE } from '../../jobs/cart-expiry.js';
import { cartExpiryId } from '../../src/domain/cart-expiry.js';
import { TenantKeys } from '../../src/engine/keys.js';
import { rebuildTenant } from '../../src/ledger/rebuild.js';
import { reconcile } from '../../src/reconcile/index.js';
import { createLogger } from '../../src/logger.js';
import { collectAnnouncements, publishEvents } from '../support/rabbit.js';
import { startTestWorker, waitFor, type TestWorker } from '../support/worker.js';

/**
 * The contract: stock held by an expired cart never makes a new reservation fail, even while
 * the job runner is down. Here the cart-expiry queue is paused (no expiry job runs) until the
 * end, when the jobs run late and must change nothing more.
 */
let w: TestWorker;
let announced: Awaited<ReturnType<typeof collectAnnouncements>>;
let seq = 0;
const id = () => `xf-${++seq}`;
const logger = createLogger('silent', 'expire-first');

const level = async (sku: string) => {
  const row = (await w.worker.services.knex('stock_levels').where({ sku }).first()) as
    { on_hand: number; reserved: number; available: number } | undefined;
  return row ?? { on_hand: 0, reserved: 0, available: 0 };
};
const expiredRows = async (cartId: string) =>
  (await w.worker.services
    .knex('inventory_ledger')
    .where({ reference_type: 'cart', reference_id: cartId, movement: 'expired' })
    .select('reserved_delta', 'event_source', 'event_id')) as {
    reserved_delta: number;
    event_source: string;
    event_id: string;
  }[];
const hold = async (cartId: string) =>
  (await w.worker.services
    .knex('reservations')
    .where({ ref_type: 'cart', ref_id: cartId })
    .first('state', 'expires_at')) as { state: string; expires_at: Date | null } | undefined;
const sleepPast = async (ms: number) => {
  while (Date.now() <= ms) await new Promise((r) => setTimeout(r, ms - Date.now() + 50));
};

beforeAll(async () => {
  w = await startTestWorker('expfirst', { CART_TTL_SECONDS: '1' });
  announced = await collectAnnouncements(w.amqpUrl);
  await w.worker.cartExpiry.queue.pause();
});
afterAll(async () => {
  await announced?.close();
  await w?.cleanup();
});

describe('expired carts never block a reservation (job runner down)', () => {
  test('a reservation expires the due cart first; the late job changes nothing', async () => {
    const keys = new TenantKeys(w.config.REDIS_PREFIX, 'default');
    const { redis, knex } = w.worker.services;
    await publishEvents(w.amqpUrl, [
      { type: 'stock.received', id: id(), data: { sku: 'XF-1', quantity: 3 } },
      { type: 'cart.added', id: id(), data: { cartId: 'old', sku: 'XF-1', quantity: 3 } },
    ]);
    await waitFor(async () => (await level('XF-1')).reserved === 3, 10_000, 'old hold');
    const oldHold = await hold('old');
    expect(oldHold?.state).toBe('open');
    const oldExpiry = oldHold!.expires_at!.getTime();
    expect(Number(await redis.zscore(keys.cartExpiries, 'old'))).toBe(oldExpiry);
    await sleepPast(oldExpiry);

    // the job runner is paused: only the reservation itself can free the stock
    await publishEvents(w.amqpUrl, [
      { type: 'cart.added', id: id(), data: { cartId: 'new', sku: 'XF-1', quantity: 2 } },
    ]);
    await waitFor(async () => (await hold('new'))?.state === 'open', 10_000, 'new hold');
    expect(await level('XF-1')).toMatchObject({ on_hand: 3, reserved: 2, available: 1 });
    expect(await hold('old')).toMatchObject({ state: 'expired' });
    // the expiry is the event its job applies (the job is the bucket's: old's second of expiry)
    const old = { tenant: 'default', cartId: 'old', expiresAt: oldExpiry };
    const job = CartExpiry.jobId(old);
    expect(await expiredRows('old')).toEqual([
      { reserved_delta: -3, event_source: CART_EXPIRY_SOURCE, event_id: cartExpiryId(old) },
    ]);
    expect(await redis.zscore(keys.cartExpiries, 'old')).toBeNull();
    await waitFor(
      () =>
        announced.events.some(
          (e) => e.type === 'inventory.expired' && e.data.referenceId === 'old',
        ),
      10_000,
      'inventory.expired for old',
    );
    expect(
      announced.events.filter(
        (e) => e.type === 'inventory.reservation-failed' && e.data.referenceId === 'new',
      ),
    ).toEqual([]);

    // a reload from MySQL rebuilds the expiry set from the open cart holds
    const newExpiry = (await hold('new'))!.expires_at!.getTime();
    await redis.zadd(keys.cartExpiries, 1, 'stale-entry');
    await rebuildTenant({ ...w.worker.services, prefix: w.config.REDIS_PREFIX, logger }, 'default');
    const set = await redis.zrange(keys.cartExpiries, 0, -1, 'WITHSCORES');
    expect(set).toEqual(['new', String(newExpiry)]);

    // the jobs run late: old's is a duplicate, new's expires it; one movement each
    await w.worker.cartExpiry.queue.resume();
    await waitFor(
      async () => (await w.worker.cartExpiry.queue.getJobState(job)) === 'completed',
      15_000,
      'old job',
    );
    await waitFor(async () => (await level('XF-1')).reserved === 0, 15_000, 'new expiry');
    expect(await expiredRows('old')).toHaveLength(1);
    expect(await expiredRows('new')).toHaveLength(1);
    expect(await level('XF-1')).toMatchObject({ on_hand: 3, reserved: 0, available: 3 });
    expect(await redis.zcard(keys.cartExpiries)).toBe(0);
    // one announcement identity for old's expiry (a late job may re-send it under that id)
    const ids = new Set(
      announced.events
        .filter((e) => e.type === 'inventory.expired' && e.data.referenceId === 'old')
        .map((e) => e.id),
    );
    expect(ids.size).toBe(1);

    // ledger, stock_levels and Redis agree
    const summary = await reconcile(
      {
        knex,
        redis,
        prefix: w.config.REDIS_PREFIX,
        engine: w.worker.services.engine,
        writer: w.worker.services.writer,
        logger,
        cartJobState: (jobId) => w.worker.cartExpiry.queue.getJobState(jobId),
      },
      { tenant: 'default' },
    );
    expect(summary).toMatchObject({ status: 'clean', drifts: 0 });
  });
});
