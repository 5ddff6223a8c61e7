import type { RedisClient } from '../engine/redis-client.js';
import type { Knex } from 'knex';
import { knownTenants, outboxLag } from '../ledger/outbox-lag.js';
import { errorText } from '../secrets.js';

/** Rejects when `p` has not settled after `ms` (a service that hangs is as bad as one down). */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A readiness answer is reused this long. */
const CHECK_REUSE_MS = 1000;

export interface ReadinessOptions {
  /** true while a consumer is registered on a live channel */
  consuming: () => boolean;
  redis: RedisClient;
  knex: Knex;
  prefix: string;
  /** unready while the oldest outbox entry is older than this */
  maxOutboxLagSeconds: number;
  /** per check. @default 2000 */
  timeoutMs?: number;
}

export interface CheckResult {
  ok: boolean;
  detail?: string;
}

export interface Readiness {
  ready: boolean;
  checks: Record<'rabbitmq' | 'redis' | 'mysql' | 'outbox', CheckResult>;
}

/**
 * What /readyz answers: every dependency reachable, the consumer registered, and the ledger
 * mirror keeping up. The checks run in parallel, each bounded by `timeoutMs`.
 */
export class ReadinessProbe {
  private tenants: string[] = [];
  private last: { at: number; result: Promise<Readiness> } | undefined;

  constructor(private readonly o: ReadinessOptions) {}

  /**
   * The readiness now. Calls within a second of the last check (or during it) share its
   * answer, so a probe hammering /readyz while a service is down adds no queue of commands.
   */
  check(): Promise<Readiness> {
    const now = Date.now();
    if (this.last && now - this.last.at < CHECK_REUSE_MS) return this.last.result;
    const result = this.checkNow();
    this.last = { at: now, result };
    return result;
  }

  private async checkNow(): Promise<Readiness> {
    const ms = this.o.timeoutMs ?? 2000;
    const run = async (f: () => Promise<string | undefined>): Promise<CheckResult> => {
      try {
        const detail = await f();
        return detail === undefined ? { ok: true } : { ok: false, detail };
      } catch (e) {
        // anyone who can reach the port reads it: no password, no SQL, a short line
        return { ok: false, detail: errorText(e) };
      }
    };
    // the tenant list read by the MySQL check feeds the outbox check; the last good one is kept
    const mysqlCheck = run(async () => {
      this.tenants = await withTimeout(knownTenants(this.o.knex), ms, 'mysql');
      return undefined;
    });
    const [rabbitmq, redis, mysql, outbox] = await Promise.all([
      run(async () => (this.o.consuming() ? undefined : 'not consuming')),
      run(async () => {
        await withTimeout(this.o.redis.ping(), ms, 'redis');
        return undefined;
      }),
      mysqlCheck,
      run(async () => {
        await mysqlCheck;
        const lag = await withTimeout(
          outboxLag(this.o.redis, this.o.prefix, this.tenants),
          ms,
          'outbox',
        );
        const bound = this.o.maxOutboxLagSeconds;
        return lag.oldestSeconds > bound
          ? `${lag.entries} event(s) not yet in MySQL, oldest ${Math.round(lag.oldestSeconds)} s (bound ${bound} s)`
          : undefined;
      }),
    ]);
    const checks = { rabbitmq, redis, mysql, outbox };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }
}
