import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CartExpiry, CART_EXPIRY_SOURCE } from '../../jobs/cart-expiry.js';
import { collectAnnouncements, publishEvents } from '../support/rabbit.js';
import { startTestWorker, waitFor, type TestWorker } from '../support/worker.js';

let w: TestWorker;
let announced: Awaited<ReturnType<typeof collectAnnouncements>>;
let seq = 0;
const id = () => `ce-${++seq}`;

const level = async (sku: string) => {
  const row = (await w.worker.services.knex('stock_levels').where({ sku }).first()) as
    { on_hand: number; reserved: number; available: number } | undefined;
  return row ?? { on_hand: 0, reserved: 0, available: 0 };
};
const processed = async () =>
  Number(
    ((await w.worker.services.knex('processed_events').count({ n: '*' })) as { n: number }[])[0]!.n,
  );

beforeAll(async () => {
  w = await startTestWorker('expiry', { CART_TTL_SECONDS: '2' });
  announced = await collectAnnouncements(w.amqpUrl);
});
afterAll(async () => {
  await announced?.close();
  await w?.cleanup();
});

describe('cart expiry (BullMQ delayed jobs, 2 s TTL)', () => {
  test('an abandoned cart is released after its TTL and inventory.expired is published', async () => {
    await publishEvents(w.amqpUrl, [
      { type: 'stock.received', id: id(), data: { sku: 'EXP-1', quantity: 10 } },
      { type: 'cart.added', id: id(), data: { cartId: 'abandoned', sku: 'EXP-1', quantity: 4 } },
    ]);
    await waitFor(async () => (await level('EXP-1')).reserved === 4, 10_000, 'hold');
    await waitFor(async () => (await level('EXP-1')).reserved === 0, 10_000, 'expiry');
    expect(await level('EXP-1')).toMatchObject({ on_hand: 10, reserved: 0, available: 10 });
    await waitFor(
      () => announced.events.some((e) => e.type === 'inventory.expired'),
      5_000,
      'announcement',
    );
    const expired = announced.events.find((e) => e.type === 'inventory.expired')!;
    expect(expired.data).toMatchObject({
      referenceType: 'cart',
      referenceId: 'abandoned',
      lines: [{ sku: 'EXP-1', locationId: 'default', quantity: 4 }],
    });
    const row = (await w.worker.services
      .knex('inventory_ledger')
      .where({ sku: 'EXP-1', movement: 'expired' })
      .first()) as {
      reserved_delta: number;
      event_source: string;
    };
    expect(row).toMatchObject({ reserved_delta: -4, event_source: CART_EXPIRY_SOURCE });
  });

  test('a cart refreshed before its TTL keeps its hold until the new TTL', async () => {
    await publishEvents(w.amqpUrl, [
      { type: 'stock.received', id: id(), data: { sku: 'EXP-2', quantity: 10 } },
      { type: 'cart.added', id: id(), data: { cartId: 'refreshed', sku: 'EXP-2', quantity: 1 } },
    ]);
    await waitFor(async () => (await level('EXP-2')).reserved === 1, 10_000, 'hold');
    await new Promise((r) => setTimeout(r, 1200));
    await publishEvents(w.amqpUrl, [
      { type: 'cart.added', id: id(), data: { cartId: 'refreshed', sku: 'EXP-2', quantity: 1 } },
    ]);
    await waitFor(async () => (await level('EXP-2')).reserved === 2, 10_000, 'second add');
    // the first job fires ~0.8 s later and must be ignored (cart refreshed)
    await new Promise((r) => setTimeout(r, 1300));
    expect((await level('EXP-2')).reserved).toBe(2);
    await waitFor(
      async () => (await level('EXP-2')).reserved === 0,
      10_000,
      'expiry of the refreshed cart',
    );
  });

  test('a cart converted into an order is never expired', async () => {
    await publishEvents(w.amqpUrl, [
      { type: 'stock.received', id: id(), data: { sku: 'EXP-3', quantity: 10 } },
      { type: 'cart.added', id: id(), data: { cartId: 'converted', sku: 'EXP-3', quantity: 3 } },
      {
        type: 'order.placed',
        id: id(),
        data: { orderId: 'ord-exp-3', cartId: 'converted', lines: [{ sku: 'EXP-3', quantity: 3 }] },
      },
    ]);
    await waitFor(async () => (await level('EXP-3')).reserved === 3, 10_000, 'order hold');
    await new Promise((r) => setTimeout(r, 3000));
    expect(await level('EXP-3')).toMatchObject({ reserved: 3, available: 7 });
  });

  test('duplicate and late expiry jobs change nothing', async () => {
    await publishEvents(w.amqpUrl, [
      { type: 'stock.received', id: id(), data: { sku: 'EXP-4', quantity: 10 } },
      { type: 'cart.added', id: id(), data: { cartId: 'dup', sku: 'EXP-4', quantity: 2 } },
    ]);
    await waitFor(async () => (await level('EXP-4')).reserved === 2, 10_000, 'hold');
    const hold = (await w.worker.services
      .knex('reservations')
      .where({ ref_type: 'cart', ref_id: 'dup' })
      .first()) as {
      expires_at: Date;
    };
    const expiresAt = hold.expires_at.getTime();
    await waitFor(async () => (await level('EXP-4')).reserved === 0, 10_000, 'expiry');
    const before = await processed();
    // The same job again (a duplicate event) and a late job for an older expiry.
    const { cartExpiry } = w.worker;
    await cartExpiry.queue.add(
      'expire',
      { tenant: 'default', cartId: 'dup', expiresAt },
      { jobId: 'manual-dup' },
    );
    await cartExpiry.queue.add(
      'expire',
      { tenant: 'default', cartId: 'dup', expiresAt: expiresAt - 5000 },
      { jobId: 'manual-late' },
    );
    // the same expiry again is a duplicate event (no new row); the older one is an event of its
    // own that finds no hold with that expiry
    await waitFor(
      async () =>
        (await cartExpiry.queue.getJobState('manual-dup')) === 'completed' &&
        (await cartExpiry.queue.getJobState('manual-late')) === 'completed',
      10_000,
      'manual jobs',
    );
    expect(await processed()).toBe(before + 1);
    expect(await level('EXP-4')).toMatchObject({ on_hand: 10, reserved: 0, available: 10 });
    expect((await cartExpiry.queue.getJob('manual-dup'))?.returnvalue).toBe('duplicate');
    expect((await cartExpiry.queue.getJob('manual-late'))?.returnvalue).toBe('no-cart-hold');
    expect(
      Number(
        (
          (await w.worker.services
            .knex('inventory_ledger')
            .where({ sku: 'EXP-4', movement: 'expired' })
            .count({ n: '*' })) as { n: number }[]
        )[0]!.n,
      ),
    ).toBe(1);
  });

  test('10,000 carts expiring together all release', async () => {
    await publishEvents(w.amqpUrl, [
      { type: 'stock.received', id: id(), data: { sku: 'EXP-5', quantity: 20_000 } },
    ]);
    const adds = Array.from({ length: 10_000 }, (_, i) => ({
      type: 'cart.added',
      id: `bulk-${i}`,
      data: { cartId: `bulk-cart-${i}`, sku: 'EXP-5', quantity: 1 },
    }));
    await publishEvents(w.amqpUrl, adds);
    const count = async (movement: string) =>
      Number(
        (
          (await w.worker.services
            .knex('inventory_ledger')
            .where({ sku: 'EXP-5', movement })
            .count({ n: '*' })) as { n: number }[]
        )[0]!.n,
      );
    // With a 2 s TTL the first carts expire while the last are still being added.
    await waitFor(async () => (await count('reserved')) === 10_000, 60_000, 'all holds');
    await waitFor(async () => (await count('expired')) === 10_000, 60_000, 'all expiries');
    expect(await level('EXP-5')).toMatchObject({ on_hand: 20_000, reserved: 0, available: 20_000 });
  }, 120_000);
});

test('one job id per tenant and second of expiry, with no colon', () => {
  const a = CartExpiry.jobId({ tenant: 't:1', cartId: 'c:1', expiresAt: 5 });
  expect(a).not.toContain(':');
  // every cart of the tenant expiring in the same second shares the job
  expect(a).toBe(CartExpiry.jobId({ tenant: 't:1', cartId: 'c:2', expiresAt: 1000 }));
  expect(a).not.toBe(CartExpiry.jobId({ tenant: 't:1', cartId: 'c:1', expiresAt: 1001 }));
  expect(a).not.toBe(CartExpiry.jobId({ tenant: 't:2', cartId: 'c:1', expiresAt: 5 }));
});
