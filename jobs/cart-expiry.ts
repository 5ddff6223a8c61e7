import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { cartExpiryEvent, cartExpiryId, type CartExpiryData } from '../src/domain/cartExpiry.js';
import type { Command, EventMeta, OutboxPayload } from '../src/domain/types.js';
import type { Logger } from '../src/logger.js';
import { bullConnection, bullPrefix, retention } from './connection.js';

export { CART_EXPIRY_SOURCE, type CartExpiryData } from '../src/domain/cartExpiry.js';

export const CART_EXPIRY_QUEUE = 'cart-expiry';

export interface EventRunner {
  applyDurably(meta: EventMeta, command: Command): Promise<{ payload?: OutboxPayload }>;
  announce(payload: OutboxPayload): Promise<void>;
}

export interface CartExpiryOptions {
  redisUrl: string;
  redisPrefix: string;
  runner: EventRunner;
  logger: Logger;
  /** jobs run at once in this process @default 20 */
  concurrency?: number;
}

/**
 * One delayed job per (cart, expiry): a job id that still exists is silently not added again
 * by BullMQ, so every refresh of the cart gets a job of its own, and the script ignores jobs
 * whose expiry is no longer the cart's (refreshed, converted, released), so late and
 * duplicate jobs change nothing. Jobs are never removed: a running job cannot be.
 */
export class CartExpiry {
  readonly queue: Queue<CartExpiryData>;
  private worker: Worker<CartExpiryData> | undefined;
  private readonly queueConnection: Redis;
  private workerConnection: Redis | undefined;
  private pending: { data: CartExpiryData; resolve: () => void; reject: (e: Error) => void }[] = [];
  private flushing: NodeJS.Immediate | undefined;

  constructor(private readonly o: CartExpiryOptions) {
    this.queueConnection = bullConnection(o.redisUrl);
    this.queue = new Queue<CartExpiryData>(CART_EXPIRY_QUEUE, {
      connection: this.queueConnection,
      prefix: bullPrefix(o.redisPrefix),
      defaultJobOptions: {
        ...retention,
        attempts: 5,
        backoff: { type: 'exponential', delay: 1000 },
      },
    });
  }

  static jobId(d: CartExpiryData): string {
    return cartExpiryId(d);
  }

  /** Schedules the expiry of every open cart hold in the payload; batched into addBulk calls. */
  schedule(p: OutboxPayload): Promise<void> {
    const carts = p.holds.filter((h) => h.kind === 'cart' && h.state === 'open' && h.expiresAt);
    if (carts.length === 0) return Promise.resolve();
    return Promise.all(
      carts.map(
        (h) =>
          new Promise<void>((resolve, reject) => {
            this.pending.push({
              data: { tenant: p.tenant, cartId: h.id, expiresAt: h.expiresAt! },
              resolve,
              reject,
            });
            this.flushing ??= setImmediate(() => void this.flush());
          }),
      ),
    ).then(() => undefined);
  }

  private async flush(): Promise<void> {
    this.flushing = undefined;
    const batch = this.pending.splice(0);
    const now = Date.now();
    try {
      await this.queue.addBulk(
        batch.map(({ data }) => ({
          name: 'expire',
          data,
          opts: { jobId: CartExpiry.jobId(data), delay: Math.max(0, data.expiresAt - now) },
        })),
      );
      for (const b of batch) b.resolve();
    } catch (e) {
      for (const b of batch) b.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** Starts running due jobs in this process. */
  start(): void {
    this.workerConnection = bullConnection(this.o.redisUrl);
    this.worker = new Worker<CartExpiryData>(CART_EXPIRY_QUEUE, (job) => this.expire(job), {
      connection: this.workerConnection,
      prefix: bullPrefix(this.o.redisPrefix),
      concurrency: this.o.concurrency ?? 20,
    });
    this.worker.on('failed', (job, err) =>
      this.o.logger.warn({ jobId: job?.id, err: err.message }, 'cart expiry job failed'),
    );
  }

  private async expire(job: Job<CartExpiryData>): Promise<string> {
    // the same event a reservation applies when it finds the cart past its expiry first
    const { meta, command } = cartExpiryEvent(job.data, job.id ?? CartExpiry.jobId(job.data));
    const r = await this.o.runner.applyDurably(meta, command);
    if (r.payload) await this.o.runner.announce(r.payload);
    return r.payload?.outcome.reason ?? r.payload?.outcome.result ?? 'duplicate';
  }

  /** Stops taking jobs, waits for running ones up to `timeoutMs`, closes connections. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.flushing) {
      clearImmediate(this.flushing);
      await this.flush();
    }
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
