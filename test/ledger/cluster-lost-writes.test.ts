/**
 * Redis Cluster: a promoted replica that lacks its dead master's last writes, which MySQL has.
 * Made deterministic here: the tenant's keys are put back as they were a few events earlier
 * (a replica that had not received them) and meta is left signed by another node (the master
 * that made the writes). The next event finds NODE_CHANGED, the tenant is reloaded from the
 * ledger before anything is written, and no unit is sold twice. Beside it, the same lost
 * writes with the signature intact (what a Redis without the check would do) oversell: the
 * check is what prevents it.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { EventMeta } from '../../src/domain/types.js';
import { scanKeys } from '../../src/engine/redis-client.js';
import { PrivateRedisCluster } from '../faults/support/private.js';
import { createReconcileHarness, events, type ReconcileHarness } from '../reconcile/harness.js';

let cluster: PrivateRedisCluster;
let h: ReconcileHarness;
const logged: { msg: string; tenant?: string; lostWrites?: number }[] = [];
beforeAll(async () => {
  cluster = await PrivateRedisCluster.start();
  h = await createReconcileHarness(
    'lostw',
    { REDIS_URL: cluster.url, REDIS_CLUSTER_NODES: cluster.seeds.join(',') },
    pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) }),
  );
}, 120_000);
afterAll(async () => {
  await h?.close();
  await cluster?.close();
});

const UNITS = 10;
const reserve = (cartId: string) =>
  ({
    op: 'reserveCart',
    cartId,
    sku: 'a',
    locationId: 'default',
    quantity: 1,
    ttlMs: 3_600_000,
  }) as const;

/** Every key of the tenant, dumped (what a replica has at this point). */
async function snapshot(tenant: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  await scanKeys(h.s.redis, h.keys(tenant).all, 1000, async (keys) => {
    for (const k of keys) out.set(k, (await h.s.redis.dumpBuffer(k))!);
  });
  return out;
}

/** The tenant's keys as in `snap`: the writes made since are lost. */
async function loseWritesSince(tenant: string, snap: Map<string, Buffer>): Promise<void> {
  await scanKeys(h.s.redis, h.keys(tenant).all, 1000, async (keys) => {
    for (const k of keys) if (!snap.has(k)) await h.s.redis.del(k);
  });
  for (const [k, v] of snap) await h.s.redis.restore(k, 0, v, 'REPLACE');
}

const metas: EventMeta[] = [];

/** Reserves `n` carts; returns how many got their unit. */
async function reserveCarts(tenant: string, from: number, n: number): Promise<number> {
  const e = events(tenant);
  let held = 0;
  for (let i = from; i < from + n; i++) {
    const meta = e('cart.added');
    const r = await h.s.engine.apply(meta, reserve(`c${i}`));
    if (r.status !== 'applied') throw new Error(JSON.stringify(r));
    expect(await h.s.writer.write(r.payload, r.entryId)).toBe('committed');
    if (r.payload.outcome.result === 'applied') held++;
    metas.push(meta);
  }
  return held;
}

const levels = async (tenant: string) => {
  const row = (await h.s.knex('stock_levels').where({ tenant, sku: 'a' }).first()) as {
    on_hand: number;
    reserved: number;
  };
  return { onHand: Number(row.on_hand), reserved: Number(row.reserved) };
};

for (const signed of [true, false])
  test(
    signed
      ? 'a promoted replica without the last writes: detected, reloaded from the ledger, no oversell'
      : 'the same lost writes on an unsigned node (no check): oversold',
    async () => {
      const tenant = signed ? 'promoted' : 'unchecked';
      await h.apply(events(tenant)('stock.received'), {
        op: 'receiveStock',
        sku: 'a',
        locationId: 'default',
        quantity: UNITS,
      });
      const before = await snapshot(tenant);
      // six units held, durable in MySQL; then lost from Redis
      expect(await reserveCarts(tenant, 1, 6)).toBe(6);
      await loseWritesSince(tenant, before);
      const meta = h.keys(tenant).meta;
      if (signed) await h.s.redis.hset(meta, 'node', 'the-dead-master');
      else await h.s.redis.hdel(meta, 'node');

      const held = await reserveCarts(tenant, 7, 6);
      const epoch = (await h.s.knex('tenant_epochs').where({ tenant }).first('epoch')) as {
        epoch: number;
      };
      const inRedis = Number(
        await h.s.redis.hget(h.keys(tenant).stock('a\x1fdefault'), 'reserved'),
      );
      if (signed) {
        expect(Number(epoch.epoch)).toBe(2);
        // the reload signed meta with the node it loaded the tenant on
        const port = await cluster.masterOf(meta);
        expect(await h.s.redis.hget(meta, 'node')).toBe(await cluster.cli(port, 'CLUSTER', 'MYID'));
        // the reload counted the writes the replaced copy lacked: the six reservations
        expect(
          logged.filter((l) => l.tenant === tenant && l.lostWrites !== undefined),
        ).toMatchObject([{ lostWrites: 6 }]);
        expect(held).toBe(UNITS - 6);
        expect(await levels(tenant)).toEqual({ onHand: UNITS, reserved: UNITS });
        expect(inRedis).toBe(UNITS);
        // the events MySQL has are known again: a redelivery of a lost one is a duplicate
        const lost = metas.find((m) => m.tenant === tenant)!;
        expect((await h.s.engine.apply(lost, reserve('c1'))).status).toBe('duplicate');
      } else {
        expect(Number(epoch.epoch)).toBe(1);
        expect(held).toBe(6);
        expect(await levels(tenant)).toEqual({ onHand: UNITS, reserved: 12 });
      }
    },
  );
