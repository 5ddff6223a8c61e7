import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command, EventMeta } from '../../src/domain/types.js';
import { TenantLoader } from '../../src/ledger/load-tenant.js';
import { rebuildTenant, type RebuildDeps } from '../../src/ledger/rebuild.js';
import { unlinkTenantKeys } from '../../src/ledger/tenant-keys.js';
import {
  count,
  createHarness,
  DEDUP_TTL_SECONDS,
  type Harness,
  logger,
  mirrorDifferences,
  prng,
  randomEvent,
  redisHolds,
  redisStock,
  scanKeys,
  toWrite,
} from './harness.js';

let h: Harness;
let deps: RebuildDeps;
beforeAll(async () => {
  h = await createHarness('ledger_rebuild');
  deps = {
    knex: h.knex,
    redis: h.redis,
    prefix: h.prefix,
    writer: h.writer,
    loader: h.loader,
    logger,
  };
});
afterAll(async () => {
  await h?.close();
});

/** Applies random events and mirrors them; returns the events applied, for replays. */
async function activity(tenant: string, seed: number, events: number) {
  const r = prng(seed);
  const applied: { meta: EventMeta; command: Command }[] = [];
  for (let n = 1; n <= events; n++) {
    const e = randomEvent(r, tenant, n);
    const w = toWrite(await h.engine.apply(e.meta, e.command));
    if (!w) continue;
    applied.push(e);
    expect(await h.writer.write(w.payload, w.entryId)).toBe('committed');
  }
  return applied;
}

/** Everything of the tenant in Redis but its outbox and meta, with remaining lifetimes. */
async function redisState(tenant: string) {
  const k = h.keys(tenant);
  const ttl = async (key: string) => {
    const ms = await h.redis.pttl(key);
    return ms < 0 ? ms : Date.now() + ms; // absolute expiry, comparable across time
  };
  const holds = await redisHolds(h, tenant);
  const holdTtl = new Map<string, number>();
  for (const key of holds.keys()) holdTtl.set(key, await ttl(key));
  const markers = new Map<string, number>();
  for (const key of await scanKeys(h.redis, `${k.base}evt:*`)) markers.set(key, await ttl(key));
  // the SKUs' counts of in-stock locations, rebuilt by the load
  const inStock = await h.redis.hgetall(k.inStock);
  return { stock: await redisStock(h, tenant), holds, holdTtl, markers, inStock };
}

type State = Awaited<ReturnType<typeof redisState>>;

function expectSameState(after: State, before: State, exceptMarkers: string[] = []) {
  expect(after.stock).toEqual(before.stock);
  expect(after.inStock).toEqual(before.inStock);
  expect(after.holds).toEqual(before.holds);
  expect([...after.holdTtl.keys()]).toEqual([...before.holdTtl.keys()]);
  for (const [key, at] of before.holdTtl) {
    if (at < 0) expect([key, after.holdTtl.get(key)]).toEqual([key, at]);
    else expect(Math.abs(after.holdTtl.get(key)! - at)).toBeLessThan(1500);
  }
  const markers = [...after.markers.keys()].filter((k) => !exceptMarkers.includes(k));
  expect(markers).toEqual([...before.markers.keys()]);
  for (const [key, at] of before.markers)
    expect(Math.abs(after.markers.get(key)! - at)).toBeLessThan(1500);
}

const epochOf = async (tenant: string) =>
  Number(
    ((await h.knex('tenant_epochs').where({ tenant }).first('epoch')) as { epoch: number }).epoch,
  );

describe('loading tenants into Redis from MySQL', () => {
  it('after Redis lost a tenant, the next event reloads figures, holds and markers as they were', async () => {
    const t = 'lost';
    const applied = await activity(t, 99, 250);
    expect(await epochOf(t)).toBe(1);
    const before = await redisState(t);
    expect(before.holds.size).toBeGreaterThan(5);
    expect(Object.keys(before.inStock).length).toBeGreaterThan(0);
    expect([...before.holdTtl.values()].some((at) => at > 0)).toBe(true);
    const ledgerRows = await count(h, 'inventory_ledger', t);

    await unlinkTenantKeys(h.redis, h.keys(t)); // Redis restarted empty
    const fresh: EventMeta = {
      tenant: t,
      source: '/erp',
      id: 'after-loss',
      type: 'stock.received',
      occurredAt: '2026-11-23T11:00:00Z',
    };
    const r = await h.engine.apply(fresh, {
      op: 'receiveStock',
      sku: 'NEW',
      locationId: 'default',
      quantity: 1,
    });
    expect(r.status).toBe('applied');
    expect(await h.writer.write(toWrite(r)!.payload, toWrite(r)!.entryId)).toBe('committed');
    expect(await epochOf(t)).toBe(2);
    expect(await h.redis.hget(h.keys(t).meta, 'epoch')).toBe('2');

    const after = await redisState(t);
    after.stock.delete('NEW|default');
    expect(after.inStock['NEW']).toBe('1');
    delete after.inStock['NEW'];
    const freshMarker = h.keys(t).marker('/erp', 'after-loss');
    expectSameState(after, before, [freshMarker]);
    expect(await h.redis.get(h.keys(t).marker(applied[0]!.meta.source, applied[0]!.meta.id))).toBe(
      '0-1',
    );

    // an event seen before the loss is still a duplicate: nothing applied, nothing mirrored
    for (const old of applied.slice(0, 20)) {
      const again = await h.engine.apply(old.meta, old.command);
      expect(again).toEqual({ status: 'duplicate', entryId: '0-1' });
    }
    expect(await count(h, 'inventory_ledger', t)).toBe(ledgerRows + 1);
    expect(await mirrorDifferences(h, t)).toEqual([]);

    // more activity on top of the reloaded state still mirrors exactly
    await activity(t, 100, 120);
    expect(await mirrorDifferences(h, t)).toEqual([]);

    // an operator rebuild lands on the same state again
    const beforeRebuild = await redisState(t);
    await rebuildTenant(deps, t);
    expect(await epochOf(t)).toBe(3);
    expectSameState(await redisState(t), beforeRebuild);
    expect(await mirrorDifferences(h, t)).toEqual([]);
  });

  it('loads a tenant once however many events find it missing at the same time', async () => {
    const t = 'crowd';
    await activity(t, 5, 60);
    await unlinkTenantKeys(h.redis, h.keys(t));
    const other = new TenantLoader({
      knex: h.knex,
      redis: h.redis,
      prefix: h.prefix,
      dedupTtlSeconds: DEDUP_TTL_SECONDS,
      logger,
    });
    await Promise.all([
      ...Array.from({ length: 10 }, () => h.loader.ensureTenant(t)),
      ...Array.from({ length: 10 }, () => other.ensureTenant(t)), // another process
      ...Array.from({ length: 10 }, (_, i) =>
        h.engine.apply(
          {
            tenant: t,
            source: '/erp',
            id: `crowd-${i}`,
            type: 'stock.received',
            occurredAt: '2026-11-23T11:00:00Z',
          },
          { op: 'receiveStock', sku: 'C', locationId: 'default', quantity: 1 },
        ),
      ),
    ]);
    expect(await epochOf(t)).toBe(2);
  });

  it('resolves a payload applied before Redis was lost as stale, and writes nothing of it', async () => {
    const t = 'stale';
    await activity(t, 11, 30);
    const meta: EventMeta = {
      tenant: t,
      source: '/erp',
      id: 'lost-in-redis',
      type: 'stock.received',
      occurredAt: '2026-11-23T11:00:00Z',
    };
    const w = toWrite(
      await h.engine.apply(meta, {
        op: 'receiveStock',
        sku: 'S',
        locationId: 'default',
        quantity: 5,
      }),
    )!;
    await unlinkTenantKeys(h.redis, h.keys(t)); // its effect and its outbox entry are gone
    await h.loader.ensureTenant(t);
    const rows = await count(h, 'inventory_ledger', t);
    expect(await h.writer.write(w.payload, w.entryId)).toBe('stale');
    expect(await count(h, 'inventory_ledger', t)).toBe(rows);
    expect(
      await h.knex('processed_events').where({ tenant: t, event_id: 'lost-in-redis' }),
    ).toEqual([]);
    // the consumer applies it again, under the new epoch
    const again = toWrite(
      await h.engine.apply(meta, {
        op: 'receiveStock',
        sku: 'S',
        locationId: 'default',
        quantity: 5,
      }),
    )!;
    expect(again.payload.epoch).toBe(w.payload.epoch + 1);
    expect(await h.writer.write(again.payload, again.entryId)).toBe('committed');
    expect(await mirrorDifferences(h, t)).toEqual([]);
  });

  it('mirrors what is still in the outbox when rebuilding, and only once', async () => {
    const t = 'drain';
    const earlier = await activity(t, 12, 30);
    const meta: EventMeta = {
      tenant: t,
      source: '/erp',
      id: 'pending',
      type: 'stock.received',
      occurredAt: '2026-11-23T11:00:00Z',
    };
    const w = toWrite(
      await h.engine.apply(meta, {
        op: 'receiveStock',
        sku: 'P',
        locationId: 'default',
        quantity: 5,
      }),
    )!;
    await rebuildTenant(deps, t);
    expect(await h.writer.write(w.payload, w.entryId)).toBe('stale');
    expect(await count(h, 'processed_events', t)).toBe(earlier.length + 1);
    expect(await h.knex('processed_events').where({ tenant: t, event_id: 'pending' })).toHaveLength(
      1,
    );
    expect(await h.redis.get(h.keys(t).marker('/erp', 'pending'))).toBe('0-1');
    expect(await mirrorDifferences(h, t)).toEqual([]);
  });

  it('a load finds what a dying rebuild left in the outbox and mirrors it before replacing the epoch', async () => {
    const t = 'leftover';
    await activity(t, 13, 20);
    const meta: EventMeta = {
      tenant: t,
      source: '/erp',
      id: 'left',
      type: 'stock.received',
      occurredAt: '2026-11-23T11:00:00Z',
    };
    await h.engine.apply(meta, {
      op: 'receiveStock',
      sku: 'L',
      locationId: 'default',
      quantity: 2,
    });
    await h.redis.del(h.keys(t).meta); // the rebuilding process died right after this
    await h.redis.hset(h.keys(t).stock('junk\x1fdefault'), 'onHand', 99); // and left this behind
    await h.loader.ensureTenant(t);
    expect(await h.knex('processed_events').where({ tenant: t, event_id: 'left' })).toHaveLength(1);
    expect(await h.redis.xlen(h.keys(t).outbox)).toBe(0);
    expect(await h.redis.exists(h.keys(t).stock('junk\x1fdefault'))).toBe(0);
    expect(await mirrorDifferences(h, t)).toEqual([]);
  });

  it("a tenant's settings (tenant.configured) come back with it, the one still in the outbox too", async () => {
    const t = 'settings';
    await activity(t, 17, 20);
    const meta = (id: string, occurredAt: string): EventMeta => ({
      tenant: t,
      source: '/admin',
      id,
      type: 'tenant.configured',
      occurredAt,
    });
    const at = (iso: string) => Date.parse(iso);
    const first = toWrite(
      await h.engine.apply(meta('s1', '2026-11-23T10:00:00Z'), {
        op: 'configureTenant',
        at: at('2026-11-23T10:00:00Z'),
        cartTtlSeconds: 30,
        defaultReorderLevel: 5,
      }),
    )!;
    expect(await h.writer.write(first.payload, first.entryId)).toBe('committed');
    // applied, not mirrored yet: the rebuild mirrors it from the outbox first
    await h.engine.apply(meta('s2', '2026-11-23T11:00:00Z'), {
      op: 'configureTenant',
      at: at('2026-11-23T11:00:00Z'),
      checkoutTtlSeconds: 90,
      defaultReorderLevel: null,
    });
    const settings = async () =>
      Object.fromEntries(
        Object.entries(await h.redis.hgetall(h.keys(t).meta)).filter(([k]) => k.startsWith('cfg')),
      );
    const before = await settings();
    expect(before).toEqual({
      'cfg:cartTtlSeconds': '30',
      'cfgAt:cartTtlSeconds': String(at('2026-11-23T10:00:00Z')),
      'cfg:checkoutTtlSeconds': '90',
      'cfgAt:checkoutTtlSeconds': String(at('2026-11-23T11:00:00Z')),
      'cfgAt:defaultReorderLevel': String(at('2026-11-23T11:00:00Z')),
    });
    await rebuildTenant(deps, t);
    expect(await settings()).toEqual(before);
    expect(await h.knex('tenant_settings').where({ tenant: t }).first()).toMatchObject({
      cart_ttl_seconds: 30,
      checkout_ttl_seconds: 90,
      default_reorder_level: null,
      event_id: 's2',
    });
    // flushed outright: the next event reloads them
    await unlinkTenantKeys(h.redis, h.keys(t));
    const older = await h.engine.apply(meta('s3', '2026-11-23T09:00:00Z'), {
      op: 'configureTenant',
      at: at('2026-11-23T09:00:00Z'),
      cartTtlSeconds: 3600,
    });
    expect(older).toMatchObject({
      status: 'applied',
      payload: { outcome: { result: 'ignored', reason: 'older-settings' } },
    });
    expect(await settings()).toEqual(before);
  });

  it('at start-up loads every known tenant Redis lacks, and only those', async () => {
    for (const [i, t] of ['boot-a', 'boot-b', 'boot-c'].entries()) await activity(t, 20 + i, 40);
    const before = await redisState('boot-a');
    await unlinkTenantKeys(h.redis, h.keys('boot-a'));
    await unlinkTenantKeys(h.redis, h.keys('boot-c'));
    const restarted = new TenantLoader({
      knex: h.knex,
      redis: h.redis,
      prefix: h.prefix,
      dedupTtlSeconds: DEDUP_TTL_SECONDS,
      logger,
    });
    const loaded = await restarted.loadMissingTenants();
    expect(loaded.filter((t) => t.startsWith('boot-'))).toEqual(['boot-a', 'boot-c']);
    expect([await epochOf('boot-a'), await epochOf('boot-b'), await epochOf('boot-c')]).toEqual([
      2, 1, 2,
    ]);
    expectSameState(await redisState('boot-a'), before);
    for (const t of ['boot-a', 'boot-b', 'boot-c'])
      expect(await mirrorDifferences(h, t)).toEqual([]);
    expect(await restarted.loadMissingTenants()).toEqual([]);
  });

  it('drops an epoch that Redis has but MySQL never committed (a load that died mid-way)', async () => {
    const t = 'ahead';
    await activity(t, 30, 10);
    await h.redis.hset(h.keys(t).meta, 'epoch', '7'); // MySQL says 1
    const meta: EventMeta = {
      tenant: t,
      source: '/erp',
      id: 'ahead-1',
      type: 'stock.received',
      occurredAt: '2026-11-23T11:00:00Z',
    };
    const w = toWrite(
      await h.engine.apply(meta, {
        op: 'receiveStock',
        sku: 'A',
        locationId: 'default',
        quantity: 1,
      }),
    )!;
    expect(w.payload.epoch).toBe(7);
    expect(await h.writer.write(w.payload, w.entryId)).toBe('stale');
    expect(await h.redis.exists(h.keys(t).meta)).toBe(0);
    // the consumer re-applies: the tenant is reloaded on a real epoch and the event lands
    const again = toWrite(
      await h.engine.apply(meta, {
        op: 'receiveStock',
        sku: 'A',
        locationId: 'default',
        quantity: 1,
      }),
    )!;
    expect(again.payload.epoch).toBe(2);
    expect(await h.writer.write(again.payload, again.entryId)).toBe('committed');
    expect(await mirrorDifferences(h, t)).toEqual([]);
  });
});
