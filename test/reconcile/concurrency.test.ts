import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createReconcileHarness, events, type ReconcileHarness } from './harness.js';

let h: ReconcileHarness;
beforeAll(async () => {
  h = await createReconcileHarness('rec_conc');
});
afterAll(async () => {
  await h?.close();
});

const SKUS = Array.from({ length: 40 }, (_, i) => `S${String(i).padStart(2, '0')}`);

/**
 * Applies events and mirrors them (group commit, not awaited one by one) until `stop`, as a
 * busy worker does: Redis runs ahead of MySQL by whatever is in flight at any moment.
 */
function traffic(tenant: string, stop: { done: boolean }, skus = SKUS): Promise<number> {
  const e = events(tenant);
  let n = 0;
  const writes: Promise<unknown>[] = [];
  const one = async (): Promise<void> => {
    const sku = skus[n % skus.length]!;
    const cartId = `cart-${n % 25}`;
    const roll = n++ % 4;
    const r = await h.s.engine.apply(
      e(),
      roll === 0
        ? { op: 'receiveStock', sku, locationId: 'default', quantity: 2 }
        : roll === 1
          ? { op: 'reserveCart', cartId, sku, locationId: 'default', quantity: 1, ttlMs: 3_600_000 }
          : roll === 2
            ? { op: 'releaseCart', mode: 'remove', cartId, sku, quantity: 1 }
            : { op: 'adjustStock', sku, locationId: 'default', delta: 1, reason: 'found' },
    );
    if (r.status === 'applied') writes.push(h.s.writer.write(r.payload, r.entryId));
  };
  return (async () => {
    while (!stop.done) await Promise.all([one(), one(), one(), one()]);
    await Promise.all(writes);
    return n;
  })();
}

async function seed(tenant: string): Promise<void> {
  const e = events(tenant);
  for (const sku of SKUS)
    await h.apply(e(), { op: 'receiveStock', sku, locationId: 'default', quantity: 50 });
}

describe('reconciliation while events are applied and mirrored', () => {
  test('in-flight events are never reported as drift', async () => {
    await seed('busy');
    const stop = { done: false };
    const running = traffic('busy', stop);
    try {
      for (let i = 0; i < 3; i++) {
        const r = await h.run({ tenant: 'busy', pageSize: 7, recheckDelayMs: 300 });
        expect(r.firstDrifts).toEqual([]);
        expect(r.stockChecked).toBe(SKUS.length);
      }
    } finally {
      stop.done = true;
    }
    expect(await running).toBeGreaterThan(100);
  });

  test('a repair racing live events on the same pairs never loses an event', async () => {
    await seed('race');
    const tampered = SKUS.slice(0, 4);
    for (const sku of tampered) await h.s.redis.hincrby(h.stockKey('race', sku), 'onHand', 3);
    const stop = { done: false };
    // every event lands on a tampered pair: the repair's compare-and-set keeps losing races
    const running = traffic('race', stop, tampered);
    let repaired = 0;
    try {
      const r = await h.run({ tenant: 'race', repair: true, pageSize: 7, recheckDelayMs: 300 });
      repaired = r.repaired;
      expect(r.firstDrifts.filter((d) => !d.repaired)).toEqual([]);
    } finally {
      stop.done = true;
    }
    await running;
    await h.s.writer.flush();
    expect(repaired).toBe(4);
    // every event is in both: Redis, stock_levels and the ledger agree exactly
    const after = await h.run({ tenant: 'race' });
    expect(after.firstDrifts).toEqual([]);
    expect(await h.s.redis.xlen(h.keys('race').outbox)).toBe(0);
  });
});
