/**
 * Kit definitions in MySQL: each applied kit.defined / kit.removed is mirrored to `kits` (the
 * newest change wins; a removed kit keeps its row with `components` NULL), and a tenant that
 * Redis lost, or that an operator rebuilds, gets its kits hash back from it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command, EventMeta } from '../../src/domain/types.js';
import { rebuildTenant } from '../../src/ledger/rebuild.js';
import { unlinkTenantKeys } from '../../src/ledger/tenant-keys.js';
import { latestNetwork } from '../../src/ledger/mirror-network.js';
import { createHarness, logger, toWrite, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('ledger_kits');
});
afterAll(async () => {
  await h?.close();
});

let n = 0;
async function apply(tenant: string, command: Command) {
  const meta: EventMeta = {
    tenant,
    source: '/pim',
    id: `k${++n}`,
    type: command.op,
    occurredAt: '2026-11-23T10:15:00Z',
  };
  const r = await h.engine.apply(meta, command);
  const w = toWrite(r)!;
  expect(await h.writer.write(w.payload, w.entryId)).toBe('committed');
  return w.payload;
}

const define = (tenant: string, sku: string, components: [string, number][]) =>
  apply(tenant, {
    op: 'defineKit',
    sku,
    components: components.map(([s, quantity]) => ({ sku: s, quantity })),
  });

async function rows(tenant: string) {
  const r = (await h.knex('kits').where({ tenant }).orderBy('sku').select('sku', 'components')) as {
    sku: string;
    components: string | null;
  }[];
  return r.map((x) => [
    x.sku,
    x.components === null ? null : (JSON.parse(x.components) as unknown),
  ]);
}

async function redisKits(tenant: string) {
  const f = await h.redis.hgetall(h.keys(tenant).kits);
  return Object.fromEntries(Object.entries(f).map(([k, v]) => [k, JSON.parse(v) as unknown]));
}

describe('kits in MySQL', () => {
  it('mirrors definitions, redefinitions and removals to `kits`', async () => {
    const t = 'mirror';
    await define(t, 'K1', [
      ['b', 2],
      ['a', 1],
    ]);
    await define(t, 'K2', [['c', 1]]);
    expect(await rows(t)).toEqual([
      [
        'K1',
        [
          ['a', 1],
          ['b', 2],
        ],
      ],
      ['K2', [['c', 1]]],
    ]);
    await define(t, 'K1', [['a', 3]]);
    await apply(t, { op: 'removeKit', sku: 'K2' });
    // refused and ignored events change no row
    await define(t, 'K3', [['K1', 1]]);
    await apply(t, { op: 'removeKit', sku: 'nope' });
    expect(await rows(t)).toEqual([
      ['K1', [['a', 3]]],
      ['K2', null],
    ]);
    const outcomes = (await h
      .knex('processed_events')
      .where({ tenant: t })
      .orderBy('id')
      .select('result', 'reason')) as { result: string; reason: string | null }[];
    expect(outcomes.map((o) => [o.result, o.reason])).toEqual([
      ['applied', null],
      ['applied', null],
      ['applied', null],
      ['applied', null],
      ['rejected', 'kit-in-kit'],
      ['ignored', 'unknown-kit'],
    ]);
  });

  it('keeps the newest change of a kit whatever the order of the batch', () => {
    const at = (entryId: string, components: [string, number][] | null) => ({
      entryId,
      payload: {
        tenant: 't',
        source: '/pim',
        id: entryId,
        type: 'kit.defined',
        occurredAt: '2026-11-23T10:15:00Z',
        epoch: 1,
        outcome: { result: 'applied' as const },
        movements: [],
        holds: [],
        config: [],
        network: [
          {
            kind: 'kit' as const,
            sku: 'K',
            components: components && components.map(([sku, quantity]) => ({ sku, quantity })),
          },
        ],
      },
    });
    const { kits } = latestNetwork([
      at('1700000000002-0', null),
      at('1700000000001-0', [['a', 1]]),
    ]);
    expect(kits.map((k) => [k.tenant, k.change.sku, k.change.components])).toEqual([
      ['t', 'K', null],
    ]);
  });

  it('a tenant Redis lost, or rebuilt, gets its kits back (removed ones stay removed)', async () => {
    const t = 'reload';
    await define(t, 'K1', [
      ['a', 1],
      ['b', 2],
    ]);
    await define(t, 'K2', [['c', 4]]);
    await apply(t, { op: 'removeKit', sku: 'K2' });
    await define(t, 'K3', [['d', 1]]);
    const before = await redisKits(t);
    expect(Object.keys(before).sort()).toEqual(['K1', 'K3']);

    await unlinkTenantKeys(h.redis, h.keys(t)); // Redis restarted empty
    expect(await h.redis.exists(h.keys(t).kits)).toBe(0);
    // the next event loads the tenant; K1 is a kit again, so this receipt is refused
    const p = await apply(t, { op: 'receiveStock', sku: 'K1', locationId: 'default', quantity: 1 });
    expect(p.outcome).toEqual({ result: 'rejected', reason: 'kit-sku' });
    expect(await redisKits(t)).toEqual(before);

    await rebuildTenant(
      {
        knex: h.knex,
        redis: h.redis,
        prefix: h.prefix,
        writer: h.writer,
        loader: h.loader,
        logger,
      },
      t,
    );
    expect(await redisKits(t)).toEqual(before);
    // the loaded definitions count for the next events: K1 redefined the same is unchanged
    const same = await define(t, 'K1', [
      ['b', 2],
      ['a', 1],
    ]);
    expect(same.outcome).toEqual({ result: 'ignored', reason: 'unchanged' });
  });
});
