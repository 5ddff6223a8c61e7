/**
 * Kit definitions (kit.defined → defineKit-4.lua, kit.removed → removeKit-4.lua) through the
 * Lua engine on real Redis, each event checked against the domain model: define, redefine,
 * unchanged, kit-in-kit both ways, remove, unknown-kit; a kit SKU named as stock of its own is
 * refused (`kit-sku`); a plan made with an older definition is refused by the script
 * (STALE_NETWORK) and made again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Engine } from '../../src/engine/engine.js';
import { TenantKeys } from '../../src/engine/keys.js';
import type { Command, OutboxPayload } from '../../src/domain/types.js';
import { InventoryModel } from '../../src/domain/model.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { eventMaker, mustApply, readFigures, testEngine } from '../support/engine-harness.js';

const NOW = 1_800_000_000_000;

let redis: Redis;
let engine: Engine;
/** a second worker's engine: its own network cache */
let other: Engine;
const prefix = uniqueName('kits');

beforeAll(() => {
  redis = testRedis();
  engine = testEngine(redis, prefix, () => NOW);
  other = testEngine(redis, prefix, () => NOW);
});

afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

let tenants = 0;
function tenant() {
  const name = `k${++tenants}`;
  const ev = eventMaker(name);
  const model = new InventoryModel();
  const k = new TenantKeys(prefix, name);
  let n = 0;
  const apply = async (c: Command, on: Engine = engine): Promise<OutboxPayload> => {
    const meta = ev(c.op, `e${++n}`);
    const r = await mustApply(on, meta, c);
    // the domain model says the same
    const m = model.apply(meta, c, NOW);
    expect(m.status).toBe('applied');
    if (m.status === 'applied') {
      expect(r.payload.outcome).toEqual(m.payload.outcome);
      expect(r.payload.network ?? []).toEqual(m.payload.network ?? []);
      expect(r.payload.movements).toEqual(m.payload.movements);
    }
    return r.payload;
  };
  return {
    name,
    k,
    apply,
    define: (sku: string, components: [string, number][], on?: Engine) =>
      apply(
        {
          op: 'defineKit',
          sku,
          components: components.map(([s, quantity]) => ({ sku: s, quantity })),
        },
        on,
      ),
    remove: (sku: string, on?: Engine) => apply({ op: 'removeKit', sku }, on),
    kits: async () => {
      const h = await redis.hgetall(k.kits);
      return Object.fromEntries(Object.entries(h).map(([s, j]) => [s, JSON.parse(j) as unknown]));
    },
    nv: async () => Number((await redis.hget(k.meta, 'nv')) ?? 0),
  };
}

describe('kit.defined and kit.removed', () => {
  it('defines a kit (components in byte order), bumps the network version, announces the change', async () => {
    const t = tenant();
    const p = await t.define('KIT', [
      ['b', 1],
      ['B', 2],
      ['a', 3],
    ]);
    expect(p.outcome).toEqual({ result: 'applied' });
    expect(p.network).toEqual([
      {
        kind: 'kit',
        sku: 'KIT',
        components: [
          { sku: 'B', quantity: 2 },
          { sku: 'a', quantity: 3 },
          { sku: 'b', quantity: 1 },
        ],
      },
    ]);
    expect(p.movements).toEqual([]);
    expect(await t.kits()).toEqual({
      KIT: [
        ['B', 2],
        ['a', 3],
        ['b', 1],
      ],
    });
    expect(await t.nv()).toBe(1);
  });

  it('replaces a definition; the same one again is ignored (unchanged) and changes nothing', async () => {
    const t = tenant();
    await t.define('KIT', [['A', 1]]);
    const again = await t.define('KIT', [['A', 1]]);
    expect(again.outcome).toEqual({ result: 'ignored', reason: 'unchanged' });
    expect(again.network ?? []).toEqual([]);
    expect(await t.nv()).toBe(1);
    const other = await t.define('KIT', [
      ['A', 2],
      ['C', 1],
    ]);
    expect(other.outcome).toEqual({ result: 'applied' });
    expect(await t.kits()).toEqual({
      KIT: [
        ['A', 2],
        ['C', 1],
      ],
    });
    expect(await t.nv()).toBe(2);
    // a quantity alone is a change too
    const qty = await t.define('KIT', [
      ['A', 2],
      ['C', 3],
    ]);
    expect(qty.outcome).toEqual({ result: 'applied' });
  });

  it('refuses a kit inside a kit, both ways (kit-in-kit), changing nothing', async () => {
    const t = tenant();
    await t.define('K1', [['A', 1]]);
    // a component that is a kit
    const inner = await t.define('K2', [
      ['B', 1],
      ['K1', 1],
    ]);
    expect(inner.outcome).toEqual({ result: 'rejected', reason: 'kit-in-kit' });
    // a kit that is a component of another kit
    const outer = await t.define('A', [['B', 1]]);
    expect(outer.outcome).toEqual({ result: 'rejected', reason: 'kit-in-kit' });
    expect(await t.kits()).toEqual({ K1: [['A', 1]] });
    expect(await t.nv()).toBe(1);
    // a kit's own components may change, and it may be redefined with another one's SKU gone
    expect((await t.define('K1', [['B', 1]])).outcome).toEqual({ result: 'applied' });
    expect((await t.define('A', [['C', 1]])).outcome).toEqual({ result: 'applied' });
  });

  it('removes a kit; an unknown one is ignored (unknown-kit)', async () => {
    const t = tenant();
    await t.define('KIT', [['A', 1]]);
    const gone = await t.remove('KIT');
    expect(gone.outcome).toEqual({ result: 'applied' });
    expect(gone.network).toEqual([{ kind: 'kit', sku: 'KIT', components: null }]);
    expect(await t.kits()).toEqual({});
    expect(await t.nv()).toBe(2);
    const again = await t.remove('KIT');
    expect(again.outcome).toEqual({ result: 'ignored', reason: 'unknown-kit' });
    expect(await t.nv()).toBe(2);
    // once removed, it may be a component of another kit
    expect((await t.define('K2', [['KIT', 1]])).outcome).toEqual({ result: 'applied' });
  });

  it('refuses a kit SKU named as stock of its own (kit-sku), outside and inside a network', async () => {
    const t = tenant();
    await t.define('KIT', [['A', 1]]);
    const refused: Command[] = [
      { op: 'receiveStock', sku: 'KIT', locationId: 'default', quantity: 3 },
      { op: 'adjustStock', sku: 'KIT', locationId: 'default', delta: 2, reason: 'found' },
      { op: 'countStock', sku: 'KIT', locationId: 'default', onHand: 4 },
      { op: 'configureStock', sku: 'KIT', locationId: 'default', reorderLevel: 1 },
    ];
    for (const c of refused) {
      const p = await t.apply(c);
      expect(p.outcome).toEqual({ result: 'rejected', reason: 'kit-sku' });
      expect(p.movements).toEqual([]);
    }
    await t.apply({ op: 'upsertLocation', locationId: 'w1', name: 'w1', priority: 1, shipsTo: [] });
    await t.apply({ op: 'upsertLocation', locationId: 'w2', name: 'w2', priority: 2, shipsTo: [] });
    const bind = await t.apply({
      op: 'bindLocation',
      locationId: 'w1',
      skus: ['A', 'KIT'],
      bound: true,
    });
    expect(bind.outcome).toEqual({ result: 'rejected', reason: 'kit-sku' });
    expect(await redis.hlen(t.k.bindings)).toBe(0);
    await t.apply({ op: 'bindLocation', locationId: 'w1', skus: ['A'], bound: true });
    await t.apply({ op: 'bindLocation', locationId: 'w2', skus: ['A'], bound: true });
    // unbinding a kit SKU is no stock of its own: the usual rules
    const unbind = await t.apply({
      op: 'bindLocation',
      locationId: 'w1',
      skus: ['KIT'],
      bound: false,
    });
    expect(unbind.outcome).toEqual({ result: 'applied' });
    await t.apply({ op: 'receiveStock', sku: 'A', locationId: 'w1', quantity: 5 });
    // in a network, kit-sku before location-not-stocked (a kit SKU is never bound)
    expect(
      (await t.apply({ op: 'receiveStock', sku: 'KIT', locationId: 'w1', quantity: 1 })).outcome,
    ).toEqual({ result: 'rejected', reason: 'kit-sku' });
    for (const op of ['createTransfer', 'shipTransfer'] as const) {
      const p = await t.apply({
        op,
        transferId: `tr-${op}`,
        fromLocationId: 'w1',
        toLocationId: 'w2',
        lines: [
          { sku: 'A', quantity: 1 },
          { sku: 'KIT', quantity: 1 },
        ],
      });
      expect(p.outcome).toEqual({
        result: 'rejected',
        reason: 'kit-sku',
        referenceType: 'transfer',
        referenceId: `tr-${op}`,
      });
      expect(p.holds).toEqual([]);
    }
    expect(await redis.keys(`${t.k.base}stock:KIT*`)).toEqual([]);
    expect(await readFigures(redis, t.k, 'A', 'w1')).toMatchObject({ onHand: 5, incoming: 0 });
    expect(await redis.exists(t.k.transfer('tr-createTransfer'))).toBe(0);
    // removed, the SKU may be bound and take stock again
    await t.remove('KIT');
    await t.apply({ op: 'bindLocation', locationId: 'w1', skus: ['KIT'], bound: true });
    expect(
      (await t.apply({ op: 'receiveStock', sku: 'KIT', locationId: 'w1', quantity: 1 })).outcome
        .result,
    ).toBe('applied');
  });

  it('a plan made before a definition changed is refused by the script (STALE_NETWORK) and made again', async () => {
    const t = tenant();
    // the first worker reads the tenant's network: no kit yet
    await t.apply({ op: 'receiveStock', sku: 'A', locationId: 'default', quantity: 1 });
    // the second worker defines KIT
    await t.define('KIT', [['A', 1]], other);
    // the first, still caching no kit, plans a receipt of KIT: the script refuses the plan, the
    // network is read again, and the receipt is refused as kit-sku
    const p = await t.apply({ op: 'receiveStock', sku: 'KIT', locationId: 'default', quantity: 2 });
    expect(p.outcome).toEqual({ result: 'rejected', reason: 'kit-sku' });
    expect(await redis.exists(t.k.stock('KIT\x1fdefault'))).toBe(0);
    // the other way round: the second worker still caches KIT as a kit
    expect(
      (await t.apply({ op: 'receiveStock', sku: 'KIT', locationId: 'default', quantity: 2 }, other))
        .outcome,
    ).toEqual({ result: 'rejected', reason: 'kit-sku' });
    await t.remove('KIT');
    const q = await t.apply(
      { op: 'receiveStock', sku: 'KIT', locationId: 'default', quantity: 2 },
      other,
    );
    expect(q.outcome.result).toBe('applied');
    expect(await readFigures(redis, t.k, 'KIT', 'default')).toMatchObject({ onHand: 2 });
  });

  it('a tenant with kits and no location is not a network: any location is accepted', async () => {
    const t = tenant();
    await t.define('KIT', [['A', 1]]);
    const p = await t.apply({ op: 'receiveStock', sku: 'A', locationId: 'anywhere', quantity: 1 });
    expect(p.outcome.result).toBe('applied');
  });
});
