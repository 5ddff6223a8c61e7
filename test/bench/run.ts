/**
 * `npm run bench`: throughput of the reserve script against a trivial EVALSHA on the local
 * Redis, then the ledger mirror (test/bench/mirror.ts) when present, then the end-to-end
 * benchmark (test/bench/e2e/bench.ts: pipe ceiling, skeleton ceiling, worker, row-locking
 * baseline). Prints tables and writes the same figures to test/bench/results/latest.json
 * (sections not run this time are kept from the previous file; so are the end-to-end targets, modes
 * and workloads not run, marked `carriedFrom`, see e2e/merge.ts).
 *
 * Flags: USAGE below, printed by `npm run bench -- --help`.
 *
 * Each scenario runs BENCH_ROUNDS rounds of BENCH_CALLS calls after BENCH_WARMUP calls, with
 * BENCH_IN_FLIGHT calls outstanding. Rounds of the scenarios interleave, so a burst of load from
 * elsewhere on the machine hits all of them alike; the table shows the median round (settings:
 * USAGE).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Redis } from 'ioredis';
import { toError } from '../../src/errors/to-error.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { benchE2e, e2eLegend, e2eTable, type E2eOptions } from './e2e/bench.js';
import { mergeE2e } from './e2e/merge.js';
import { belowEngines } from './node-version.js';
import { buildWorker, type TargetKind } from './e2e/targets.js';
import {
  measure,
  reserveBench,
  TRIVIAL,
  trivialScenario,
  warmUp,
  type Round,
  type Scenario,
} from './scripts.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const RESERVE_TARGET = 0.5;
const MIRROR_TARGET = 50_000;
const CONNECTION_COUNTS = [1, 4];
/** Above this much CPU used by other processes during a round (% of a core), say so. */
const BUSY_WARNING = 20;

const USAGE = `Usage: npm run bench -- [flags]

The reserve script against a trivial EVALSHA, the ledger mirror, then the end-to-end benchmark;
prints tables and writes test/bench/results/latest.json.

Flags:
  --only micro,mirror,e2e        sections to run (e2e = pipe,skeleton,worker,baseline; each
                                 may be named alone); default: all
  --events N                     events per end-to-end run (20000)
  --baseline-events N            events per baseline run: the first N of the same
                                 workload (events / 4: it is far slower)
  --workloads flash,mix          end-to-end workloads (both)
  --prefetch N                   prefetch of every consumer (1000, the worker's default)
  --baseline-pool N              the baseline's MySQL connections (16)
  --paced F                      also run the worker paced at F x its rate (0.5; 0: skip)
  --rate N                       and at a fixed N events/s, whatever it sustained (1000;
                                 0: skip). The verdicts: p99 < 250 ms at F, < 100 at N (mix)
  --paced-baseline               pace the baseline too (slow)
  --workers 1,2,3                also run the worker as 2 and 3 processes on one queue (the
                                 scaling rows; 1: none, the default)
  --cpu-prof DIR                 node --cpu-prof every end-to-end child into DIR
  --worker-tsx                   run the worker from source through tsx (default: compiled
                                 first into a temporary directory, run as \`npm start\` does)
  --tracing                      also run the worker with tracing on (OpenTelemetry, OTLP/HTTP
                                 to a sink in the bench that discards the spans), right after
                                 each untraced run, for the cost of tracing

Settings (env): BENCH_CALLS (50000), BENCH_WARMUP (5000), BENCH_ROUNDS (3),
BENCH_IN_FLIGHT (256), BENCH_MIRROR_ROWS (100000), REDIS_URL / MYSQL_URL as for the tests;
BENCH_WORKER_CGROUP: a cgroup directory (e.g. /sys/fs/cgroup/memory/w768, its
memory.limit_in_bytes, or memory.max on cgroup v2, set; root) the worker runs in, as under a
container's memory limit.
`;

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}=${raw}: must be a positive integer`);
  return n;
}

/**
 * The cgroup BENCH_WORKER_CGROUP puts the end-to-end worker in (e2e/targets.ts) and its memory
 * limit, to print and record beside the figures it changes; undefined without one.
 */
function workerCgroup(): { cgroup: string; memoryLimitMiB: number } | undefined {
  const cgroup = process.env.BENCH_WORKER_CGROUP;
  if (!cgroup) return undefined;
  if (!existsSync(join(cgroup, 'cgroup.procs')))
    throw new Error(`BENCH_WORKER_CGROUP=${cgroup}: not a cgroup directory (no cgroup.procs)`);
  // cgroup v1's memory controller names the limit memory.limit_in_bytes, v2 memory.max
  const file = ['memory.limit_in_bytes', 'memory.max']
    .map((f) => join(cgroup, f))
    .find((f) => existsSync(f));
  const bytes = file ? Number(readFileSync(file, 'utf8').trim()) : NaN;
  // (v1 writes an unset limit as a number near 2^63, v2 as `max`)
  if (!Number.isFinite(bytes) || bytes >= 2 ** 62)
    throw new Error(
      `BENCH_WORKER_CGROUP=${cgroup}: no memory limit set (memory.limit_in_bytes or memory.max)`,
    );
  return { cgroup, memoryLimitMiB: Math.round(bytes / 2 ** 20) };
}

const E2E_TARGETS: TargetKind[] = ['pipe', 'skeleton', 'worker', 'baseline'];

interface Args {
  micro: boolean;
  mirror: boolean;
  e2e: E2eOptions;
}

function parseArgs(argv: string[]): Args {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const [k, v] = a.includes('=') ? a.slice(2).split('=', 2) : [a.slice(2), undefined];
    if (k === 'paced-baseline' || k === 'worker-tsx' || k === 'tracing') flags.set(k!, 'true');
    else flags.set(k!, v ?? argv[++i] ?? '');
  }
  const known = [
    'only',
    'events',
    'baseline-events',
    'workloads',
    'prefetch',
    'baseline-pool',
    'paced',
    'rate',
    'paced-baseline',
    'cpu-prof',
    'worker-tsx',
    'workers',
    'tracing',
  ];
  for (const k of flags.keys())
    if (!known.includes(k))
      throw new Error(`unknown flag --${k} (npm run bench -- --help lists them)`);
  const only = new Set((flags.get('only') ?? 'micro,mirror,e2e').split(',').filter(Boolean));
  if (only.has('e2e')) for (const t of E2E_TARGETS) only.add(t);
  for (const s of only) {
    if (!['micro', 'mirror', 'e2e', ...E2E_TARGETS].includes(s))
      throw new Error(`--only: unknown section ${s}`);
  }
  const positive = (k: string, d: number) => {
    const n = Number(flags.get(k) ?? d);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${k}: must be a positive integer`);
    return n;
  };
  const workloads = (flags.get('workloads') ?? 'flash,mix').split(',');
  for (const w of workloads)
    if (w !== 'flash' && w !== 'mix') throw new Error(`--workloads: unknown ${w}`);
  // issue 17's latency targets: p99 at 50% of the max rate, and at a fixed 1,000 events/s
  const paced = Number(flags.get('paced') ?? 0.5);
  if (!(paced >= 0 && paced <= 1)) throw new Error('--paced: a fraction from 0 to 1');
  const rate = Number(flags.get('rate') ?? 1000);
  if (!Number.isInteger(rate) || rate < 0) throw new Error('--rate: events per second (0 skips)');
  const workerCounts = (flags.get('workers') ?? '1').split(',').map(Number);
  if (!workerCounts.every((n) => Number.isInteger(n) && n >= 1 && n <= 8))
    throw new Error('--workers: counts from 1 to 8, comma-separated');
  const cpuProfDir = flags.get('cpu-prof');
  // the worker as `npm start` runs it (compiled, plain node), unless --worker-tsx; built under
  // this checkout's dist/ (node_modules may be shared with other checkouts, which build there too)
  const workerMain =
    only.has('worker') && !flags.has('worker-tsx')
      ? buildWorker(join(HERE, '..', '..', 'dist', 'bench-worker'))
      : undefined;
  return {
    micro: only.has('micro'),
    mirror: only.has('mirror'),
    e2e: {
      events: positive('events', 20_000),
      baselineEvents: positive('baseline-events', Math.ceil(positive('events', 20_000) / 4)),
      workloads: workloads as ('flash' | 'mix')[],
      targets: E2E_TARGETS.filter((t) => only.has(t)),
      prefetch: positive('prefetch', 1000),
      baselinePool: positive('baseline-pool', 16),
      pacedFraction: paced,
      pacedRate: rate,
      pacedBaseline: flags.has('paced-baseline'),
      workerCounts,
      tracing: flags.has('tracing'),
      ...(cpuProfDir ? { cpuProfDir } : {}),
      ...(workerMain ? { workerMain } : {}),
    },
  };
}

const load = {
  calls: envInt('BENCH_CALLS', 50_000),
  warmup: envInt('BENCH_WARMUP', 5_000),
  rounds: envInt('BENCH_ROUNDS', 3),
  inFlight: envInt('BENCH_IN_FLIGHT', 256),
};
const mirrorRows = envInt('BENCH_MIRROR_ROWS', 100_000);

interface ScenarioResult {
  name: string;
  connections: number;
  inFlight: number;
  callsPerRound: number;
  /** Median round by calls/s; `rounds` has every round in the order run. */
  median: Round;
  minCallsPerSecond: number;
  maxCallsPerSecond: number;
  /** Median over rounds of this scenario's calls/s / the trivial EVALSHA's in the same round. */
  ofTrivial: number;
  rounds: Round[];
}

interface Ratio {
  scenario: string;
  connections: number;
  ofTrivial: number;
  target: number;
  met: boolean;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

type MirrorResult =
  | {
      status: 'measured';
      rows: number;
      rowsPerSecond: number;
      target: number;
      met: boolean;
      /** What benchMirror returned. */
      details: unknown;
    }
  | { status: 'skipped' | 'failed'; reason: string };

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: HERE,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

async function redisVersion(redis: Redis): Promise<string> {
  const m = /redis_version:(\S+)/.exec(await redis.info('server'));
  return m?.[1] ?? 'unknown';
}

/** test/bench/mirror.ts is optional: `benchMirror({ rows })` resolving to rows/s. */
async function runMirror(rows: number): Promise<MirrorResult> {
  const file = join(HERE, 'mirror.ts');
  if (!existsSync(file)) return { status: 'skipped', reason: 'test/bench/mirror.ts not present' };
  try {
    const mod = (await import(pathToFileURL(file).href)) as { benchMirror?: unknown };
    if (typeof mod.benchMirror !== 'function') {
      return { status: 'skipped', reason: 'test/bench/mirror.ts does not export benchMirror' };
    }
    const out: unknown = await (mod.benchMirror as (o: { rows: number }) => Promise<unknown>)({
      rows,
    });
    const r = typeof out === 'object' && out !== null ? (out as Record<string, unknown>) : {};
    const rate = typeof out === 'number' ? out : Number(r.rowsPerSecond);
    if (!Number.isFinite(rate)) {
      return {
        status: 'failed',
        reason: `benchMirror returned ${JSON.stringify(out)}, expected rows/s or { rowsPerSecond }`,
      };
    }
    return {
      status: 'measured',
      rows: typeof r.rows === 'number' ? r.rows : rows,
      rowsPerSecond: rate,
      target: MIRROR_TARGET,
      met: rate >= MIRROR_TARGET,
      details: out,
    };
  } catch (e) {
    const err = toError(e);
    return { status: 'failed', reason: `${err.name}: ${err.message}` };
  }
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The four script scenarios on `conns` connections, rounds interleaved. */
async function benchScripts(
  conns: number,
  admin: Redis,
  prefix: string,
): Promise<ScenarioResult[]> {
  const clients = Array.from({ length: conns }, () => testRedis());
  try {
    const reserve = reserveBench(clients, prefix, `c${conns}`);
    await reserve.stockUp();
    const list: Scenario[] = [
      trivialScenario(clients, prefix),
      reserve.scenario(true),
      reserve.scenario(false),
      reserve.scenario(true, true),
    ];
    for (const s of list) await warmUp(s, load.warmup, load.inFlight);
    const rounds: Round[][] = list.map(() => []);
    for (let r = 1; r <= load.rounds; r++) {
      for (const [k, s] of list.entries()) {
        const round = await measure(s, admin, load.calls, load.inFlight);
        rounds[k]!.push(round);
        console.log(
          `  round ${r}/${load.rounds}  ${s.name}, ${conns} conn: ` +
            `${fmt(round.callsPerSecond)} calls/s (other CPU ${fmt(round.otherCpuPercent)}%)`,
        );
      }
    }
    const trivial = rounds[0]!;
    return list.map((s, k) => {
      const mine = rounds[k]!;
      const rates = mine.map((x) => x.callsPerSecond);
      const mid = median(rates);
      return {
        name: s.name,
        connections: conns,
        inFlight: load.inFlight,
        callsPerRound: load.calls,
        median: mine.reduce((a, b) =>
          Math.abs(b.callsPerSecond - mid) < Math.abs(a.callsPerSecond - mid) ? b : a,
        ),
        minCallsPerSecond: Math.min(...rates),
        maxCallsPerSecond: Math.max(...rates),
        ofTrivial: median(mine.map((x, r) => x.callsPerSecond / trivial[r]!.callsPerSecond)),
        rounds: mine,
      };
    });
  } finally {
    await Promise.all(clients.map((c) => c.quit()));
  }
}

function scenarioTable(scenarios: ScenarioResult[]): string {
  return table(
    [
      'scenario',
      'conns',
      'in flight',
      'calls/s',
      'min-max',
      'of trivial',
      'node CPU',
      'redis CPU',
      'other CPU',
      'redis µs/call',
    ],
    scenarios.map((s) => [
      s.name,
      String(s.connections),
      String(s.inFlight),
      fmt(s.median.callsPerSecond),
      `${fmt(s.minCallsPerSecond)}-${fmt(s.maxCallsPerSecond)}`,
      `${fmt(s.ofTrivial * 100)}%`,
      `${fmt(s.median.nodeCpuPercent)}%`,
      `${fmt(s.median.redisCpuPercent)}%`,
      `${fmt(s.median.otherCpuPercent)}%`,
      s.median.redisMicrosPerCall === null ? '-' : fmt(s.median.redisMicrosPerCall, 1),
    ]),
  );
}

async function main(): Promise<void> {
  const engines = (
    JSON.parse(readFileSync(join(HERE, '..', '..', 'package.json'), 'utf8')) as {
      engines?: { node?: string };
    }
  ).engines?.node;
  const unsupported = engines ? belowEngines(process.version, engines) : undefined;
  if (unsupported) {
    console.error(`bench: ${unsupported}`);
    process.exitCode = 1;
    return;
  }
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const args = parseArgs(argv);
  // checked before anything runs, not when the end-to-end part starts minutes later
  const cgroup = workerCgroup();
  if (cgroup) args.e2e.workerCgroup = cgroup.cgroup;
  const out = join(HERE, 'results', 'latest.json');
  let previous: Record<string, unknown> = {};
  try {
    previous = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
  } catch {
    // no previous results
  }
  const prefix = uniqueName('bench');
  const admin = testRedis();
  const machine = {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    cpuCount: os.cpus().length,
    totalMemoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    redis: await redisVersion(admin),
    loadAverageAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
  const fresh: Record<string, unknown> = {};
  const stamp = () => ({
    timestamp: new Date().toISOString(),
    commit: gitCommit(),
    command: ['npm run bench', ...process.argv.slice(2)].join(' '),
  });
  const scenarios: ScenarioResult[] = [];
  try {
    if (args.micro) {
      console.log(
        `bench: ${load.rounds} x ${fmt(load.calls)} calls after ${fmt(load.warmup)} warm-up, ` +
          `${load.inFlight} in flight; ${machine.cpuCount} x ${machine.cpuModel}, ` +
          `Node ${machine.node}, Redis ${machine.redis}`,
      );
      for (const conns of CONNECTION_COUNTS)
        scenarios.push(...(await benchScripts(conns, admin, prefix)));
    }
  } finally {
    await dropRedisPrefix(admin, prefix);
    await admin.quit();
  }
  if (args.micro) {
    const ratios: Ratio[] = scenarios
      .filter((s) => s.name !== TRIVIAL)
      .map((s) => ({
        scenario: s.name,
        connections: s.connections,
        ofTrivial: s.ofTrivial,
        target: RESERVE_TARGET,
        met: s.ofTrivial >= RESERVE_TARGET,
      }));
    console.log(`\n${load.rounds} rounds of ${fmt(load.calls)} calls each; median round shown`);
    console.log(scenarioTable(scenarios));
    const busiest = Math.max(...scenarios.flatMap((s) => s.rounds.map((r) => r.otherCpuPercent)));
    if (busiest > BUSY_WARNING) {
      console.log(
        `warning: other processes used up to ${fmt(busiest)}% of a core during a round; ` +
          'the figures understate this code',
      );
    }
    console.log(`\nreserve target: >= ${RESERVE_TARGET * 100}% of trivial EVALSHA`);
    for (const r of ratios) {
      const verdict = r.met ? 'met' : 'MISSED';
      console.log(`  ${r.scenario}, ${r.connections} conn: ${fmt(r.ofTrivial * 100)}% ${verdict}`);
    }
    Object.assign(fresh, stamp(), { machine, load, scenarios, ratios });
  }
  if (args.mirror) {
    const mirror = await runMirror(mirrorRows);
    console.log(
      mirror.status === 'measured'
        ? `ledger mirror: ${fmt(mirror.rowsPerSecond)} rows/s over ${fmt(mirror.rows)} rows ` +
            `(target >= ${fmt(MIRROR_TARGET)}) ${mirror.met ? 'met' : 'MISSED'}`
        : `ledger mirror: ${mirror.status} (${mirror.reason})`,
    );
    fresh.mirror = mirror;
  }
  if (args.e2e.targets.length > 0) {
    console.log(
      `\nend to end: ${args.e2e.targets.join(', ')} on ${args.e2e.workloads.join(', ')}; ` +
        `load average ${machine.loadAverageAtStart.join(' ')}` +
        (cgroup
          ? `; the worker in ${cgroup.cgroup} (memory limit ${fmt(cgroup.memoryLimitMiB)} MiB)`
          : ''),
    );
    const e2e = await benchE2e(args.e2e);
    console.log(`\n${e2eTable(e2e)}\n\n${e2eLegend(e2e)}`);
    // targets and workloads not run this time are kept from the last run (marked carriedFrom)
    fresh.e2e = mergeE2e(previous.e2e, {
      ...stamp(),
      machine: {
        ...machine,
        loadAverageAtEnd: os.loadavg().map((x) => Number(x.toFixed(2))),
        ...(cgroup ? { workerCgroup: cgroup } : {}),
      },
      ...e2e,
    });
  }

  // sections not run this time stay as the last run left them
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ ...previous, ...fresh }, null, 2)}\n`);
  console.log(`\nwritten: ${out}`);
}

main().catch((e: unknown) => {
  console.error(toError(e));
  process.exitCode = 1;
});
