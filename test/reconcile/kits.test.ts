/**
 * Reconciliation of kit definitions: the kits hash in Redis against `kits` in MySQL, as for
 * locations and bindings (network-pass.ts): a kit Redis lost, changed or gained behind the
 * engine is a `network-vs-mysql` drift, put back with --repair (restoreNetwork-4.lua, which bumps
 * the network version); a change still in the outbox is not drift.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Command } from '../../src/domain/types.js';
import { createReconcileHarness, events, shape, type ReconcileHarness } from './harness.js';

let h: ReconcileHarness;
beforeAll(async () => {
  h = await createReconcileHarness('rec_kits');
});
afterAll(async () => {
  await h?.close();
});

const FAST = { recheckDelayMs: 20 };

const defineKit = (sku: string, components: [string, number][]): Command => ({
  op: 'defineKit',
  sku,
  components: components.map(([s, quantity]) => ({ sku: s, quantity })),
});

/** Kits K1 (A×1, B×2) and K2 (C×3), and K3 defined then removed: applied and mirrored. */
async function seed(t: string): Promise<void> {
  const ev = events(t);
  await h.apply(
    ev('kit.defined'),
    defineKit('K1', [
      ['A', 1],
      ['B', 2],
    ]),
  );
  await h.apply(ev('kit.defined'), defineKit('K2', [['C', 3]]));
  await h.apply(ev('kit.defined'), defineKit('K3', [['D', 1]]));
  await h.apply(ev('kit.removed'), { op: 'removeKit', sku: 'K3' });
}

const nv = async (t: string) => Number(await h.s.redis.hget(h.keys(t).meta, 'nv'));
const kitDrift = (t: string, sku: string, repaired: boolean) => ({
  tenant: t,
  kind: 'network-vs-mysql',
  referenceType: 'kit',
  referenceId: sku,
  field: 'kit',
  repaired,
});

describe('reconciliation of kits', () => {
  test('kits as the events left them are clean', async () => {
    await seed('clean');
    expect(await h.run({ tenant: 'clean', ...FAST })).toMatchObject({ status: 'clean', drifts: 0 });
  });

  test('a kit Redis lost, one changed and one gained behind the engine are found, and put back with --repair', async () => {
    const t = 'drift';
    await seed(t);
    const k = h.keys(t);
    const k2 = await h.s.redis.hget(k.kits, 'K2');
    await h.s.redis.hdel(k.kits, 'K1');
    await h.s.redis.hset(k.kits, 'K2', JSON.stringify([['C', 4]]));
    await h.s.redis.hset(k.kits, 'K3', JSON.stringify([['D', 1]]));
    const found = await h.run({ tenant: t, ...FAST });
    expect(found.firstDrifts.map(shape)).toEqual([
      kitDrift(t, 'K1', false),
      kitDrift(t, 'K2', false),
      kitDrift(t, 'K3', false),
    ]);
    expect(found.firstDrifts[1]!.detail).toBe('Redis [["C",4]], MySQL [["C",3]]');
    // meanwhile K1 is not a kit: it takes stock
    const stray = await h.s.engine.apply(events(t)('stock.received'), {
      op: 'receiveStock',
      sku: 'K1',
      locationId: 'default',
      quantity: 1,
    });
    expect(stray).toMatchObject({ status: 'applied', payload: { outcome: { result: 'applied' } } });

    const before = await nv(t);
    const fixed = await h.run({ tenant: t, repair: true, ...FAST });
    expect(fixed.firstDrifts.map(shape)).toEqual([
      kitDrift(t, 'K1', true),
      kitDrift(t, 'K2', true),
      kitDrift(t, 'K3', true),
    ]);
    expect(JSON.parse((await h.s.redis.hget(k.kits, 'K1'))!)).toEqual([
      ['A', 1],
      ['B', 2],
    ]);
    expect(await h.s.redis.hget(k.kits, 'K2')).toBe(k2);
    expect(await h.s.redis.hexists(k.kits, 'K3')).toBe(0);
    // the network version moved: planners read the kits again, K1 is a kit once more
    expect(await nv(t)).toBe(before + 1);
    const refused = await h.s.engine.apply(events(t)('stock.received'), {
      op: 'receiveStock',
      sku: 'K1',
      locationId: 'default',
      quantity: 1,
    });
    expect(refused).toMatchObject({
      status: 'applied',
      payload: { outcome: { result: 'rejected', reason: 'kit-sku' } },
    });
  });

  test('the same definition written another way (order, JSON spelling) is not drift', async () => {
    const t = 'spelling';
    await seed(t);
    await h.s.redis.hset(
      h.keys(t).kits,
      'K1',
      '[ ["B", 2], ["A", 1] ]', // another order, spaces: the same kit
    );
    expect(await h.run({ tenant: t, ...FAST })).toMatchObject({ status: 'clean', drifts: 0 });
  });

  test('kit changes still in the outbox are not drift', async () => {
    const t = 'ahead';
    await seed(t);
    const ev = events(t);
    const pending = [
      await h.applyOnly(ev('kit.defined'), defineKit('K4', [['E', 1]])),
      await h.applyOnly(ev('kit.removed'), { op: 'removeKit', sku: 'K2' }),
      await h.applyOnly(ev('kit.defined'), defineKit('K1', [['A', 5]])),
    ];
    expect(await h.run({ tenant: t, ...FAST })).toMatchObject({ status: 'clean', drifts: 0 });
    for (const p of pending) expect(await h.s.writer.write(p.payload, p.entryId)).toBe('committed');
    expect(await h.run({ tenant: t, ...FAST })).toMatchObject({ status: 'clean', drifts: 0 });
  });
});
