/**
 * The commit's upserts go to MySQL as one multi-statement query on the writer's pool
 * (createKnex's `multipleStatements`), one by one on any other: the same rows either way, and
 * a statement that fails late in the query leaves nothing of the batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxPayload } from '../../src/domain/types.js';
import { commitBatch } from '../../src/ledger/commit-batch.js';
import { createKnex, type Knex } from '../../src/ledger/db.js';
import type { MirrorItem } from '../../src/ledger/mirror-rows.js';
import { createTestDatabase, dropTestDatabase } from '../support/isolation.js';

const TABLES = [
  'processed_events',
  'inventory_ledger',
  'stock_levels',
  'reservations',
  'locations',
  'location_skus',
  'tenant_settings',
];

let url: string;
let multi: Knex;
let single: Knex;
beforeAll(async () => {
  url = await createTestDatabase('commit_statements');
  multi = createKnex(url, { max: 1, multipleStatements: true });
  single = createKnex(url, { max: 1 });
});
afterAll(async () => {
  await multi?.destroy();
  await single?.destroy();
  if (url) await dropTestDatabase(url);
});

const START = Date.UTC(2026, 11, 2, 12);

/** Payloads of one tenant that write every table the commit writes. */
function batch(tenant: string, n: number): MirrorItem[] {
  const items: MirrorItem[] = [];
  for (let i = 0; i < n; i++) {
    const ms = START + i;
    const payload: OutboxPayload = {
      tenant,
      source: '/shop',
      id: `e${i}`,
      type: 'cart.added',
      occurredAt: new Date(ms).toISOString(),
      epoch: 1,
      outcome: { result: 'applied' },
      movements: [
        {
          sku: `S${i % 3}`,
          locationId: 'default',
          kind: 'reserved',
          onHand: 0,
          reserved: 1,
          committed: 0,
          unavailable: 0,
          incoming: 0,
          referenceType: 'cart',
          referenceId: `c${i}`,
          reason: '',
        },
      ],
      holds: [
        {
          kind: 'cart',
          id: `c${i}`,
          state: 'open',
          version: 1,
          expiresAt: ms + 60_000,
          lines: [{ sku: `S${i % 3}`, locationId: 'default', held: 1 }],
        },
      ],
      config:
        i === 0
          ? [
              {
                sku: 'S0',
                locationId: 'default',
                reorderLevel: 2,
                reorderQuantity: 10,
                policy: 'backorder',
                policyLimit: 5,
                preorderUntil: null,
              },
            ]
          : [],
      ...(i === 1
        ? {
            network: [
              { kind: 'location', locationId: 'north', name: 'N', priority: 1, shipsTo: ['DE'] },
              { kind: 'binding', sku: 'S1', locationId: 'north', bound: true },
            ],
          }
        : {}),
      ...(i === n - 1
        ? {
            settings: {
              cartTtlSeconds: 600,
              checkoutTtlSeconds: null,
              defaultReorderLevel: 4,
              setAt: { cartTtlSeconds: ms },
            },
          }
        : {}),
    };
    items.push({ payload, entryId: `${ms}-0` });
  }
  return items;
}

/**
 * Every row of the tenant in every table, without the columns that differ by tenant, key or
 * wall clock (MySQL's own: stock_levels.updated_at, inventory_ledger.recorded_at).
 */
async function rowsOf(tenant: string): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of TABLES) {
    const rows = (await single(table).where({ tenant }).select('*')) as Record<string, unknown>[];
    out[table] = rows
      .map((r) => {
        const rest = { ...r };
        for (const key of ['tenant', 'id', 'event_ref']) delete rest[key];
        if (table === 'stock_levels') delete rest.updated_at;
        if (table === 'inventory_ledger') delete rest.recorded_at;
        return JSON.stringify(rest);
      })
      .sort();
  }
  return out;
}

async function counts(tenant: string): Promise<number[]> {
  return Promise.all(
    TABLES.map(async (table) => {
      const [{ n }] = (await single(table).where({ tenant }).count({ n: '*' })) as [{ n: number }];
      return Number(n);
    }),
  );
}

describe('the commit as one multi-statement query', () => {
  it('sends the upserts after processed_events in one query, and writes what one by one writes', async () => {
    await single('tenant_epochs').insert([
      { tenant: 'one-query', epoch: 1 },
      { tenant: 'one-by-one', epoch: 1 },
    ]);
    const sent: string[] = [];
    const onQuery = (q: { sql: string }) => sent.push(q.sql);
    multi.on('query', onQuery);
    const together = await commitBatch(multi, batch('one-query', 5));
    multi.off('query', onQuery);
    const apart = await commitBatch(single, batch('one-by-one', 5));

    expect(together).toEqual(Array(5).fill('committed'));
    expect(apart).toEqual(together);
    // BEGIN, the epochs, processed_events, the rest, COMMIT
    expect(sent).toHaveLength(5);
    const rest = sent[3]!;
    for (const table of TABLES.slice(1)) expect(rest).toContain(`INSERT INTO ${table} (`);
    expect(await counts('one-query')).toEqual([5, 5, 3, 5, 1, 1, 1]);
    expect(await rowsOf('one-query')).toEqual(await rowsOf('one-by-one'));
  });

  it('leaves nothing of the batch when the last statement of the query fails', async () => {
    const t = 'late-failure';
    await single('tenant_epochs').insert({ tenant: t, epoch: 1 });
    const items = batch(t, 4);
    // tenant_settings is the query's last statement; an INT column refuses this value
    items[3]!.payload.settings!.cartTtlSeconds = 3_000_000_000;
    const sent: string[] = [];
    const onQuery = (q: { sql: string }) => sent.push(q.sql);
    multi.on('query', onQuery);
    await expect(commitBatch(multi, items)).rejects.toThrow(/out of range/i);
    multi.off('query', onQuery);
    // the statements before it in the same query ran, and went with the transaction
    expect(
      sent.some((s) => /INSERT INTO inventory_ledger.*INSERT INTO tenant_settings/s.test(s)),
    ).toBe(true);
    expect(sent.at(-1)).toMatch(/^ROLLBACK/);
    expect(await counts(t)).toEqual([0, 0, 0, 0, 0, 0, 0]);

    // as the writer retries: the connection is usable and the same events record once
    items[3]!.payload.settings!.cartTtlSeconds = 600;
    expect(await commitBatch(multi, items)).toEqual(Array(4).fill('committed'));
    expect(await commitBatch(multi, items)).toEqual(Array(4).fill('duplicate'));
    expect(await counts(t)).toEqual([4, 4, 3, 4, 1, 1, 1]);
  });
});
