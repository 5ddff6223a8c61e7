import os from 'node:os';
import type { Redis } from 'ioredis';
import type { Command, EventMeta } from '../../src/domain/types.js';
import { DEFAULT_BATCH_EVENTS, Engine } from '../../src/engine/engine.js';
import { TenantKeys } from '../../src/engine/keys.js';

/** One timed round of a scenario. */
export interface Round {
  seconds: number;
  callsPerSecond: number;
  /** CPU time of this Node process over the round, in % of one core. */
  nodeCpuPercent: number;
  /** CPU time of Redis's main thread over the round, in % of one core. */
  redisCpuPercent: number;
  /**
   * CPU the rest of the machine used meanwhile (all cores busy minus this process and Redis's
   * main thread), in % of one core: above a few % the figures are not of this code alone.
   */
  otherCpuPercent: number;
  /**
   * Wall time Redis spent inside EVALSHA per call of the scenario (INFO commandstats delta):
   * the script with the commands it runs (a batched scenario's EVALSHA carries many calls).
   * Other clients of the server and CPU contention inflate it.
   */
  redisMicrosPerCall: number | null;
}

/** A workload: `call(i, conn)` performs call number `i` on connection `conn`. */
export interface Scenario {
  name: string;
  connections: number;
  call: (i: number, conn: number) => Promise<void>;
  /** Next unused call number: every call of a scenario gets a fresh one (fresh event ids). */
  next: number;
}

const TENANT = 'bench';
const LOCATION = 'loc-1';
/** Enough SKUs that no stock hash is hot, and enough stock that no reserve is ever refused. */
const SKUS = 1000;
const STOCK_PER_SKU = 1_000_000;
/** Each cart gets this many lines, so the script reads and rewrites a non-empty hold. */
const LINES_PER_CART = 4;

/** Runs `count` calls of the scenario with `inFlight` outstanding, spread over its connections. */
async function drive(s: Scenario, count: number, inFlight: number): Promise<void> {
  const end = s.next + count;
  const lane = async (laneNo: number) => {
    while (s.next < end) {
      const i = s.next++;
      await s.call(i, laneNo % s.connections);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, (_, n) => lane(n)));
}

export async function warmUp(s: Scenario, count: number, inFlight: number): Promise<void> {
  await drive(s, count, inFlight);
}

function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

interface ServerSample {
  cpuMain: number;
  evalshaCalls: number;
  evalshaMicros: number;
}

/** Busy and total CPU time of the whole machine so far, in ms summed over cores. */
function hostCpu(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times: t } of os.cpus()) {
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

async function sampleServer(redis: Redis): Promise<ServerSample> {
  const info = parseInfo(await redis.info('all'));
  const cmd = /calls=(\d+),usec=(\d+)/.exec(info.get('cmdstat_evalsha') ?? '');
  const cpu = (k: string) => Number(info.get(k) ?? 0);
  return {
    // used_cpu_*_main_thread exist since Redis 6.2; older servers fall back to the process.
    cpuMain: info.has('used_cpu_user_main_thread')
      ? cpu('used_cpu_user_main_thread') + cpu('used_cpu_sys_main_thread')
      : cpu('used_cpu_user') + cpu('used_cpu_sys'),
    evalshaCalls: cmd ? Number(cmd[1]) : 0,
    evalshaMicros: cmd ? Number(cmd[2]) : 0,
  };
}

/** Times `calls` calls of the scenario; `admin` (another connection) reads the server's stats. */
export async function measure(
  s: Scenario,
  admin: Redis,
  calls: number,
  inFlight: number,
): Promise<Round> {
  const before = await sampleServer(admin);
  const cpuBefore = process.cpuUsage();
  const hostBefore = hostCpu();
  const t0 = process.hrtime.bigint();
  await drive(s, calls, inFlight);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const hostAfter = hostCpu();
  const after = await sampleServer(admin);
  const evalshaCalls = after.evalshaCalls - before.evalshaCalls;
  const nodeCpuPercent = ((cpu.user + cpu.system) / 1e6 / seconds) * 100;
  const redisCpuPercent = ((after.cpuMain - before.cpuMain) / seconds) * 100;
  const hostBusyPercent =
    ((hostAfter.busy - hostBefore.busy) / (hostAfter.total - hostBefore.total || 1)) *
    os.cpus().length *
    100;
  return {
    seconds,
    callsPerSecond: calls / seconds,
    nodeCpuPercent,
    redisCpuPercent,
    otherCpuPercent: Math.max(0, hostBusyPercent - nodeCpuPercent - redisCpuPercent),
    redisMicrosPerCall:
      evalshaCalls > 0 ? (after.evalshaMicros - before.evalshaMicros) / calls : null,
  };
}

export const TRIVIAL = 'trivial EVALSHA';

interface NoopClient {
  benchNoop(key: string): Promise<number>;
}

/** (a) The floor: EVALSHA of `return 1` with one key, sent through ioredis like the engine's. */
export function trivialScenario(clients: Redis[], prefix: string): Scenario {
  for (const c of clients) c.defineCommand('benchNoop', { numberOfKeys: 1, lua: 'return 1' });
  const key = `${prefix}:{${TENANT}}:noop`;
  const noop = clients as unknown as NoopClient[];
  return {
    name: TRIVIAL,
    connections: clients.length,
    next: 0,
    call: async (_i, conn) => {
      await noop[conn]!.benchNoop(key);
    },
  };
}

export interface ReserveBench {
  /** Adds stock to every SKU the reserveCart commands use. */
  stockUp(): Promise<void>;
  /**
   * (b) cart.added through Engine.apply (validates) or Engine.applyValid (does not), each call
   * its own EVALSHA, or `batched`: the calls in flight together sent as batches (64 at most).
   */
  scenario(validate: boolean, batched?: boolean): Scenario;
}

/** `label` keeps event ids distinct between benches sharing one prefix. */
export function reserveBench(clients: Redis[], prefix: string, label: string): ReserveBench {
  const enginesOf = (batchEvents: number) =>
    clients.map(
      (redis) =>
        new Engine(redis, {
          prefix,
          dedupTtlSeconds: 3600,
          batchEvents,
          ensureTenant: async (t) => {
            await redis.hset(new TenantKeys(prefix, t).meta, 'epoch', 1, 'isc', 1);
          },
        }),
    );
  const engines = enginesOf(1);
  const batchedEngines = enginesOf(DEFAULT_BATCH_EVENTS);
  const occurredAt = new Date().toISOString();
  const meta = (id: string, type: string): EventMeta => ({
    tenant: TENANT,
    source: 'bench',
    id,
    type,
    occurredAt,
  });

  return {
    async stockUp() {
      const engine = engines[0]!;
      const stockUp: Scenario = {
        name: 'stock up',
        connections: 1,
        next: 0,
        call: async (s) => {
          const command: Command = {
            op: 'receiveStock',
            sku: `sku-${s}`,
            locationId: LOCATION,
            quantity: STOCK_PER_SKU,
          };
          const r = await engine.apply(meta(`${label}-receive-${s}`, 'stock.received'), command);
          if (r.status !== 'applied') throw new Error(`stock-up: ${JSON.stringify(r)}`);
        },
      };
      await drive(stockUp, SKUS, 64);
    },
    scenario(validate, batched = false) {
      const tag = `${label}-${validate ? 'apply' : 'applyValid'}${batched ? '-batched' : ''}`;
      return {
        name: `reserve (Engine.${validate ? 'apply' : 'applyValid'}${batched ? ', batched' : ''})`,
        connections: clients.length,
        next: 0,
        call: async (i, conn) => {
          const engine = (batched ? batchedEngines : engines)[conn]!;
          const m = meta(`${tag}-${i}`, 'cart.added');
          const command: Command = {
            op: 'reserveCart',
            cartId: `${tag}-cart-${Math.floor(i / LINES_PER_CART)}`,
            sku: `sku-${i % SKUS}`,
            locationId: LOCATION,
            quantity: 1,
            ttlMs: 3_600_000,
          };
          const r = validate ? await engine.apply(m, command) : await engine.applyValid(m, command);
          // Only the full path counts: a refused or duplicate call would flatter the figure.
          if (r.status !== 'applied' || r.payload.outcome.result !== 'applied') {
            throw new Error(`event ${m.id} was not applied: ${JSON.stringify(r)}`);
          }
        },
      };
    },
  };
}
