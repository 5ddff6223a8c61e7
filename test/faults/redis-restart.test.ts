/**
 * Scenario 4: Redis (a private instance, no persistence) is killed and started empty while
 * the worker consumes carts competing for scarce stock. The worker notices (the tenant's
 * `meta` key is gone), reloads the tenant from the ledger under a new epoch before it takes
 * another reservation, and no unit is sold twice: each SKU ends with exactly its stock held.
 */
import { afterAll, expect, it } from 'vitest';
import { report, size, World, type ScenarioResult } from './support/harness.js';
import { checkInvariants } from './support/invariants.js';
import { Oracle } from './support/oracle.js';
import { PrivateRedis } from './support/private.js';
import { toMessage, type Message } from './support/stream.js';

const SKUS = 5;
const UNITS = 200;
const CARTS = size(2_000, 10_000);
const TENANT = 'r1';

let redis: PrivateRedis | undefined;
let world: World | undefined;
afterAll(async () => {
  await world?.close();
  await redis?.close();
});

it(`Redis restarted empty under ${CARTS} competing carts: no oversell`, async () => {
  redis = await PrivateRedis.start();
  world = await World.create('redisdown', { redisUrl: redis.url });
  const w = world;
  const setup: Message[] = Array.from({ length: SKUS }, (_, s) =>
    toMessage({
      id: `receipt-${s}`,
      type: 'stock.received',
      tenant: TENANT,
      data: { sku: `scarce-${s}`, quantity: UNITS },
    }),
  );
  const carts: Message[] = Array.from({ length: CARTS }, (_, i) =>
    toMessage({
      id: `add-${i}`,
      type: 'cart.added',
      tenant: TENANT,
      data: { cartId: `cart-${i}`, sku: `scarce-${i % SKUS}`, quantity: 1 },
    }),
  );
  const oracle = new Oracle().applyAll([...setup, ...carts]);

  const worker = await w.queueBehindSetup(setup, carts);

  const started = Date.now();
  await worker.start();
  await w.reach(setup.length + Math.floor(CARTS * 0.3));
  const atRestart = (await w.processed()) - setup.length;
  await redis.restartEmpty();
  const back = Date.now();
  await w.drained(oracle.validCount, 0, 600_000);
  const lagSeconds = (Date.now() - back) / 1000;
  const total = (Date.now() - started) / 1000;
  await worker.stop();

  const result: ScenarioResult = {
    scenario: '4 Redis restarted empty',
    events: CARTS,
    lost: 0,
    doubled: 0,
    oversold: 0,
    drainSeconds: total,
    note: `restarted after ${atRestart} of ${CARTS} carts; drained ${lagSeconds.toFixed(1)} s after`,
  };
  try {
    expect(worker.unexpectedExits).toBe(0);
    // the tenant was reloaded from MySQL (a new epoch) after the restart
    const epoch = (await w.knex('tenant_epochs').where({ tenant: TENANT }).first('epoch')) as {
      epoch: number;
    };
    expect(Number(epoch.epoch)).toBeGreaterThanOrEqual(2);
    const held = (await w
      .knex('stock_levels')
      .where({ tenant: TENANT })
      .orderBy('sku')
      .select('sku', 'on_hand', 'reserved')) as {
      sku: string;
      on_hand: number;
      reserved: number;
    }[];
    expect(held.map((r) => [r.sku, Number(r.on_hand), Number(r.reserved)])).toEqual(
      Array.from({ length: SKUS }, (_, s) => [`scarce-${s}`, UNITS, UNITS]),
    );
    await checkInvariants(w, oracle, { onFindings: (f) => Object.assign(result, f) });
  } finally {
    report(result);
  }
});
