/**
 * The commit's statements after the epochs go to MySQL as one multi-statement query on the
 * writer's pool (createKnex's `multipleStatements`), one by one on any other: the same rows
 * either way, each ledger row pointing at its event's processed_events row; a statement that
 * fails late in the query leaves nothing of the batch, and a collision in processed_events
 * leaves out only the events recorded already.
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

/** Ledger rows of the tenant whose event_ref is not their own event's processed_events row. */
async function misreferenced(tenant: string): Promise<number> {
  const [rows] = (await single.raw(
    `SELECT COUNT(*) AS n FROM inventory_ledger l LEFT JOIN processed_events p
       ON p.id = l.event_ref AND p.tenant = l.tenant AND p.event_source = l.event_source
      AND p.event_id = l.event_id
     WHERE l.tenant = ? AND p.id IS NULL`,
    [tenant],
  )) as [{ n: number }[]];
  return Number(rows[0]!.n);
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
  it('sends everything after the epochs in one query, and writes what one by one writes', async () => {
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
    // BEGIN, the epochs, everything else, COMMIT
    expect(sent).toHaveLength(4);
    // one statement a table, two for stock_levels (figures, configurations)
    const inserts = TABLES.map((table) => sent[2]!.split(`INSERT INTO ${table} (`).length - 1);
    expect(inserts).toEqual([1, 1, 2, 1, 1, 1, 1]);
    expect(await counts('one-query')).toEqual([5, 5, 3, 5, 1, 1, 1]);
    expect(await rowsOf('one-query')).toEqual(await rowsOf('one-by-one'));
    expect(await misreferenced('one-query')).toBe(0);
    expect(await misreferenced('one-by-one')).toBe(0);
  });

  it('leaves out only the events recorded already, and points each ledger row at its event', async () => {
    const t = 'collision';
    await single('tenant_epochs').insert({ tenant: t, epoch: 1 });
    const items = batch(t, 6);
    expect(await commitBatch(multi, [items[1]!, items[4]!])).toEqual(['committed', 'committed']);
    // keys one step of 2 apart, as a server of a multi-master setup numbers them
    await multi.raw('SET SESSION auto_increment_increment = 2');
    const sent: string[] = [];
    const onQuery = (q: { sql: string }) => sent.push(q.sql);
    multi.on('query', onQuery);
    try {
      expect(await commitBatch(multi, items)).toEqual([
        'committed',
        'duplicate',
        'committed',
        'committed',
        'duplicate',
        'committed',
      ]);
    } finally {
      multi.off('query', onQuery);
      await multi.raw('SET SESSION auto_increment_increment = 1');
    }
    // the query collided, was undone to its savepoint and sent again without the two
    expect(sent.filter((q) => /^ROLLBACK TO SAVEPOINT/.test(q))).toHaveLength(1);
    expect(sent.filter((q) => /INSERT INTO processed_events/.test(q))).toHaveLength(2);
    expect(await counts(t)).toEqual([6, 6, 3, 6, 1, 1, 1]);
    expect(await misreferenced(t)).toBe(0);
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
    expect(await misreferenced(t)).toBe(0);
  });
});
