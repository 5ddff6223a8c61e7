/**
 * `npm run bench`: throughput of the reserve script against a trivial EVALSHA on the local
 * Redis, then the ledger mirror (test/bench/mirror.ts) when present. Prints a table and
 * writes the same figures to test/bench/results/latest.json.
 *
 * Each scenario runs BENCH_ROUNDS rounds of BENCH_CALLS calls after BENCH_WARMUP calls, with
 * BENCH_IN_FLIGHT calls outstanding. Rounds of the scenarios interleave, so a burst of load from
 * elsewhere on the machine hits all of them alike; the table shows the median round.
 *
 * Settings (env): BENCH_CALLS (50000), BENCH_WARMUP (5000), BENCH_ROUNDS (3),
 * BENCH_IN_FLIGHT (256), BENCH_MIRROR_ROWS (100000), REDIS_URL / MYSQL_URL as for the tests.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Redis } from 'ioredis';
import { toError } from '../../src/errors/toError.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
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

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}=${raw}: must be a positive integer`);
  return n;
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

/** The three script scenarios on `conns` connections, rounds interleaved. */
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
  console.log(
    `bench: ${load.rounds} x ${fmt(load.calls)} calls after ${fmt(load.warmup)} warm-up, ` +
      `${load.inFlight} in flight; ${machine.cpuCount} x ${machine.cpuModel}, ` +
      `Node ${machine.node}, Redis ${machine.redis}`,
  );
  const scenarios: ScenarioResult[] = [];
  try {
    for (const conns of CONNECTION_COUNTS)
      scenarios.push(...(await benchScripts(conns, admin, prefix)));
  } finally {
    await dropRedisPrefix(admin, prefix);
    await admin.quit();
  }
  const ratios: Ratio[] = scenarios
    .filter((s) => s.name !== TRIVIAL)
    .map((s) => ({
      scenario: s.name,
      connections: s.connections,
      ofTrivial: s.ofTrivial,
      target: RESERVE_TARGET,
      met: s.ofTrivial >= RESERVE_TARGET,
    }));
  const mirror = await runMirror(mirrorRows);

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
  console.log(
    mirror.status === 'measured'
      ? `ledger mirror: ${fmt(mirror.rowsPerSecond)} rows/s over ${fmt(mirror.rows)} rows ` +
          `(target >= ${fmt(MIRROR_TARGET)}) ${mirror.met ? 'met' : 'MISSED'}`
      : `ledger mirror: ${mirror.status} (${mirror.reason})`,
  );

  const results = {
    timestamp: new Date().toISOString(),
    commit: gitCommit(),
    command: 'npm run bench',
    machine,
    load,
    scenarios,
    ratios,
    mirror,
  };
  const out = join(HERE, 'results', 'latest.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwritten: ${out}`);
}

main().catch((e: unknown) => {
  console.error(toError(e));
  process.exitCode = 1;
});
