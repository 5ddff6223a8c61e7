/**
 * The CLI's location commands against a running worker: location upsert/bind publish events
 * the worker applies, `locations` and `transfers` read them back, `cost` feeds the stock
 * value of `stats`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publishEvents } from '../support/rabbit.js';
import { startTestWorker, waitFor, type TestWorker } from '../support/worker.js';
import { inventory } from './run.js';

let w: TestWorker;
let env: Record<string, string>;
const T = 'clinet';

const processed = async (n: number) => {
  const knex = w.worker.services.knex;
  await waitFor(
    async () =>
      Number(
        (
          (await knex('processed_events').where({ tenant: T }).count({ n: '*' })) as { n: number }[]
        )[0]?.n,
      ) === n,
    30_000,
    `${n} events in the ledger`,
  );
};

/** processed_events rows of every tenant of this file. */
const countProcessed = async () =>
  Number(
    ((await w.worker.services.knex('processed_events').count({ n: '*' })) as { n: number }[])[0]?.n,
  );

beforeAll(async () => {
  w = await startTestWorker('clinet');
  env = {
    AMQP_URL: w.amqpUrl,
    MYSQL_URL: w.config.MYSQL_URL,
    REDIS_PREFIX: w.config.REDIS_PREFIX,
  };
});

afterAll(async () => {
  await w?.cleanup();
});

describe('inventory CLI: locations, transfers, cost', () => {
  test('location upsert / bind publish events; locations lists them in routing order', async () => {
    for (const args of [
      ['location', 'upsert', 'wh', '--name', 'Warehouse', '--priority', '2', '--ships-to', 'US,ca'],
      ['location', 'upsert', 'sf', '--priority', '1', '--ships-to', 'US-CA'],
    ]) {
      const r = await inventory([...args, '--tenant', T], env);
      expect(r.code, r.stderr).toBe(0);
    }
    await processed(2);
    const bind = await inventory(['location', 'bind', 'wh', 'TEE', 'MUG', '--tenant', T], env);
    expect(bind.code, bind.stderr).toBe(0);
    await processed(3);
    const r = await inventory(['locations', '--tenant', T, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { locationId: 'sf', name: 'sf', priority: 1, shipsTo: ['US-CA'], skus: 0 },
      { locationId: 'wh', name: 'Warehouse', priority: 2, shipsTo: ['US', 'CA'], skus: 2 },
    ]);
  });

  test('policy publishes stock.configured; stock shows the policy and what waits', async () => {
    const bad = await inventory(['policy', 'TEE', 'sometimes', '--tenant', T], env);
    expect(bad.code).toBe(2);
    const before = await countProcessed();
    const r = await inventory(
      [
        'policy',
        'POL',
        'preorder',
        '--limit',
        '3',
        '--until',
        '2030-01-01T00:00:00Z',
        '--tenant',
        'clipol',
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    await publishEvents(w.amqpUrl, [
      {
        type: 'cart.added',
        id: 'pa-1',
        tenant: 'clipol',
        data: { cartId: 'c', sku: 'POL', quantity: 2 },
      },
    ]);
    await waitFor(async () => (await countProcessed()) === before + 2, 30_000, 'policy events');
    const s = await inventory(['stock', 'POL', '--tenant', 'clipol', '--json'], env);
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({
      available: 0,
      preordered: 2,
      byLocation: [
        {
          locationId: 'default',
          preordered: 2,
          policy: 'preorder',
          policyLimit: 3,
          preorderUntil: '2030-01-01T00:00:00.000Z',
        },
      ],
    });
  });

  test('transfers shows the record; stats values stock at unit cost', async () => {
    await publishEvents(w.amqpUrl, [
      { type: 'location.bound', id: 'b-1', tenant: T, data: { locationId: 'sf', skus: ['TEE'] } },
      {
        type: 'stock.received',
        id: 'r-1',
        tenant: T,
        data: { sku: 'TEE', quantity: 10, locationId: 'wh' },
      },
      {
        type: 'stock.received',
        id: 'r-2',
        tenant: T,
        data: { sku: 'MUG', quantity: 4, locationId: 'wh' },
      },
    ]);
    await processed(6);
    await publishEvents(w.amqpUrl, [
      {
        type: 'transfer.shipped',
        id: 't-1',
        tenant: T,
        data: {
          transferId: 'tr-1',
          fromLocationId: 'wh',
          toLocationId: 'sf',
          lines: [{ sku: 'TEE', quantity: 3 }],
        },
      },
    ]);
    await processed(7);
    const tr = await inventory(['transfers', '--tenant', T, '--json'], env);
    expect(tr.code, tr.stderr).toBe(0);
    expect(JSON.parse(tr.stdout)).toMatchObject([
      {
        transferId: 'tr-1',
        state: 'shipped',
        fromLocationId: 'wh',
        toLocationId: 'sf',
        units: 3,
        inTransit: 3,
        received: 0,
      },
    ]);
    expect((await inventory(['cost', 'TEE', '2.5', '--tenant', T], env)).code).toBe(0);
    const stats = await inventory(['stats', '--tenant', T, '--json'], env);
    expect(stats.code, stats.stderr).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({
      unitsOnHand: 11,
      stockValue: { value: 17.5, unitsValued: 7, skusWithoutCost: 1 },
    });
    const bad = await inventory(['cost', 'TEE', 'cheap', '--tenant', T], env);
    expect(bad.code).toBe(2);
  });
});
