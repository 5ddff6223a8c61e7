/**
 * Scenario 1, flash sale: 100 units of one SKU, thousands of carts adding one unit each,
 * published as fast as possible to three worker processes at once. Exactly 100 are held,
 * every other cart gets inventory.reservation-failed, and `available` never goes below zero:
 * sampled in Redis and in stock_levels while the sale runs, and checked afterwards on the
 * ledger (in commit order, reserved never exceeds on-hand).
 */
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { INVENTORY_EXCHANGE } from '../../src/broker/topology.js';
import { pairOf, TenantKeys } from '../../src/engine/keys.js';
import { report, size, World, type ScenarioResult } from './support/harness.js';
import { checkInvariants } from './support/invariants.js';
import { Oracle } from './support/oracle.js';
import { toMessage, type Message } from './support/stream.js';

const UNITS = 100;
const CARTS = size(2_000, 5_000);
const TENANT = 'flash';
const SKU = 'hot-1';

let world: World | undefined;
afterAll(async () => {
  await world?.close();
});

it(`holds exactly ${UNITS} of ${UNITS} units for ${CARTS} carts on 3 workers`, async () => {
  world = await World.create('flash');
  const w = world;
  const setup = toMessage({
    id: 'receipt',
    type: 'stock.received',
    tenant: TENANT,
    data: { sku: SKU, quantity: UNITS },
  });
  const carts: Message[] = Array.from({ length: CARTS }, (_, i) =>
    toMessage({
      id: `add-${i}`,
      type: 'cart.added',
      tenant: TENANT,
      data: { cartId: `cart-${i}`, sku: SKU, quantity: 1 },
    }),
  );
  const oracle = new Oracle().applyAll([setup, ...carts]);

  await w.startWorkers(3);
  // what the workers announce, in a queue of the test's own
  const conn = await amqp.connect(w.amqpUrl);
  const ch = await conn.createChannel();
  await ch.assertExchange(INVENTORY_EXCHANGE, 'topic', { durable: true });
  const { queue } = await ch.assertQueue('faults.announcements', { durable: true });
  await ch.bindQueue(queue, INVENTORY_EXCHANGE, 'inventory.#');

  await w.publish([setup]);
  await w.drained(1, 0, 60_000);

  // sample `available` while the sale runs
  const redis = new Redis(w.redisUrl);
  const stockKey = new TenantKeys(w.prefix, TENANT).stock(pairOf(SKU, 'default'));
  let minRedis = Infinity;
  let minLevels = Infinity;
  let samples = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const [onHand, reserved, unavailable] = (
        await redis.hmget(stockKey, 'onHand', 'reserved', 'unavailable')
      ).map((v) => Number(v ?? 0));
      minRedis = Math.min(minRedis, onHand! - reserved! - unavailable!);
      if (samples++ % 8 === 0) {
        const row = (await w
          .knex('stock_levels')
          .where({ tenant: TENANT, sku: SKU })
          .first('available')) as { available: number } | undefined;
        if (row) minLevels = Math.min(minLevels, Number(row.available));
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();

  const started = Date.now();
  await w.publish(carts);
  const drainSeconds = await w.drained(1 + CARTS, 0, 600_000);
  const total = (Date.now() - started) / 1000;
  sampling = false;
  await sampler;
  redis.disconnect();
  await w.stopWorkers();

  const result: ScenarioResult = {
    scenario: '1 flash sale (3 workers)',
    events: 1 + CARTS,
    lost: 0,
    doubled: 0,
    oversold: 0,
    drainSeconds: total,
    note: `min available sampled: Redis ${minRedis}, stock_levels ${minLevels} (${samples} samples); drained ${drainSeconds.toFixed(1)} s after the last publish`,
  };
  try {
    expect(w.workers.map((x) => x.unexpectedExits)).toEqual([0, 0, 0]);
    expect(samples).toBeGreaterThan(0);
    expect(minRedis).toBeGreaterThanOrEqual(0);
    expect(minLevels).toBeGreaterThanOrEqual(0);

    // outcomes as recorded, and as announced (at least once each; distinct ids)
    const byResult = (await w
      .knex('processed_events')
      .where({ tenant: TENANT, event_type: 'cart.added' })
      .groupBy('result')
      .select('result')
      .count({ n: '*' })) as { result: string; n: number }[];
    expect(Object.fromEntries(byResult.map((r) => [r.result, Number(r.n)]))).toEqual({
      applied: UNITS,
      rejected: CARTS - UNITS,
    });
    const announced = new Map<string, Set<string>>();
    for (;;) {
      const m = await ch.get(queue, { noAck: true });
      if (!m) break;
      const type = m.fields.routingKey;
      const set = announced.get(type) ?? new Set<string>();
      set.add(String(m.properties.messageId));
      announced.set(type, set);
    }
    expect(announced.get('inventory.reserved')?.size).toBe(UNITS);
    expect(announced.get('inventory.reservation-failed')?.size).toBe(CARTS - UNITS);
    // once per crossing of zero, whichever worker applied it: the receipt (in stock) and the
    // cart that took the last unit (out of stock), each at the location and for the SKU's total
    // (its only location)
    expect(announced.get('inventory.availability-changed')?.size).toBe(4);

    // the ledger in commit order: the running sum of reserved never exceeds on-hand
    const rows = (await w
      .knex('inventory_ledger')
      .where({ tenant: TENANT, sku: SKU })
      .orderBy('id')
      .select('on_hand_delta', 'reserved_delta')) as {
      on_hand_delta: number;
      reserved_delta: number;
    }[];
    let onHand = 0;
    let reserved = 0;
    let worst = 0;
    for (const r of rows) {
      onHand += Number(r.on_hand_delta);
      reserved += Number(r.reserved_delta);
      worst = Math.max(worst, reserved - onHand);
    }
    expect({ onHand, reserved, worst }).toEqual({ onHand: UNITS, reserved: UNITS, worst: 0 });

    await checkInvariants(w, oracle, {
      onFindings: (f) => Object.assign(result, f),
    });
  } finally {
    report(result);
    await conn.close();
  }
});
