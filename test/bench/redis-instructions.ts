/**
 * Redis's cost per event in instructions, not seconds: a Redis server of its own runs under
 * valgrind's callgrind, the end-to-end workloads' events (flash sale and mix) are applied through
 * the engine as the worker applies them (windows of WINDOW events queued in one turn, so batched
 * as at full speed), and callgrind counts the instructions the server ran for the measured events
 * only (its counters zeroed after the stock is loaded). The count is the same from one run to the
 * next whatever else the machine is doing, where Redis's CPU time per event moves ±15–30% here:
 * an A/B of a script change needs one run of each side.
 *
 *   npx tsx test/bench/redis-instructions.ts [events (4000)] [port (6397)]
 *
 * KEEP_DUMPS=1 keeps callgrind's dumps (the path is printed) for callgrind_annotate;
 * BATCH_EVENTS=1 sends every event as its own script call (default 64, as the worker).
 * The "batch calls/event" column counts batched calls only: 0 when every event goes alone.
 *
 * Needs valgrind (Debian's package) and redis-server on PATH. Prints, per workload, the
 * instructions Redis ran per event (the whole server: scripts, commands, replies) and the batch
 * calls per event.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { consumers } from '../../consumers/index.js';
import type { Command, EventMeta } from '../../src/domain/types.js';
import { Engine } from '../../src/engine/engine.js';
import { TenantKeys } from '../../src/engine/keys.js';
import { BENCH_TENANT } from './e2e/publisher.js';
import { flashSale, realisticMix, type BenchEvent } from './e2e/workloads.js';

/** Events queued in one turn of the event loop, as a prefetch window delivers them. */
const WINDOW = 64;
/** Most events per batched script call (SCRIPT_BATCH_EVENTS; 1: every event alone). */
const BATCH_EVENTS = Number(process.env.BATCH_EVENTS ?? 64);

const commandOf = (e: BenchEvent): Command => {
  const c = consumers.get(e.type)!;
  return c.command(c.data.parse(e.data), {
    tenant: BENCH_TENANT,
    cartTtlMs: 3_600_000,
    checkoutTtlMs: 900_000,
  });
};

const metaOf = (e: BenchEvent, occurredAt: string): EventMeta => ({
  tenant: BENCH_TENANT,
  source: '/bench',
  id: e.id,
  type: e.type,
  occurredAt,
});

/** Waits until the server answers (valgrind takes seconds to start it). */
async function waitForRedis(port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const probe = new Redis({
      port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      probe.disconnect();
    }
  }
  throw new Error('redis-server under valgrind did not start');
}

/** The instructions a callgrind dump counts (callgrind_annotate's program total). */
function instructions(file: string): number {
  const out = execFileSync('callgrind_annotate', ['--threshold=100', file], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const total = /^([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS/m.exec(out)?.[1];
  if (!total) throw new Error(`no program total in callgrind_annotate's output of ${file}`);
  return Number(total.replace(/,/g, ''));
}

/** Asks callgrind for a dump and waits until its file is written; returns its path. */
async function dump(dir: string, pid: number): Promise<string> {
  const before = new Set(readdirSync(dir));
  execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'pipe' });
  for (let i = 0; i < 600; i++) {
    const fresh = readdirSync(dir).filter((f) => !before.has(f));
    if (fresh.length > 0) {
      await new Promise((r) => setTimeout(r, 500)); // let it finish writing
      return join(dir, fresh[0]!);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`callgrind wrote no dump in ${dir}`);
}

async function main(): Promise<void> {
  const events = Number(process.argv[2] ?? 4000);
  const port = Number(process.argv[3] ?? 6397);
  const dir = mkdtempSync(join(tmpdir(), 'redis-instr-'));
  const server = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      `--callgrind-out-file=${join(dir, 'callgrind.out.%p')}`,
      'redis-server',
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { stdio: 'ignore' },
  );
  await waitForRedis(port);
  // no reconnection: the server's exit must end the run, not leave a command waiting
  const redis = new Redis({ port, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    console.log(`Redis under callgrind (pid ${server.pid}), ${events} events per workload`);
    console.log('workload  events  batch calls/event  instructions/event');
    for (const w of [flashSale(events, 'instr'), realisticMix(events, 'instr')]) {
      const prefix = `instr_${w.name}`;
      const engine = new Engine(redis, {
        prefix,
        dedupTtlSeconds: 3600,
        batchEvents: BATCH_EVENTS,
        ensureTenant: async (t) => {
          await redis.hset(new TenantKeys(prefix, t).meta, 'epoch', 1, 'isc', 1);
        },
      });
      const occurredAt = new Date().toISOString();
      for (let i = 0; i < w.seed.length; i += WINDOW)
        await Promise.all(
          w.seed.slice(i, i + WINDOW).map((e) => engine.apply(metaOf(e, occurredAt), commandOf(e))),
        );
      // a first window not measured: the batch script is compiled (EVAL after NOSCRIPT) here
      const warm = (w.name === 'flash' ? flashSale : realisticMix)(WINDOW, 'warm').events;
      await Promise.all(warm.map((e) => engine.apply(metaOf(e, occurredAt), commandOf(e))));
      const commands = w.events.map(commandOf);
      const before = engine.batches.calls;
      execFileSync('callgrind_control', ['-z', String(server.pid)], { stdio: 'pipe' });
      for (let i = 0; i < w.events.length; i += WINDOW)
        await Promise.all(
          w.events
            .slice(i, i + WINDOW)
            .map((e, j) => engine.apply(metaOf(e, occurredAt), commands[i + j]!)),
        );
      const all = instructions(await dump(dir, server.pid!));
      const n = w.events.length;
      const perCall = ((engine.batches.calls - before) / n).toFixed(3);
      const perEvent = Math.round(all / n).toLocaleString('en-US');
      console.log(
        `${w.name.padEnd(8)}  ${String(n).padStart(6)}  ${perCall.padStart(17)}  ${perEvent.padStart(18)}`,
      );
    }
  } finally {
    await redis.shutdown('NOSAVE').catch(() => undefined);
    redis.disconnect();
    if (server.exitCode === null && server.signalCode === null)
      await new Promise((r) => server.once('exit', r));
    if (process.env.KEEP_DUMPS) console.log(`callgrind dumps kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

await main();
