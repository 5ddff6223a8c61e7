/**
 * How many of the mix's script calls take a fast path: the mix workload's events (as in
 * redis-per-type.ts) applied one at a time through the Engine, every call of a script with a
 * fast path probed and, when the fast path took it, checked against the generic path on the
 * same state (test/support/fast-paths.ts). Prints per script the calls the fast path took.
 *
 *   REDIS_URL=redis://127.0.0.1:6391 npx tsx test/bench/fast-path-share.ts [events (2000)]
 */
import { consumers } from '../../consumers/index.js';
import { Engine } from '../../src/engine/engine.js';
import { TenantKeys } from '../../src/engine/keys.js';
import { checkFastPaths } from '../support/fast-paths.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { BENCH_TENANT } from './e2e/publisher.js';
import { realisticMix } from './e2e/workloads.js';

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 2000);
  const redis = testRedis();
  const prefix = uniqueName('fastshare');
  try {
    const engine = new Engine(redis, {
      prefix,
      dedupTtlSeconds: 3600,
      ensureTenant: async (t) => {
        await redis.hset(new TenantKeys(prefix, t).meta, 'epoch', 1);
      },
    });
    const counts = await checkFastPaths(redis);
    const w = realisticMix(n, 'share');
    const occurredAt = new Date().toISOString();
    for (const e of [...w.seed, ...w.events]) {
      const c = consumers.get(e.type)!;
      const r = await engine.apply(
        { tenant: BENCH_TENANT, source: '/bench', id: e.id, type: e.type, occurredAt },
        c.command(c.data.parse(e.data), {
          tenant: BENCH_TENANT,
          cartTtlMs: 3_600_000,
          checkoutTtlMs: 900_000,
        }),
      );
      if (r.status !== 'applied') throw new Error(`${e.id}: ${JSON.stringify(r)}`);
    }
    for (const name of Object.keys(counts.fast)) {
      const fast = counts.fast[name]!;
      const all = fast + counts.other[name]!;
      console.log(`${name}: fast path ${fast} of ${all} calls, each the same as the generic path`);
    }
  } finally {
    await dropRedisPrefix(redis, prefix);
    redis.disconnect();
  }
}

await main();
