/**
 * What the end-to-end bench measures, each in a child process of its own (so its RSS and CPU
 * are its own) on a vhost, database and Redis prefix of its own:
 * - pipe: a no-op consumer that only acknowledges (the broker's ceiling);
 * - skeleton: the least I/O of this contract per event (skeleton-consumer.ts: a trivial
 *   EVALSHA, a row in a one-table ledger by group commit, a confirmed announcement, the ack);
 * - worker: the real worker, `src/main.ts`, as `npm start` runs it (through tsx);
 * - baseline: the row-locking comparison, test/bench/baseline/main.ts.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp, { type ChannelModel } from 'amqplib';
import { createConnection, type Connection } from 'mysql2/promise';
import { bullPrefix } from '../../../jobs/connection.js';
import { INVENTORY_EXCHANGE, MAIN_QUEUE } from '../../../src/broker/topology.js';
import {
  dropRedisPrefix,
  dropTestDatabase,
  TEST_MYSQL_SERVER,
  testRedis,
  uniqueName,
} from '../../support/isolation.js';
import { createTestVhost, deleteTestVhost } from '../../support/rabbit.js';
import { BENCH_TENANT, nowMs } from './publisher.js';
import type { ChildMessage } from './report.js';
import type { BenchEvent } from './workloads.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export type TargetKind = 'pipe' | 'skeleton' | 'worker' | 'baseline';

export interface TargetOptions {
  prefetch: number;
  baselinePool: number;
  /**
   * The worker compiled (buildWorker): run as `npm start` runs it, plain node without tsx,
   * whose module loader thread would add tens of MB to its RSS. Unset: src/main.ts via tsx.
   */
  workerMain?: string;
  /** write a V8 CPU profile of the child here (node --cpu-prof) */
  cpuProfDir?: string;
  /**
   * a cgroup directory with a memory limit to run the worker in, as under a container's limit
   * (BENCH_WORKER_CGROUP, checked by run.ts): V8 sizes its heap for that limit
   */
  workerCgroup?: string;
  /** worker processes on the one queue (the worker target only) @default 1 */
  workers?: number;
  /** more environment for the children (the worker's OTEL_* when traced) */
  env?: Record<string, string>;
}

/** A started target: how many events it finished, and when each finished. */
export interface Target {
  kind: TargetKind;
  amqpUrl: string;
  /** the first process's (the only one but for several workers) */
  pid: number;
  /** every process of the target */
  pids: number[];
  /** events finished so far (acked by the no-op consumer, committed by the others) */
  done(): Promise<number>;
  /** when each event finished, by id (see `latencyTo`) */
  readonly finishedAt: Map<string, number>;
  /**
   * Stocks the SKUs without going through the queue, where the target allows it (the
   * baseline, whose one transaction per stock.received would make seeding 10,000 SKUs take
   * minutes); returns how many of the seed events it took, 0 if none.
   */
  seedDirect(seed: BenchEvent[]): Promise<number>;
  /** errors the child reported (the baseline) */
  readonly errors: string[];
  /** rows and bytes of the target's MySQL tables now (none for the pipe, which has none) */
  storage(): Promise<Storage | undefined>;
  stop(): Promise<void>;
}

/**
 * What a target keeps in MySQL: per table, its rows (COUNT) and bytes (data and indexes as
 * InnoDB reports them after ANALYZE TABLE: pages in use, so a delta is exact to a page).
 */
export type Storage = Record<string, { rows: number; bytes: number }>;

async function storageOf(c: Connection): Promise<Storage> {
  const [tables] = await c.query(
    "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'",
  );
  const out: Storage = {};
  for (const { t } of tables as { t: string }[]) {
    await c.query(`ANALYZE TABLE \`${t}\``);
    const [[count]] = (await c.query(`SELECT COUNT(*) AS n FROM \`${t}\``)) as unknown as [
      { n: number }[],
    ];
    const [[size]] = (await c.query(
      'SELECT data_length + index_length AS b FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?',
      [t],
    )) as unknown as [{ b: number }[]];
    out[t] = { rows: Number(count!.n), bytes: Number(size!.b) };
  }
  return out;
}

/**
 * Compiles the project into `dir` as `npm run build` does into dist/ (without touching
 * dist/); returns the worker's entry point. Type errors elsewhere do not stop the emit.
 * `dir` must be under the project, for the compiled modules to find node_modules.
 */
export function buildWorker(dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  try {
    execFileSync(
      join(ROOT, 'node_modules', '.bin', 'tsc'),
      ['-p', 'tsconfig.json', '--outDir', dir],
      {
        cwd: ROOT,
        stdio: 'ignore',
      },
    );
  } catch {
    // tsc exits non-zero on any type error but still emits
  }
  const main = join(dir, 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`building the worker into ${dir} failed`);
  cpSync(join(ROOT, 'src', 'lua'), join(dir, 'src', 'lua'), { recursive: true });
  return main;
}

/** What each target's latency is measured to. */
export const latencyTo: Record<TargetKind, string> = {
  pipe: 'delivery to the no-op consumer',
  skeleton:
    "the skeleton's announcement on inventory.events received by the bench " +
    '(published after its ledger INSERT, before the ack)',
  worker:
    "the worker's announcement on inventory.events received by the bench " +
    '(published after the ledger commit, before the ack)',
  baseline: 'COMMIT returned in the baseline process',
};

const CHILD_FILES: Record<TargetKind, string> = {
  pipe: 'test/bench/e2e/pipe-consumer.ts',
  skeleton: 'test/bench/e2e/skeleton-consumer.ts',
  worker: 'src/main.ts',
  baseline: 'test/bench/baseline/main.ts',
};

function spawnChild(kind: TargetKind, env: Record<string, string>, o: TargetOptions): ChildProcess {
  // one profile per thread (CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile): the main
  // thread's is <thread> 0; the other is tsx's module loader
  const prof = o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : [];
  const args =
    kind === 'worker' && o.workerMain
      ? [...prof, o.workerMain]
      : [...prof, '--import', 'tsx', join(ROOT, CHILD_FILES[kind])];
  // the worker in o.workerCgroup: the shell joins the cgroup, then execs node (same pid)
  const cgroup = kind === 'worker' ? o.workerCgroup : undefined;
  const [command, argv] = cgroup
    ? [
        '/bin/sh',
        ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, process.execPath, ...args],
      ]
    : [process.execPath, args];
  const child = spawn(command, argv, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  // the worker logs (pino, LOG_LEVEL=warn) on stdout: show the first lines only
  let shown = 0;
  child.stdout?.on('data', (chunk: Buffer) => {
    if (shown >= 10) return;
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
      if (shown++ < 10) console.error(`  [${kind}] ${line.slice(0, 300)}`);
    }
  });
  return child;
}

async function waitForConsumer(conn: ChannelModel, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    try {
      if ((await ch.checkQueue(MAIN_QUEUE)).consumerCount > 0) {
        await ch.close();
        return;
      }
      await ch.close();
    } catch {
      // the queue is not declared yet (the channel closed)
    }
    if (Date.now() > until) throw new Error(`no consumer on ${MAIN_QUEUE} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => {
    console.error(`  [pid ${child.pid}] not stopped 30 s after SIGTERM: killed`);
    child.kill('SIGKILL');
  }, 30_000);
  await exited;
  clearTimeout(t);
}

export async function startTarget(kind: TargetKind, o: TargetOptions): Promise<Target> {
  const { vhost, url } = await createTestVhost(`bench_${kind}`);
  const mysqlUrl = `${TEST_MYSQL_SERVER}/${uniqueName(`bench_${kind}`)}`;
  const prefix = uniqueName(`bench_${kind}`);
  const env: Record<string, string> = {
    AMQP_URL: url,
    MYSQL_URL: mysqlUrl,
    REDIS_PREFIX: prefix,
    PREFETCH: String(o.prefetch),
    QUEUE_TYPE: 'quorum',
    LOG_LEVEL: 'warn',
    HTTP_PORT: '0',
    RECONCILE_CRON: 'off',
    BASELINE_POOL: String(o.baselinePool),
    ...o.env,
  };
  const children = Array.from({ length: kind === 'worker' ? (o.workers ?? 1) : 1 }, () =>
    spawnChild(kind, env, o),
  );
  const child = children[0]!;
  const finishedAt = new Map<string, number>();
  const errors: string[] = [];
  let childDone = 0;
  let ready = false;
  child.on('message', (m: ChildMessage) => {
    if (m.kind === 'ready') ready = true;
    else if (m.kind === 'error') {
      if (errors.length < 100) errors.push(m.message);
    } else {
      childDone = m.done;
      for (const [id, at] of m.finished) if (!finishedAt.has(id)) finishedAt.set(id, at);
    }
  });
  const exited = new Promise<never>((_, reject) => {
    for (const c of children)
      c.once('exit', (code, signal) =>
        reject(new Error(`${kind} exited early (code ${code}, signal ${signal})`)),
      );
  });
  exited.catch(() => undefined);

  const conn = await amqp.connect(url);
  let db: Connection | undefined;
  let storageDb: Connection | undefined;
  const cleanup = async () => {
    await Promise.all(children.map(stopChild));
    await conn.close().catch(() => undefined);
    await db?.end().catch(() => undefined);
    await storageDb?.end().catch(() => undefined);
    await dropTestDatabase(mysqlUrl).catch(() => undefined);
    const redis = testRedis();
    await dropRedisPrefix(redis, prefix);
    await dropRedisPrefix(redis, bullPrefix(prefix));
    await redis.quit();
    await deleteTestVhost(vhost);
  };
  try {
    await Promise.race([waitForConsumer(conn, 120_000), exited]);
    if (kind !== 'worker') {
      const until = Date.now() + 30_000;
      while (!ready && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    }
  } catch (e) {
    await cleanup();
    throw e;
  }

  let done: () => Promise<number> = () => Promise.resolve(childDone);
  if (kind === 'worker' || kind === 'skeleton') {
    // the finish line: the event's row committed (the worker's processed_events, the
    // skeleton's only table) and, for the latency, the announcement published after the commit
    db = await createConnection(mysqlUrl);
    const sql = db;
    const table = kind === 'worker' ? 'processed_events' : 'sk_ledger';
    done = async () => {
      const [rows] = await sql.query(`SELECT COUNT(*) AS n FROM ${table}`);
      return Number((rows as { n: number }[])[0]!.n);
    };
    const ch = await conn.createChannel();
    await ch.assertExchange(INVENTORY_EXCHANGE, 'topic', { durable: true });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, INVENTORY_EXCHANGE, '#');
    await ch.consume(
      queue,
      (msg) => {
        if (!msg) return;
        const at = nowMs();
        const cause = (
          JSON.parse(msg.content.toString('utf8')) as { data?: { causationId?: string } }
        ).data?.causationId;
        if (cause !== undefined && !finishedAt.has(cause)) finishedAt.set(cause, at);
      },
      { noAck: true },
    );
  }
  const seedDirect = async (seed: BenchEvent[]): Promise<number> => {
    if (kind !== 'baseline') return 0;
    const c = await createConnection(mysqlUrl);
    try {
      for (let i = 0; i < seed.length; i += 1000) {
        await c.query('INSERT INTO bl_stock (tenant, sku, location_id, on_hand) VALUES ?', [
          seed.slice(i, i + 1000).map((e) => {
            const d = e.data as { sku: string; quantity: number; locationId: string };
            return [BENCH_TENANT, d.sku, d.locationId, d.quantity];
          }),
        ]);
      }
    } finally {
      await c.end();
    }
    return seed.length;
  };
  const storage = async (): Promise<Storage | undefined> => {
    if (kind === 'pipe') return undefined;
    storageDb ??= await createConnection(mysqlUrl);
    return storageOf(storageDb);
  };
  return {
    kind,
    amqpUrl: url,
    pid: child.pid!,
    pids: children.map((c) => c.pid!),
    done,
    seedDirect,
    storage,
    finishedAt,
    errors,
    stop: cleanup,
  };
}

/** Resident set of a process (now and its peak), in MB, from /proc. */
export function rssOf(pid: number): { rssMb: number; peakMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}
