/**
 * The CLI's kit commands against a running worker: kit define / remove publish kit.defined /
 * kit.removed, kit show reads the definitions back, and stock of a kit SKU gives the kits each
 * location's components make (a kit is assembled at one location: the total is the sum over the
 * locations, not what the components' totals would give).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publishEvents } from '../support/rabbit.js';
import { startTestWorker, waitFor, type TestWorker } from '../support/worker.js';
import { inventory } from './run.js';

let w: TestWorker;
let env: Record<string, string>;
const T = 'clikit';

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

const ev = (type: string, id: string, data: Record<string, unknown>) => ({
  type,
  id,
  tenant: T,
  data,
});

beforeAll(async () => {
  w = await startTestWorker('clikit');
  env = {
    AMQP_URL: w.amqpUrl,
    MYSQL_URL: w.config.MYSQL_URL,
    REDIS_PREFIX: w.config.REDIS_PREFIX,
  };
});

afterAll(async () => {
  await w?.cleanup();
});

describe('inventory CLI: kits', () => {
  test('kit define publishes kit.defined; kit show lists the kits, and one kit', async () => {
    const bad = await inventory(['kit', 'define', 'K', 'A=0', '--tenant', T], env);
    expect(bad.code).toBe(2);
    for (const args of [
      ['kit', 'define', 'STARTER', 'SOCK=2', 'SHOE'],
      ['kit', 'define', 'DUO', 'CAP=1', 'MUG=1'],
    ]) {
      const r = await inventory([...args, '--tenant', T], env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^published kit\.defined cli-/);
    }
    await processed(2);
    const all = await inventory(['kit', 'show', '--tenant', T, '--json'], env);
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual([
      {
        sku: 'DUO',
        components: [
          { sku: 'CAP', quantity: 1 },
          { sku: 'MUG', quantity: 1 },
        ],
      },
      {
        sku: 'STARTER',
        components: [
          { sku: 'SHOE', quantity: 1 },
          { sku: 'SOCK', quantity: 2 },
        ],
      },
    ]);
    const text = await inventory(['kit', 'show', '--tenant', T], env);
    expect(text.stdout).toContain('STARTER  1 × SHOE + 2 × SOCK');
    const one = await inventory(['kit', 'show', 'STARTER', '--tenant', T], env);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain('STARTER: kit of 1 × SHOE + 2 × SOCK');
    const none = await inventory(['kit', 'show', 'SHOE', '--tenant', T], env);
    expect(none.code).toBe(4);
    expect(none.stderr).toContain('SHOE is not a kit');
  });

  test('stock of a kit SKU: the kits at each location, summed; the components with their figures', async () => {
    await publishEvents(w.amqpUrl, [
      ev('stock.received', 'k-1', { sku: 'SHOE', quantity: 3, locationId: 'east' }),
      ev('stock.received', 'k-2', { sku: 'SOCK', quantity: 5, locationId: 'east' }),
      ev('stock.received', 'k-3', { sku: 'SHOE', quantity: 1, locationId: 'west' }),
      ev('stock.received', 'k-4', { sku: 'SOCK', quantity: 9, locationId: 'west' }),
      ev('stock.received', 'k-5', { sku: 'SOCK', quantity: 4, locationId: 'north' }),
      // a kit SKU takes no stock of its own
      ev('stock.received', 'k-7', { sku: 'STARTER', quantity: 10 }),
    ]);
    // the cart only once the socks are there: published with them, it could be applied first
    // (another ordering key) and be refused
    await processed(8);
    await publishEvents(w.amqpUrl, [
      ev('cart.added', 'k-6', { cartId: 'c1', sku: 'SOCK', quantity: 1, locationId: 'east' }),
    ]);
    await processed(9);
    const r = await inventory(['stock', 'STARTER', '--tenant', T, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Record<string, unknown>;
    // east: min(3/1, 4/2) = 2; north: no shoe, 0; west: min(1/1, 9/2) = 1. The components'
    // totals (4 shoes, 17 socks) would say 4: a kit is made at one location
    expect(s).toMatchObject({
      sku: 'STARTER',
      tenant: T,
      kit: [
        { sku: 'SHOE', quantity: 1 },
        { sku: 'SOCK', quantity: 2 },
      ],
      available: 3,
      byLocation: [
        {
          locationId: 'east',
          available: 2,
          components: [
            { sku: 'SHOE', quantity: 1, available: 3 },
            { sku: 'SOCK', quantity: 2, available: 4 },
          ],
        },
        {
          locationId: 'north',
          available: 0,
          components: [
            { sku: 'SHOE', quantity: 1, available: 0 },
            { sku: 'SOCK', quantity: 2, available: 4 },
          ],
        },
        {
          locationId: 'west',
          available: 1,
          components: [
            { sku: 'SHOE', quantity: 1, available: 1 },
            { sku: 'SOCK', quantity: 2, available: 9 },
          ],
        },
      ],
    });
    const components = s.components as { sku: string; available: number; reserved: number }[];
    expect(components.map((c) => [c.sku, c.available, c.reserved])).toEqual([
      ['SHOE', 4, 0],
      ['SOCK', 17, 1],
    ]);
    const east = await inventory(['stock', 'STARTER', '--location', 'east', '--tenant', T], env);
    expect(east.code, east.stderr).toBe(0);
    expect(east.stdout.split('\n')).toEqual([
      'STARTER: kit of 1 × SHOE + 2 × SOCK: available 2 kits',
      'locationId  kits  SHOE (×1)  SOCK (×2)',
      'east        2     3          4',
      '',
    ]);
    // a kit none of whose components has stock: 0 at default
    const duo = await inventory(['stock', 'DUO', '--tenant', T, '--json'], env);
    expect(duo.code, duo.stderr).toBe(0);
    expect(JSON.parse(duo.stdout)).toMatchObject({
      available: 0,
      byLocation: [{ locationId: 'default', available: 0 }],
    });
  });

  test('kit remove publishes kit.removed: the SKU is no longer a kit', async () => {
    const r = await inventory(['kit', 'remove', 'DUO', '--tenant', T], env);
    expect(r.code, r.stderr).toBe(0);
    await processed(10);
    const all = await inventory(['kit', 'show', '--tenant', T, '--json'], env);
    expect((JSON.parse(all.stdout) as { sku: string }[]).map((k) => k.sku)).toEqual(['STARTER']);
    const stock = await inventory(['stock', 'DUO', '--tenant', T], env);
    expect(stock.code).toBe(4);
  });
});
