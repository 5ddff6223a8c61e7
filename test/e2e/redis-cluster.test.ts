/**
 * The worker end to end on a Redis Cluster of its own (3 masters, 3 replicas, on loopback;
 * in `npm test`: about 20 s here, 6 s of it starting the cluster). The tenants
 * are spread over the three masters (shown by CLUSTER KEYSLOT and by where their keys are), a
 * flash sale and a mixed stream run on a worker, and everything ends exact: no oversell,
 * the domain model's figures, ledger = stock_levels = Redis, the reconciliation (which SCANs
 * every master) clean, /metrics and /readyz answering, BullMQ's cart-expiry jobs on the
 * cluster, and the CLI's stock, stats, rebuild and reconcile on it.
 */
import { afterAll, expect, it } from 'vitest';
import { pairOf, TenantKeys } from '../../src/engine/keys.js';
import { report, size, World, type ScenarioResult } from '../faults/support/harness.js';
import { checkFiguresAgree, checkInvariants } from '../faults/support/invariants.js';
import { inventory } from '../cli/run.js';
import { Oracle } from '../faults/support/oracle.js';
import { freePort, PrivateRedisCluster } from '../faults/support/private.js';
import { mixedSetup, mixedStream, toMessage, type Message } from '../faults/support/stream.js';

const EVENTS = size(3_000, 20_000);
const UNITS = 100;
const CARTS = size(1_000, 5_000);
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 1e6));

let cluster: PrivateRedisCluster | undefined;
let world: World | undefined;
afterAll(async () => {
  await world?.close();
  await cluster?.close();
});

it(`on a Redis Cluster: tenants on every master, a flash sale and a ${EVENTS}-event mixed stream (seed ${SEED})`, async () => {
  const t0 = Date.now();
  cluster = await PrivateRedisCluster.start();
  const clusterSeconds = (Date.now() - t0) / 1000;
  const byMaster = await cluster.tenantsOnEveryMaster('cl', 2);
  const tenants = [...byMaster.values()].flat();
  expect(byMaster.size).toBe(3);
  const flash = tenants[0]!;

  world = await World.create('cluster', {
    redisUrl: cluster.url,
    redisClusterNodes: cluster.seeds,
  });
  const w = world;
  const options = { tenants, events: EVENTS, seed: SEED, poisonRate: 0.01, skus: 20 };
  const setup: Message[] = [
    ...mixedSetup(options).map(toMessage),
    toMessage({
      id: 'flash-receipt',
      type: 'stock.received',
      tenant: flash,
      data: { sku: 'hot', quantity: UNITS },
    }),
  ];
  const mixed = [...mixedStream(options)];
  const carts = Array.from({ length: CARTS }, (_, i) =>
    toMessage({
      id: `flash-add-${i}`,
      type: 'cart.added',
      tenant: flash,
      data: { cartId: `flash-cart-${i}`, sku: 'hot', quantity: 1 },
    }),
  );
  // the flash sale's carts interleaved with the mixed stream
  const stream: Message[] = [];
  for (let i = 0, j = 0; i < mixed.length || j < carts.length;) {
    if (i < mixed.length) stream.push(mixed[i++]!);
    if (j < carts.length && (i % 3 === 0 || i >= mixed.length)) stream.push(carts[j++]!);
  }
  const oracle = new Oracle().applyAll([...setup, ...stream]);

  await w.queueBehindSetup(setup, stream);
  const started = Date.now();
  const httpPort = await freePort();
  // one worker: per-cart order across workers is not guaranteed, and the model assumes it
  await w.startWorkers(1, { HTTP_PORT: String(httpPort), HTTP_HOST: '127.0.0.1' });
  const drainSeconds = await w.drained(oracle.validCount, oracle.poison.size, 600_000);
  const total = (Date.now() - started) / 1000;

  // each tenant's keys are on the master that serves its slot, and only there
  const count = async (port: number, pattern: string) =>
    Number(await cluster!.cli(port, 'EVAL', "return #redis.call('KEYS', ARGV[1])", '0', pattern));
  const where: Record<string, { slot: number; master: number; keys: number[] }> = {};
  for (const [port, names] of byMaster)
    for (const tenant of names) {
      const meta = new TenantKeys(w.prefix, tenant).meta;
      const slot = await cluster.keySlot(meta);
      expect(await cluster.masterOf(meta)).toBe(port);
      const keys: number[] = [];
      for (const m of byMaster.keys()) keys.push(await count(m, `${w.prefix}:{${tenant}}:*`));
      where[tenant] = { slot, master: port, keys };
      expect(
        keys.map((n, i) => n > 0 === ([...byMaster.keys()][i] === port)),
        `${tenant}'s keys only on ${port}`,
      ).toEqual([true, true, true]);
    }
  // BullMQ's keys (one hash tag) are on the cluster too
  const jobKeys = await cluster.masterOf(`{${w.prefix}.jobs}:cart-expiry:meta`);
  expect(await count(jobKeys, `{${w.prefix}.jobs}:*`)).toBeGreaterThan(0);

  const metrics = await fetch(`http://127.0.0.1:${httpPort}/metrics`).then((r) => r.text());
  const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
  await w.stopWorkers();

  const result: ScenarioResult = {
    scenario: 'Redis Cluster (3+3) end to end',
    events: stream.length,
    lost: 0,
    doubled: 0,
    oversold: 0,
    drainSeconds: total,
    note: `${tenants.length} tenants on 3 masters; flash sale ${UNITS} units / ${CARTS} carts; cluster up in ${clusterSeconds.toFixed(1)} s; drained ${drainSeconds.toFixed(1)} s; seed ${SEED}`,
  };
  try {
    console.log('tenants by slot and master', where);
    expect(w.workers.map((x) => x.unexpectedExits)).toEqual([0, 0]);
    expect(ready.status).toBe(200);
    expect(metrics).toMatch(/inventory_outbox_entries \d/);
    const held = (await w
      .knex('stock_levels')
      .where({ tenant: flash, sku: 'hot' })
      .first('on_hand', 'reserved')) as { on_hand: number; reserved: number };
    expect({ onHand: Number(held.on_hand), reserved: Number(held.reserved) }).toEqual({
      onHand: UNITS,
      reserved: UNITS,
    });
    const stockKey = new TenantKeys(w.prefix, flash).stock(pairOf('hot', 'default'));
    const r = w.redis();
    try {
      expect(await r.hget(stockKey, 'reserved')).toBe(String(UNITS));
    } finally {
      r.disconnect();
    }
    await checkInvariants(w, oracle, { onFindings: (f) => Object.assign(result, f) });

    // the operator's CLI on the cluster: live figures, a rebuild of every tenant (SCAN and
    // unlink on every master), then the reconciliation still clean
    const env = { ...w.workerEnv(), LOG_LEVEL: 'silent' };
    const stock = await inventory(['stock', 'hot', '--tenant', flash, '--json'], env);
    expect(stock.code, stock.stderr).toBe(0);
    expect(JSON.parse(stock.stdout)).toMatchObject({
      available: 0,
      reserved: UNITS,
      onHand: UNITS,
    });
    const stats = await inventory(['stats', '--tenant', flash, '--json'], env);
    expect(stats.code, stats.stderr).toBe(0);
    // the outbox lag read on the cluster (null when Redis did not answer)
    expect(JSON.parse(stats.stdout)).toMatchObject({ outbox: { entries: 0 } });
    const rebuilt = await inventory(['rebuild'], env);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toContain(`rebuilt ${tenants.length} tenant(s)`);
    const reconciled = await inventory(['reconcile', '--json'], env);
    expect(reconciled.code, reconciled.stderr).toBe(0);
    expect(JSON.parse(reconciled.stdout)).toMatchObject({ status: 'clean', drifts: 0 });
    await checkFiguresAgree(w);
  } finally {
    report(result);
  }
});
