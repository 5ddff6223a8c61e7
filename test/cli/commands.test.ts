import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publishEvents } from '../support/rabbit.js';
import { startTestWorker, waitFor, type TestWorker } from '../support/worker.js';
import { inventory } from './run.js';

let w: TestWorker;
let env: Record<string, string>;
const T = 'clitest';

const ev = (type: string, id: string, data: Record<string, unknown>) => ({
  type,
  id,
  tenant: T,
  data,
});

beforeAll(async () => {
  w = await startTestWorker('cli');
  env = {
    AMQP_URL: w.amqpUrl,
    MYSQL_URL: w.config.MYSQL_URL,
    REDIS_PREFIX: w.config.REDIS_PREFIX,
  };
  await publishEvents(w.amqpUrl, [
    ev('stock.received', 'c-1', { sku: 'TEE', quantity: 10 }),
    ev('stock.received', 'c-2', { sku: 'TEE', quantity: 4, locationId: 'store-2' }),
    ev('stock.received', 'c-3', { sku: 'MUG', quantity: 3 }),
    ev('stock.configured', 'c-4', { sku: 'MUG', reorderLevel: 2, reorderQuantity: 12 }),
  ]);
  await publishEvents(w.amqpUrl, [
    ev('cart.added', 'c-5', { cartId: 'cart-1', sku: 'TEE', quantity: 2 }),
    ev('cart.added', 'c-6', { cartId: 'cart-1', sku: 'MUG', quantity: 1 }),
    ev('stock.adjusted', 'c-7', { sku: 'TEE', delta: -1, reason: 'damaged' }),
  ]);
  const knex = w.worker.services.knex;
  await waitFor(
    async () =>
      Number(((await knex('processed_events').count({ n: '*' })) as { n: number }[])[0]?.n) === 7,
    30_000,
    'seven events in the ledger',
  );
});

afterAll(async () => {
  await w?.cleanup();
});

describe('inventory CLI against a running worker', () => {
  test('stock: the seed response shape, per location, --location, and exit 4 when unknown', async () => {
    const all = await inventory(['stock', 'TEE', '--tenant', T, '--json'], env);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual({
      sku: 'TEE',
      tenant: T,
      available: 11,
      reserved: 2,
      onHand: 13,
      backordered: 0,
      preordered: 0,
      reorderLevel: null,
      reorderQuantity: null,
      byLocation: [
        expect.objectContaining({ locationId: 'default', onHand: 9, reserved: 2, available: 7 }),
        expect.objectContaining({ locationId: 'store-2', onHand: 4, reserved: 0, available: 4 }),
      ],
    });

    const one = await inventory(['stock', 'TEE', '--tenant', T, '--location', 'store-2'], env);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^TEE: available 4, reserved 0, on hand 4$/m);
    expect(one.stdout).not.toMatch(/^default\s/m);

    const missing = await inventory(['stock', 'NOPE', '--tenant', T], env);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/no stock record for NOPE/);
    expect(missing.stdout).toBe('');
  });

  test('history: newest first, a page at a time until nextBefore is null', async () => {
    const seen: { id: number; movement: string }[] = [];
    let before: number | null | undefined;
    let pages = 0;
    do {
      const args = ['history', 'TEE', '--tenant', T, '--limit', '2', '--json'];
      if (before) args.push('--before', String(before));
      const r = await inventory(args, env);
      expect(r.code).toBe(0);
      const page = JSON.parse(r.stdout) as {
        movements: { id: number; movement: string }[];
        nextBefore: number | null;
      };
      expect(page.movements.length).toBeLessThanOrEqual(2);
      seen.push(...page.movements);
      before = page.nextBefore;
      pages++;
    } while (before !== null && pages < 10);
    // received default, received store-2, then reserved (cart-1) and adjusted, which the worker
    // applies in parallel (a cart and a SKU-location are different ordering keys): either order
    expect(seen.slice(2).map((m) => m.movement)).toEqual(['received', 'received']);
    expect(
      seen
        .slice(0, 2)
        .map((m) => m.movement)
        .sort(),
    ).toEqual(['adjusted', 'reserved']);
    expect(seen.map((m) => m.id)).toEqual([...seen.map((m) => m.id)].sort((a, b) => b - a));
    expect(pages).toBe(2);

    const text = await inventory(['history', 'TEE', '--tenant', T, '--limit', '1'], env);
    expect(text.stdout).toMatch(/^id\s+occurred_at\s+location_id\s+movement/m);
    expect(text.stderr).toMatch(/next page: --before \d+/);
  });

  test('reservations, low-stock and stats', async () => {
    const cart = await inventory(['reservations', 'cart-1', '--tenant', T, '--json'], env);
    expect(cart.code).toBe(0);
    expect(JSON.parse(cart.stdout)).toEqual([
      expect.objectContaining({
        kind: 'cart',
        id: 'cart-1',
        state: 'open',
        lines: expect.arrayContaining([
          expect.objectContaining({ sku: 'TEE', held: 2 }),
          expect.objectContaining({ sku: 'MUG', held: 1 }),
        ]) as unknown,
      }),
    ]);
    const none = await inventory(['reservations', 'cart-404', '--tenant', T], env);
    expect(none.code).toBe(4);

    const low = await inventory(['low-stock', '--tenant', T, '--json'], env);
    expect(JSON.parse(low.stdout)).toEqual([
      expect.objectContaining({ sku: 'MUG', available: 2, reorderLevel: 2, reorderQuantity: 12 }),
    ]);

    const stats = await inventory(['stats', '--tenant', T, '--json'], env);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({
      tenant: T,
      skus: 2,
      skuLocations: 3,
      unitsOnHand: 16,
      unitsReserved: 3,
      unitsAvailable: 13,
      eventsRecorded: 7,
      unitsSold: { days: 30, units: 0 },
      holds: [{ kind: 'cart', state: 'open', count: 1 }],
      outbox: { entries: 0, oldestSeconds: 0 },
    });
  });

  test('rebuild and dlq show go through the same plumbing', async () => {
    const rebuilt = await inventory(['rebuild', '--tenant', T], env);
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stdout).toMatch(/^rebuilt 1 tenant\(s\) in \d+ ms: clitest$/m);
    const after = await inventory(['stock', 'MUG', '--tenant', T, '--json'], env);
    expect(JSON.parse(after.stdout)).toMatchObject({ onHand: 3, reserved: 1, available: 2 });

    const dead = await inventory(['dlq', 'show', 'no-such-id'], env);
    expect(dead.code).toBe(4);
    expect(dead.stderr).toMatch(/no dead letter with id no-such-id/);
  });

  test('exit statuses: usage 2, unreachable 69, bad environment 78', async () => {
    expect((await inventory(['history', 'TEE', '--limit', '0'], env)).code).toBe(2);
    expect((await inventory(['no-such-command'], env)).code).toBe(2);
    expect((await inventory([], env)).code).toBe(2);
    const down = await inventory(['stats'], {
      ...env,
      MYSQL_URL: 'mysql://root@127.0.0.1:1/inventory',
    });
    expect(down.code).toBe(69);
    expect(down.stderr).toMatch(/ECONNREFUSED/);
    const bad = await inventory(['stats'], { ...env, MYSQL_URL: 'postgres://x' });
    expect(bad.code).toBe(78);
    expect(bad.stderr).toMatch(/MYSQL_URL/);
  });

  test('--help everywhere: exit 0, the usage line, and the exit statuses at the top', async () => {
    const top = await inventory(['--help'], env);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^Exit status:$/m);
    const commands = [
      ...top.stdout.matchAll(/^ {2}([a-z][a-z-]*)(?: \[options\])?(?: <[a-z]+>)? {2,}/gm),
    ]
      .map((m) => m[1]!)
      .filter((c) => c !== 'help');
    expect(commands).toEqual(
      expect.arrayContaining([
        'stock',
        'history',
        'reservations',
        'low-stock',
        'stats',
        'dlq',
        'reconcile',
        'rebuild',
        'migrate',
        'bi-grant',
        'demo',
      ]),
    );
    const subs = [...commands.map((c) => [c]), ['dlq', 'replay'], ['dlq', 'list']];
    for (let i = 0; i < subs.length; i += 4) {
      const results = await Promise.all(
        subs.slice(i, i + 4).map((c) => inventory([...c, '--help'], env)),
      );
      results.forEach((r, j) => {
        expect(r.code).toBe(0);
        expect(r.stdout).toContain(`Usage: inventory ${subs[i + j]!.join(' ')}`);
      });
    }
  });
});
