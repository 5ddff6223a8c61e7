/**
 * What detecting crossings of zero (inventory.availability-changed) costs Redis: the same
 * events, a receipt of 1 unit and a new cart taking 1 (reserveCart's fast path), either at a
 * SKU with plenty of stock (no crossing) or at a SKU at zero (each event crosses: in, then
 * out). Redis main-thread CPU and EVALSHA µs per event, over interleaved rounds.
 *
 *   npx tsx test/bench/crossings.ts [events per round (20000)] [rounds (5)]
 *
 * Run it on two commits to compare with and without the detection.
 */
import type { Redis } from 'ioredis';
import type { Command, EventMeta } from '../../src/domain/types.js';
import { Engine } from '../../src/engine/engine.js';
import { TenantKeys } from '../../src/engine/keys.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';

const TENANT = 'crossings';
const IN_FLIGHT = 32;
const occurredAt = new Date().toISOString();

async function cpuAndEval(redis: Redis): Promise<{ cpuUs: number; evalUs: number; calls: number }> {
  const cpu = await redis.info('cpu');
  const f = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(cpu)?.[1] ?? 0);
  const stats = await redis.info('commandstats');
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(stats);
  return {
    cpuUs: (f('used_cpu_user_main_thread') + f('used_cpu_sys_main_thread')) * 1e6,
    evalUs: Number(m?.[2] ?? 0),
    calls: Number(m?.[1] ?? 0),
  };
}

async function main(n: number, rounds: number): Promise<void> {
  const redis = testRedis();
  const admin = testRedis();
  const prefix = uniqueName('cross');
  let seq = 0;
  try {
    const engine = new Engine(redis, {
      prefix,
      dedupTtlSeconds: 3600,
      ensureTenant: async (t) => {
        await redis.hset(new TenantKeys(prefix, t).meta, 'epoch', 1, 'isc', 1);
      },
    });
    const apply = async (command: Command) => {
      const meta: EventMeta = {
        tenant: TENANT,
        source: '/bench',
        id: `e${++seq}`,
        type: command.op,
        occurredAt,
      };
      const r = await engine.apply(meta, command);
      if (r.status !== 'applied') throw new Error(JSON.stringify(r));
      return r;
    };
    await apply({ op: 'receiveStock', sku: 'PLENTY', locationId: 'default', quantity: 1e9 });
    // each pair of events: a receipt of 1, then a new cart taking 1
    const pairOf = (crossing: boolean, i: number): Command[] => {
      const sku = crossing ? `Z${seq}-${i}` : 'PLENTY';
      return [
        { op: 'receiveStock', sku, locationId: 'default', quantity: 1 },
        {
          op: 'reserveCart',
          cartId: `c${seq}-${i}`,
          sku,
          locationId: 'default',
          quantity: 1,
          ttlMs: 3_600_000,
        },
      ];
    };
    const run = async (crossing: boolean) => {
      const before = await cpuAndEval(admin);
      let next = 0;
      let flips = 0;
      let events = 0;
      const lane = async () => {
        while (next < n / 2) {
          for (const c of pairOf(crossing, next++)) {
            const r = await apply(c);
            flips += r.payload.outcome.availability?.length ?? 0;
            events++;
          }
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
      const after = await cpuAndEval(admin);
      // commandstats and CPU are server-wide: another client of this Redis inflates both
      const other = after.calls - before.calls - events;
      return {
        other,
        cpu: (after.cpuUs - before.cpuUs) / events,
        evalsha: (after.evalUs - before.evalUs) / events,
        flips: flips / events,
      };
    };
    const out: Record<string, { cpu: number[]; evalsha: number[]; flips: number; other: number }> =
      {};
    await run(false); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const crossing of [false, true]) {
        const k = crossing ? 'crossing' : 'no crossing';
        const x = await run(crossing);
        const o = (out[k] ??= { cpu: [], evalsha: [], flips: x.flips, other: 0 });
        o.other += x.other;
        o.cpu.push(x.cpu);
        o.evalsha.push(x.evalsha);
      }
    }
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
    for (const [k, o] of Object.entries(out)) {
      console.log(
        `${k}: Redis CPU ${median(o.cpu).toFixed(1)} µs/event, EVALSHA ${median(o.evalsha).toFixed(1)} µs/event ` +
          `(medians of ${rounds} rounds of ${n}; crossings per event ${o.flips.toFixed(2)}; ` +
          `other clients' EVALSHA calls meanwhile: ${o.other})`,
      );
    }
  } finally {
    await dropRedisPrefix(admin, prefix);
    await redis.quit();
    await admin.quit();
  }
}

await main(Number(process.argv[2] ?? 20_000), Number(process.argv[3] ?? 5));
