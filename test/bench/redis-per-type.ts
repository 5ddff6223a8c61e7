/**
 * Where the mix's Redis time goes, by event type: the mix workload's events (the e2e bench's,
 * test/bench/e2e/workloads.ts) applied straight through the Engine (no broker, no MySQL), each
 * run of same-type events (the workload publishes a wave's steps type by type) timed with
 * INFO commandstats. Per type: script calls, Redis µs per call (EVALSHA, which includes the
 * commands its script runs), the commands the script runs (calls and µs per event), and what
 * is left for Lua itself (decoding ARGV, building tables and the payload, closures, GC).
 *
 *   npx tsx test/bench/redis-per-type.ts [events (20000)] [in flight (64)]
 *
 * commandstats is server-wide: another client of the same Redis counts too. A run where the
 * EVALSHA count differs from the events applied is reported (its µs are suspect).
 */
import os from 'node:os';
import type { Redis } from 'ioredis';
import { consumers } from '../../consumers/index.js';
import type { Command, EventMeta } from '../../src/domain/types.js';
import { Engine } from '../../src/engine/engine.js';
import { TenantKeys } from '../../src/engine/keys.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { BENCH_TENANT } from './e2e/publisher.js';
import { realisticMix, type BenchEvent } from './e2e/workloads.js';

type Stats = Map<string, { calls: number; usec: number }>;

/** commandstats, and Redis's main-thread CPU time as the pseudo-command `cpu` (µs). */
async function commandStats(redis: Redis): Promise<Stats> {
  const out: Stats = new Map();
  for (const m of (await redis.info('commandstats')).matchAll(
    /cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g,
  ))
    out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  const cpu = await redis.info('cpu');
  const f = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(cpu)?.[1] ?? 0);
  const us = (f('used_cpu_user_main_thread') + f('used_cpu_sys_main_thread')) * 1e6;
  out.set('cpu', { calls: 1e12, usec: us });
  return out;
}

function delta(a: Stats, b: Stats): Stats {
  const out: Stats = new Map();
  for (const [k, v] of b) {
    const o = a.get(k) ?? { calls: 0, usec: 0 };
    if (k === 'cpu') out.set(k, { calls: 0, usec: v.usec - o.usec });
    else if (v.calls > o.calls) out.set(k, { calls: v.calls - o.calls, usec: v.usec - o.usec });
  }
  return out;
}

const CART_TTL_MS = 3_600_000;
const occurredAt = new Date().toISOString();

function toCommand(e: BenchEvent): { meta: EventMeta; command: Command } {
  const c = consumers.get(e.type);
  if (!c) throw new Error(`no consumer for ${e.type}`);
  const data = c.data.parse(e.data);
  return {
    meta: { tenant: BENCH_TENANT, source: '/bench', id: e.id, type: e.type, occurredAt },
    command: c.command(data, {
      tenant: BENCH_TENANT,
      cartTtlMs: CART_TTL_MS,
      checkoutTtlMs: 900_000,
    }),
  };
}

async function applyAll(engine: Engine, events: BenchEvent[], inFlight: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < events.length) {
      const { meta, command } = toCommand(events[next++]!);
      const r = await engine.apply(meta, command);
      if (r.status !== 'applied') throw new Error(`${meta.id}: ${JSON.stringify(r)}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, events.length) }, lane));
}

/** The commands scripts run (INFO counts them apart as well as within EVALSHA's time). */
const OUTSIDE = new Set(['cpu', 'evalsha', 'eval', 'info', 'hkeys', 'script', 'zrangebyscore']);

export async function redisPerType(n: number, inFlight: number): Promise<string> {
  const redis = testRedis();
  const admin = testRedis();
  const prefix = uniqueName('rpt');
  try {
    const engine = new Engine(redis, {
      prefix,
      dedupTtlSeconds: 3600,
      ensureTenant: async (t) => {
        await redis.hset(new TenantKeys(prefix, t).meta, 'epoch', 1, 'isc', 1);
      },
    });
    const w = realisticMix(n, 'rpt');
    await applyAll(engine, w.seed, inFlight);
    const per = new Map<string, { events: number; stats: Stats; suspect: number }>();
    for (let i = 0; i < w.events.length;) {
      let j = i;
      while (j < w.events.length && w.events[j]!.type === w.events[i]!.type) j++;
      const chunk = w.events.slice(i, j);
      const before = await commandStats(admin);
      await applyAll(engine, chunk, inFlight);
      const d = delta(before, await commandStats(admin));
      const t = per.get(chunk[0]!.type) ?? { events: 0, stats: new Map(), suspect: 0 };
      t.events += chunk.length;
      // INFO itself counts once per call; anything beyond the chunk's own calls is another client
      if ((d.get('evalsha')?.calls ?? 0) !== chunk.length) t.suspect++;
      for (const [k, v] of d) {
        const o = t.stats.get(k) ?? { calls: 0, usec: 0 };
        t.stats.set(k, { calls: o.calls + v.calls, usec: o.usec + v.usec });
      }
      per.set(chunk[0]!.type, t);
      i = j;
    }
    const lines: string[] = [
      `redis per type: ${n.toLocaleString('en-US')} mix events, ${inFlight} in flight, ` +
        `load average ${os
          .loadavg()
          .map((x) => x.toFixed(2))
          .join(' ')}`,
      '',
      '| type | share | EVALSHA µs/call | commands in it µs/ev | Lua µs/ev | µs/ev of the mix | Redis CPU µs/ev | commands in the script (calls/ev, µs/ev) | outside scripts (calls/ev) |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ];
    let total = 0;
    let totalLua = 0;
    let totalCpu = 0;
    for (const [type, t] of per) {
      const ev = t.events;
      const script = t.stats.get('evalsha') ?? { calls: 0, usec: 0 };
      const inner = [...t.stats].filter(([k]) => !OUTSIDE.has(k));
      const innerUsec = inner.reduce((a, [, v]) => a + v.usec, 0);
      const outside = [...t.stats].filter(
        ([k]) => OUTSIDE.has(k) && k !== 'evalsha' && k !== 'info',
      );
      const share = ev / w.events.length;
      total += script.usec / w.events.length;
      totalLua += (script.usec - innerUsec) / w.events.length;
      totalCpu += (t.stats.get('cpu')?.usec ?? 0) / w.events.length;
      lines.push(
        `| ${type} | ${(share * 100).toFixed(1)}% | ${(script.usec / script.calls).toFixed(1)} | ` +
          `${(innerUsec / ev).toFixed(1)} | ${((script.usec - innerUsec) / ev).toFixed(1)} | ` +
          `${(script.usec / w.events.length).toFixed(1)} | ` +
          `${((t.stats.get('cpu')?.usec ?? 0) / ev).toFixed(1)} | ` +
          inner
            .sort((a, b) => b[1].usec - a[1].usec)
            .map(([k, v]) => `${k} ${(v.calls / ev).toFixed(2)}, ${(v.usec / ev).toFixed(1)}`)
            .join('; ') +
          ` | ${outside.map(([k, v]) => `${k} ${(v.calls / ev).toFixed(2)}`).join('; ') || '-'}` +
          (t.suspect ? ` (${t.suspect} runs with other EVALSHA clients)` : '') +
          ' |',
      );
    }
    lines.push(
      '',
      `mix: ${total.toFixed(1)} µs of EVALSHA per event, of which Lua itself ${totalLua.toFixed(1)}; ` +
        `Redis CPU ${totalCpu.toFixed(1)} µs per event (every command, INFO included)`,
    );
    return lines.join('\n');
  } finally {
    await dropRedisPrefix(admin, prefix);
    await redis.quit();
    await admin.quit();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 20_000);
  const inFlight = Number(process.argv[3] ?? 64);
  console.log(await redisPerType(n, inFlight));
}
