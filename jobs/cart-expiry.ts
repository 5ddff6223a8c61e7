import { Queue, Worker, type Job } from 'bullmq';
import type { RedisClient, RedisTarget } from '../src/engine/redis-client.js';
import {
  bucketJobId,
  cartExpiryEvent,
  expiryBucketOf,
  expiryJobId,
  type CartExpiryData,
  type ExpiryBucketData,
} from '../src/domain/cart-expiry.js';
import { TenantKeys } from '../src/engine/keys.js';
import type { Command, EventMeta, OutboxPayload } from '../src/domain/types.js';
import type { Logger } from '../src/logger.js';
import { bullConnection, bullPrefix, retention } from './connection.js';

export {
  CART_EXPIRY_SOURCE,
  EXPIRY_BUCKET_MS,
  expiryBucketOf,
  type CartExpiryData,
  type ExpiryBucketData,
} from '../src/domain/cart-expiry.js';

export const CART_EXPIRY_QUEUE = 'cart-expiry';

/** Due carts read from the tenant's expiry set at a time. */
const PAGE = 500;

/** Jobs of the queue: `expire-due` (a bucket), or `expire` (one cart, as older workers added). */
type ExpiryJobData = ExpiryBucketData | CartExpiryData;

export interface EventRunner {
  applyDurably(
    meta: EventMeta,
    command: Command,
  ): Promise<{ payload?: OutboxPayload; duplicate?: boolean }>;
  announce(payload: OutboxPayload): Promise<void>;
}

export interface CartExpiryOptions {
  /** the worker's Redis (config REDIS_URL, REDIS_CLUSTER_NODES, REDIS_TLS_*) */
  redis: RedisTarget;
  redisPrefix: string;
  runner: EventRunner;
  logger: Logger;
  /** jobs run at once in this process @default 20 */
  concurrency?: number;
}

/**
 * Cart expiry with BullMQ delayed jobs, one per tenant and second of expiry (a bucket): the
 * scripts keep each tenant's open carts in a sorted set by expiry, and a bucket's job, when it
 * is due, expires every cart of the set whose expiry has passed, each as the same event its
 * expiry always is (`cartExpiryEvent`: whoever applies it second, a reservation that found the
 * cart past its expiry or another job, gets a duplicate). The script ignores a cart refreshed,
 * converted or released since, so late and duplicate jobs change nothing. A flash sale's
 * thousands of carts a second thus cost one job a second, not one each. The bucket's job id is
 * fixed: BullMQ silently does not add a job id that still exists, which is what dedupes the
 * carts of one bucket (a bucket's job cannot have run yet when a cart joins it: its time is
 * after the cart's expiry). Jobs are never removed: a running job cannot be.
 */
export class CartExpiry {
  readonly queue: Queue<ExpiryJobData>;
  private worker: Worker<ExpiryJobData> | undefined;
  private readonly queueConnection: RedisClient;
  private workerConnection: RedisClient | undefined;
  /** the buckets of this turn's open carts, by tenant and bucket, until the turn's flush */
  private pending = new Map<string, ExpiryBucketData>();
  /** that flush: every cart scheduled this turn waits for it */
  private flushed: Promise<void> | undefined;

  constructor(private readonly o: CartExpiryOptions) {
    this.queueConnection = bullConnection(o.redis);
    this.queue = new Queue<ExpiryJobData>(CART_EXPIRY_QUEUE, {
      connection: this.queueConnection,
      prefix: bullPrefix(o.redisPrefix),
      defaultJobOptions: {
        ...retention,
        attempts: 5,
        backoff: { type: 'exponential', delay: 1000 },
      },
    });
    // without a listener BullMQ prints the error whole (a Redis error's command and arguments)
    this.queue.on('error', (err) => o.logger.warn({ err }, 'cart expiry queue error'));
  }

  /** The id of the job that expires this cart at this expiry (its bucket's job). */
  static jobId(d: CartExpiryData): string {
    return expiryJobId(d);
  }

  /**
   * Schedules the expiry of every open cart hold in the payload: its bucket's job, added with
   * the other buckets of this turn in one addBulk call at the end of the turn. Resolves once
   * that call did.
   */
  schedule(p: OutboxPayload): Promise<void> {
    let any = false;
    for (const h of p.holds) {
      if (h.kind !== 'cart' || h.state !== 'open' || !h.expiresAt) continue;
      const until = expiryBucketOf(h.expiresAt);
      const key = `${p.tenant}\x1f${until}`;
      if (!this.pending.has(key)) this.pending.set(key, { tenant: p.tenant, until });
      any = true;
    }
    if (!any) return Promise.resolve();
    return (this.flushed ??= new Promise<void>((resolve, reject) =>
      setImmediate(() => this.flush().then(resolve, reject)),
    ));
  }

  private async flush(): Promise<void> {
    const buckets = [...this.pending.values()];
    this.pending = new Map();
    this.flushed = undefined;
    const now = Date.now();
    await this.queue.addBulk(
      buckets.map((data) => ({
        name: 'expire-due',
        data,
        opts: { jobId: bucketJobId(data), delay: Math.max(0, data.until - now) },
      })),
    );
  }

  /** Starts running due jobs in this process. */
  start(): void {
    this.workerConnection = bullConnection(this.o.redis);
    this.worker = new Worker<ExpiryJobData>(CART_EXPIRY_QUEUE, (job) => this.expire(job), {
      connection: this.workerConnection,
      prefix: bullPrefix(this.o.redisPrefix),
      concurrency: this.o.concurrency ?? 20,
    });
    this.worker.on('failed', (job, err) =>
      this.o.logger.warn({ jobId: job?.id, err: err.message }, 'cart expiry job failed'),
    );
    this.worker.on('error', (err) => this.o.logger.warn({ err }, 'cart expiry worker error'));
  }

  private async expire(job: Job<ExpiryJobData>): Promise<string> {
    if ('until' in job.data) return `expired ${await this.expireDue(job.data)}`;
    // one cart (a job added by an older worker): the same event as anywhere else
    const { meta, command } = cartExpiryEvent(job.data);
    return (await this.applyExpiry(meta, command)) ?? 'no-outcome';
  }

  /** Expires the tenant's carts due by `until`, a page at a time; returns how many it applied. */
  private async expireDue(b: ExpiryBucketData): Promise<number> {
    const set = new TenantKeys(this.o.redisPrefix, b.tenant).cartExpiries;
    const seen = new Set<string>();
    let applied = 0;
    for (;;) {
      const flat = await this.queueConnection.zrangebyscore(
        set,
        '-inf',
        b.until,
        'WITHSCORES',
        'LIMIT',
        0,
        PAGE,
      );
      const due: CartExpiryData[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const d = { tenant: b.tenant, cartId: flat[i]!, expiresAt: Number(flat[i + 1]) };
        const key = `${d.cartId}\x1f${d.expiresAt}`;
        if (!seen.has(key)) due.push(d);
        seen.add(key);
      }
      // a page of carts already handled in this job: left for their own buckets' jobs
      if (due.length === 0) return applied;
      const results = await Promise.all(
        due.map((d) => {
          const { meta, command } = cartExpiryEvent(d);
          return this.applyExpiry(meta, command);
        }),
      );
      applied += results.filter((r) => r === 'applied').length;
    }
  }

  /** Applies one cart's expiry durably and announces it; returns the outcome (none: duplicate). */
  private async applyExpiry(meta: EventMeta, command: Command): Promise<string | undefined> {
    const r = await this.o.runner.applyDurably(meta, command);
    // a duplicate is announced again (with the same ids): its first announcement may be lost
    if (r.payload) await this.o.runner.announce(r.payload);
    if (r.duplicate) return 'duplicate';
    return r.payload?.outcome.reason ?? r.payload?.outcome.result;
  }

  /** Stops taking jobs, waits for running ones up to `timeoutMs`, closes connections. */
  async close(timeoutMs = 10_000): Promise<void> {
    // this turn's buckets go in before the queue closes (a failure is their callers' to see)
    await this.flushed?.catch(() => undefined);
    const closing = Promise.all([this.worker?.close(), this.queue.close()]);
    const timedOut = await Promise.race([
      closing.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), timeoutMs).unref()),
    ]);
    if (timedOut) {
      this.o.logger.warn('cart expiry jobs did not finish in time; forcing close');
      await this.worker?.close(true);
    }
    this.workerConnection?.disconnect();
    this.queueConnection.disconnect();
  }
}
