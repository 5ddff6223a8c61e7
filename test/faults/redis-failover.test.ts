/**
 * Scenario 12: Redis Cluster failover. `kill -9` of the master that serves a busy tenant (a
 * flash sale on scarce stock inside a mixed stream) while the worker consumes; its replica is
 * promoted (cluster-node-timeout 1 s). Replication is asynchronous, so the promoted replica may
 * lack the dead master's last writes, which MySQL may already have: here it does, for sure (the
 * replica is made to lag for 300 ms before the kill). The first script on the
 * promoted node finds the tenant's meta signed by the dead node (NODE_CHANGED) and writes
 * nothing; the worker reloads that tenant from the ledger under a new epoch and goes on. The
 * tenants of the other masters are not reloaded. Nothing lost, nothing doubled, no oversell,
 * the domain model's figures, ledger = stock_levels = Redis, the reconciliation clean.
 */
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { TenantKeys } from '../../src/engine/keys.js';
import { report, size, sleep, World, type ScenarioResult } from './support/harness.js';
import { checkInvariants } from './support/invariants.js';
import { Oracle } from './support/oracle.js';
import { PrivateRedisCluster } from './support/private.js';
import { mixedSetup, mixedStream, toMessage, type Message } from './support/stream.js';
import { WorkerProcess } from './support/worker-process.js';

const EVENTS = size(6_000, 30_000);
const UNITS = 150;
const CARTS = size(2_000, 6_000);
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 1e6));
/** how long the worker writes to the master while its replica reads nothing */
const LAG_MS = 300;
const RELOADED = 'tenant reloaded into Redis: its writes were made on another cluster node';

let cluster: PrivateRedisCluster | undefined;
let world: World | undefined;
afterAll(async () => {
  await world?.close();
  await cluster?.close();
});

it(`kill -9 of a busy tenant's master mid-stream: replica promoted, tenant reloaded, exact figures (seed ${SEED})`, async () => {
  cluster = await PrivateRedisCluster.start({ nodeTimeoutMs: 1000 });
  const byMaster = await cluster.tenantsOnEveryMaster('fo', 1);
  const [deadPort, busy] = [...byMaster].map(([port, [t]]) => [port, t!] as const)[0]!;
  const tenants = [...byMaster.values()].map(([t]) => t!);

  world = await World.create('failover', {
    redisUrl: cluster.url,
    redisClusterNodes: cluster.seeds,
  });
  const w = world;
  const options = { tenants, events: EVENTS, seed: SEED, poisonRate: 0.01, skus: 20 };
  const setup: Message[] = [
    ...mixedSetup(options).map(toMessage),
    toMessage({
      id: 'scarce-receipt',
      type: 'stock.received',
      tenant: busy,
      data: { sku: 'scarce', quantity: UNITS },
    }),
  ];
  const mixed = [...mixedStream(options)];
  const stream: Message[] = [];
  for (let i = 0, j = 0; i < mixed.length || j < CARTS;) {
    if (i < mixed.length) stream.push(mixed[i++]!);
    if (j < CARTS && (i % 3 === 0 || i >= mixed.length))
      stream.push(
        toMessage({
          id: `scarce-add-${j}`,
          type: 'cart.added',
          tenant: busy,
          data: { cartId: `scarce-cart-${j++}`, sku: 'scarce', quantity: 1 },
        }),
      );
  }
  const oracle = new Oracle().applyAll([...setup, ...stream]);
  await w.queueBehindSetup(setup, stream);

  const logged: string[] = [];
  const worker = new WorkerProcess('failover-w', w.workerEnv(), [], (c) => logged.push(c));
  w.workers.push(worker);
  const started = Date.now();
  await worker.start();
  const valid = oracle.validCount - setup.length;
  await w.reach(setup.length + Math.floor(valid * 0.3));
  const replica = await cluster.replicaOf(deadPort);
  // The replica stops reading its master's stream, and 32 MB written to the master fill the
  // socket buffers between them: what the worker writes next stays in the master's own output
  // buffer (acknowledged to the worker, committed to MySQL, never on the replica), and is lost
  // with the master. Without this, a loopback replica is rarely more than a write behind.
  cluster.pause(replica);
  const direct = new Redis(deadPort, '127.0.0.1', { maxRetriesPerRequest: 0 });
  const junk = 'x'.repeat(4 << 20);
  for (let i = 0; i < 8; i++) await direct.set(`junk:{${busy}}:${i}`, junk);
  direct.disconnect();
  await sleep(LAG_MS);
  const atKill = (await w.processed()) - setup.length;
  const killedAt = Date.now();
  await cluster.kill9(deadPort);
  cluster.resume(replica);
  // the replica serves the slot once the others agree its master failed
  const meta = new TenantKeys(w.prefix, busy).meta;
  while ((await cluster.masterOf(meta).catch(() => deadPort)) !== replica) await sleep(50);
  const failoverSeconds = (Date.now() - killedAt) / 1000;
  const drainSeconds = await w.drained(oracle.validCount, oracle.poison.size, 600_000);
  const total = (Date.now() - started) / 1000;
  await worker.stop();

  const reloads = logged
    .join('')
    .split('\n')
    .filter((l) => l.includes(RELOADED))
    .map(
      (l) => JSON.parse(l) as { tenant: string; ms: number; drained: number; lostWrites: number },
    );
  const epochs = Object.fromEntries(
    (
      (await w.knex('tenant_epochs').select('tenant', 'epoch')) as {
        tenant: string;
        epoch: number;
      }[]
    ).map((r) => [r.tenant, Number(r.epoch)]),
  );
  const result: ScenarioResult = {
    scenario: '12 Redis Cluster failover (kill -9 of a master)',
    events: stream.length,
    lost: 0,
    doubled: 0,
    oversold: 0,
    drainSeconds: total,
    note: `killed the master of ${busy} after ${atKill} events; replica serving after ${failoverSeconds.toFixed(1)} s; ${busy} reloaded in ${reloads.map((r) => r.ms).join(', ')} ms (the promoted replica lacked ${reloads.map((r) => r.lostWrites).join(', ')} write(s) MySQL had); drained ${drainSeconds.toFixed(1)} s after the kill; seed ${SEED}`,
  };
  try {
    console.log({ epochs, reloads, failoverSeconds });
    expect(worker.unexpectedExits).toBe(0);
    // the busy tenant, and only it, was reloaded from MySQL after the failover
    expect(reloads.map((r) => r.tenant)).toEqual([busy]);
    // and the promoted replica had indeed lost writes that MySQL had
    expect(reloads[0]!.lostWrites).toBeGreaterThan(0);
    expect(epochs).toEqual(Object.fromEntries(tenants.map((t) => [t, t === busy ? 2 : 1])));
    const held = (await w
      .knex('stock_levels')
      .where({ tenant: busy, sku: 'scarce' })
      .first('on_hand', 'reserved')) as { on_hand: number; reserved: number };
    expect({ onHand: Number(held.on_hand), reserved: Number(held.reserved) }).toEqual({
      onHand: UNITS,
      reserved: UNITS,
    });
    await checkInvariants(w, oracle, { onFindings: (f) => Object.assign(result, f) });
  } finally {
    report(result);
  }
});
