/**
 * Where a script's time goes inside Redis: one shopper of the mix (cart → order → payment →
 * shipment → return) is applied step by step; before each step the script is also run, whole
 * and cut short at checkpoints (`do return 1 end` inserted before a line of its source), with
 * the step's real keys and arguments, many times, each call on the same state: the keys it
 * touches are restored (DUMP/RESTORE, the marker deleted) before each call, outside EVALSHA's
 * time. Redis's CPU per call of each cut (its main thread's, less what the restores cost),
 * minus the previous cut's, is what that stretch of the script costs; ROUNDS (7) rounds
 * interleave the cuts, the median round is shown.
 *
 *   REDIS_URL=redis://127.0.0.1:6391 npx tsx test/bench/lua-checkpoints.ts [calls (3000)]
 *
 * Use a Redis of its own (commandstats is server-wide). LUA_GC=stop stops Lua's garbage
 * collector for the timed calls (restarted after): what the scripts' garbage costs.
 */
import type { Redis } from 'ioredis';
import { consumers } from '../../consumers/index.js';
import type { EventMeta } from '../../src/domain/types.js';
import { Engine } from '../../src/engine/engine.js';
import { TenantKeys } from '../../src/engine/keys.js';
import { readScripts } from '../../src/engine/lua-scripts.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { BENCH_TENANT } from './e2e/publisher.js';
import { realisticMix } from './e2e/workloads.js';

/** Whole-script variants timed after the cuts: [label, text of the source, replaced by]. */
const VARIANTS: Record<string, [string, string, string][]> = {
  // the same cart.added through the generic path (what the other ops all run)
  reserveCart: [['whole, generic path forced', 'local fast = plain and', 'local fast = false and']],
  placeOrder: [['whole, generic path forced', 'local fast = plain and', 'local fast = false and']],
  commitOrder: [['whole, generic path forced', 'local fast = plain and', 'local fast = false and']],
  fulfilShipment: [
    ['whole, generic path forced', 'local fast = plain and', 'local fast = false and'],
  ],
};

/** In finish (includes/stock.lua): where the payload's building starts, and its XADD. */
const FINISH_PAYLOAD = '  local out\n  if outcome == nil and not low';
const FINISH_XADD = "  local entryId = rcall('XADD', KEYS[3], '*', 'p', payload)";

/** Per script: [label, a line of its resolved source the cut goes before] in source order. */
const CUTS: Record<string, [string, string][]> = {
  reserveCart: [
    ['includes defined', 'local a, early = begin('],
    ['begin (HMGET meta, GET marker, cjson.decode ARGV, CLEAN scan)', 'local cartKey = KEYS[4]'],
    ['HGETALL cart, fast-path checks', 'local stockKey = KEYS[6]'],
    ['HMGET stock', 'if not fast then'],
    ['fast path: stock and cart HSET, ZADD', "-- the snapshot's lines, sorted by pair"],
    ['fast path: payload built', "local entryId = rcall('XADD'"],
  ],
  placeOrder: [
    ['includes defined', 'local a, early = begin('],
    ['begin', 'local orderKey, cartKey = KEYS[4], KEYS[5]'],
    ['EXISTS order, HGETALL cart, fast-path checks', 'local nps, np, need = {}, 0, {}'],
    ['lines, HMGET stock per pair', 'if not fast then'],
    ['fast path: order lines, cart HDEL, HSET, ZREM, EXPIRE', "rcall('HSET', orderKey, unpack("],
    ['fast path: order HSET, stock HSETs, crossings', 'local out = \'{"result":"applied"}\''],
    ['fast path: payload built', "local entryId = rcall('XADD'"],
  ],
  commitOrder: [
    ['includes defined', 'local a, early = begin('],
    ['begin', 'local orderKey = KEYS[4]'],
    ['HGETALL order, fast-path checks', 'local slots, sv'],
    ['HMGET stock per line', 'if not fast then'],
    ['fast path: stock HSETs, lines', '-- the order: paid'],
    ['fast path: order HSET, payload built', "local entryId = rcall('XADD'"],
  ],
  fulfilShipment: [
    ['includes defined', 'local a, early = begin('],
    ['begin', 'local orderKey = KEYS[4]'],
    ['HGETALL order, fast-path checks', 'local sp, ns, ship = {}, 0, {}'],
    ['shipment lines, HMGET stock per line', 'if not fast then'],
    ['fast path: stock HSETs, movements', '-- the order: each line'],
    ['fast path: order HSET, snapshot, payload built', "local entryId = rcall('XADD'"],
  ],
  returnStock: [
    ['includes defined', 'local a, early = begin('],
    ['begin', 'for _, l in ipairs(a.lines) do'],
    ['moves (HMGET stock per line)', 'return finish()'],
    ['finish: fills, stock HSETs', FINISH_PAYLOAD],
    ['finish: payload built', FINISH_XADD],
  ],
};

const ROUNDS = Number(process.env.ROUNDS ?? 7);

const median = (xs: number[]): number => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};

type Stats = { calls: number; usec: number; cpuUs: number };

/** EVALSHA's calls and µs (wall), and the CPU time of Redis's main thread (µs). */
async function evalshaStats(redis: Redis): Promise<Stats> {
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(await redis.info('commandstats'));
  const cpu = await redis.info('cpu');
  const f = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(cpu)?.[1] ?? 0);
  return {
    calls: Number(m?.[1] ?? 0),
    usec: Number(m?.[2] ?? 0),
    cpuUs: (f('used_cpu_user_main_thread') + f('used_cpu_sys_main_thread')) * 1e6,
  };
}

/** The keys a call may change (all but meta and the outbox), as they are now. */
async function snapshot(redis: Redis, keys: string[]): Promise<[string, Buffer | null][]> {
  const out: [string, Buffer | null][] = [];
  for (const k of keys.filter((x) => !x.endsWith(':meta') && !x.endsWith(':outbox')))
    out.push([k, await redis.dumpBuffer(k)]);
  return out;
}

/**
 * µs per call of `sha` with these keys and argv, `calls` times, each on the snapshot's state:
 * EVALSHA's wall time, and Redis's CPU time per call (restores included: subtract the trivial
 * script's). On a loaded machine the wall time counts the time Redis was preempted; CPU not.
 */
async function timeCalls(
  redis: Redis,
  admin: Redis,
  sha: string,
  args: (string | number)[],
  state: [string, Buffer | null][],
  calls: number,
): Promise<{ wall: number; cpu: number }> {
  const stopGc = process.env.LUA_GC === 'stop';
  if (stopGc) await redis.eval("collectgarbage('stop')", 0);
  const before = await evalshaStats(admin);
  for (let i = 0; i < calls; i++) {
    const p = redis.pipeline();
    for (const [k, v] of state) {
      if (v) p.restore(k, 0, v, 'REPLACE');
      else p.del(k);
    }
    p.call('evalsha', sha, ...args);
    const res = await p.exec();
    const err = res?.find(([e]) => e)?.[0];
    if (err) throw err;
  }
  const after = await evalshaStats(admin);
  if (stopGc) await redis.eval("collectgarbage('restart') collectgarbage('collect')", 0);
  return {
    wall: (after.usec - before.usec) / (after.calls - before.calls),
    cpu: (after.cpuUs - before.cpuUs) / calls,
  };
}

async function main(): Promise<void> {
  const calls = Number(process.argv[2] ?? 3000);
  const redis = testRedis();
  const admin = testRedis();
  const prefix = uniqueName('cuts');
  const scripts = new Map(readScripts().map((s) => [s.name, s]));
  try {
    const engine = new Engine(redis, {
      prefix,
      dedupTtlSeconds: 3600,
      ensureTenant: async (t) => {
        await redis.hset(new TenantKeys(prefix, t).meta, 'epoch', 1, 'isc', 1);
      },
    });
    const w = realisticMix(800, 'cuts');
    const occurredAt = new Date().toISOString();
    const meta = (id: string, type: string): EventMeta => ({
      tenant: BENCH_TENANT,
      source: '/bench',
      id,
      type,
      occurredAt,
    });
    const shopper = w.events.filter((e) => e.id.startsWith('cuts-s0-'));
    const skus = new Set(shopper.flatMap((e) => JSON.stringify(e.data).match(/SKU-\d+/g) ?? []));
    for (const e of w.seed.filter((s) => skus.has(s.data.sku as string))) {
      const c = consumers.get(e.type)!;
      await engine.apply(
        meta(e.id, e.type),
        c.command(c.data.parse(e.data), {
          tenant: BENCH_TENANT,
          cartTtlMs: 3_600_000,
          checkoutTtlMs: 900_000,
        }),
      );
    }
    // capture each step's script call (keys and argv) by sending it through a spy first
    const r = redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const rows: string[] = [
      '| script | cut after | wall µs/call | CPU µs/call | this stretch, CPU µs |',
      '| --- | --- | --- | --- | --- |',
    ];
    for (const e of shopper) {
      const c = consumers.get(e.type)!;
      const command = c.command(c.data.parse(e.data), {
        tenant: BENCH_TENANT,
        cartTtlMs: 3_600_000,
        checkoutTtlMs: 900_000,
      });
      const spec = scripts.get(
        {
          reserveCart: 'reserveCart',
          placeOrder: 'placeOrder',
          commitOrder: 'commitOrder',
          fulfilShipment: 'fulfilShipment',
          returnStock: 'returnStock',
        }[command.op as string] ?? '',
      );
      if (spec) {
        let captured: unknown[] | undefined;
        const real = r[spec.command]!;
        // a dry run to capture the call: the spy answers RETRY until the engine gives up
        const probe = { ...meta(`${e.id}-probe`, e.type) };
        r[spec.command] = (...a: unknown[]) => {
          captured = a;
          return Promise.resolve([-2]); // RETRY: the engine plans again; we stop it below
        };
        await engine.apply(probe, command).catch(() => undefined);
        r[spec.command] = real;
        const args = (captured ?? []).map((x) => x as string | number);
        // the captured call names the probe's marker; use the real event's instead
        const fixed = args.map((x) =>
          typeof x === 'string' ? x.replaceAll(`${e.id}-probe`, e.id) : x,
        );
        const withCount = spec.variadic ? fixed : [spec.fixedKeys, ...fixed];
        const keyCount = Number(withCount[0]);
        const state = await snapshot(redis, withCount.slice(1, 1 + keyCount).map(String));
        const time = (sha: string, n: number) => timeCalls(redis, admin, sha, withCount, state, n);
        const variants: [string, string][] = [
          ['return 1, same keys and argv', (await redis.script('LOAD', 'return 1')) as string],
        ];
        for (const [label, before] of CUTS[spec.name] ?? []) {
          const at = spec.lua.lastIndexOf(before);
          if (at < 0) throw new Error(`${spec.name}: no line ${before}`);
          const lua = `${spec.lua.slice(0, at)}do return 1 end\n${spec.lua.slice(at)}`;
          variants.push([label, (await redis.script('LOAD', lua)) as string]);
        }
        variants.push(['whole script', (await redis.script('LOAD', spec.lua)) as string]);
        for (const [label, from, to] of VARIANTS[spec.name] ?? []) {
          if (!spec.lua.includes(from)) throw new Error(`${spec.name}: no text ${from}`);
          variants.push([
            label,
            (await redis.script('LOAD', spec.lua.replace(from, to))) as string,
          ]);
        }
        // rounds interleave the variants, so a burst of load elsewhere hits them alike
        const walls = variants.map((): number[] => []);
        const cpus = variants.map((): number[] => []);
        for (let round = 0; round < ROUNDS; round++) {
          for (const [i, [, sha]] of variants.entries()) {
            const t = await time(sha, Math.ceil(calls / ROUNDS));
            walls[i]!.push(t.wall);
            cpus[i]!.push(t.cpu);
          }
        }
        // CPU per call beyond the restores: the trivial script's CPU less its EVALSHA wall time
        const restores = median(cpus[0]!.map((c, k) => c - walls[0]![k]!));
        let prev = 0;
        for (const [i, [label]] of variants.entries()) {
          const cpu = median(cpus[i]!) - restores;
          rows.push(
            `| ${spec.name} | ${label} | ${median(walls[i]!).toFixed(1)} | ${cpu.toFixed(1)} | ` +
              `${(cpu - prev).toFixed(1)} |`,
          );
          prev = cpu;
        }
        // once for real: the next step needs its effect
        for (const [k, v] of state) {
          if (v) await redis.restore(k, 0, v, 'REPLACE');
          else await redis.del(k);
        }
        const res = await engine.apply(meta(e.id, e.type), command);
        if (res.status !== 'applied') throw new Error(`${e.id}: ${res.status}`);
      } else {
        await engine.apply(meta(e.id, e.type), command);
      }
    }
    console.log(rows.join('\n'));
  } finally {
    await dropRedisPrefix(admin, prefix);
    await redis.quit();
    await admin.quit();
  }
}

await main();
