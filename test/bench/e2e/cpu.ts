/**
 * Who used the CPU during a run (Linux /proc): the target's process, the bench itself,
 * MariaDB/MySQL, Redis, RabbitMQ, and everything else on the machine. In % of one core.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;
const SERVICES: Record<string, string[]> = {
  mysql: ['mariadbd', 'mysqld'],
  redis: ['redis-server'],
  rabbitmq: ['beam.smp'],
};

/**
 * The service's process: the oldest of that name (rabbitmqctl, which the bench and the tests
 * run to make vhosts, is a short-lived beam.smp too).
 */
function pidsOf(names: string[]): number[] {
  for (const n of names) {
    try {
      return [Number(execFileSync('pgrep', ['-o', '-x', n], { encoding: 'utf8' }).trim())];
    } catch {
      // none running under that name
    }
  }
  return [];
}

function ticksOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces): utime is the 14th field overall
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** Busy and total ticks of the whole machine (all cores). */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3]! + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export type CpuUse = Record<'target' | 'bench' | 'mysql' | 'redis' | 'rabbitmq' | 'other', number>;

/** Starts counting; the returned function gives each one's CPU % of a core since then. */
export function cpuMeter(targetPids: number | number[]): () => CpuUse {
  const groups: Record<string, number[]> = {
    target: Array.isArray(targetPids) ? targetPids : [targetPids],
    bench: [process.pid],
    ...Object.fromEntries(Object.entries(SERVICES).map(([k, names]) => [k, pidsOf(names)])),
  };
  const sum = (pids: number[]) => pids.reduce((a, p) => a + ticksOf(p), 0);
  const start = Object.fromEntries(Object.entries(groups).map(([k, p]) => [k, sum(p)]));
  const m0 = machineTicks();
  const t0 = performance.now();
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    const pct = (ticks: number) => (100 * ticks) / TICKS_PER_SECOND / seconds;
    const use = Object.fromEntries(
      Object.entries(groups).map(([k, p]) => [k, pct(sum(p) - start[k]!)]),
    ) as Omit<CpuUse, 'other'>;
    const m1 = machineTicks();
    const machineBusy = pct(m1.busy - m0.busy);
    const ours = Object.values(use).reduce((a, b) => a + b, 0);
    return { ...use, other: Math.max(0, machineBusy - ours) };
  };
}
