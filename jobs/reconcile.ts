import { Queue, Worker, type Job } from 'bullmq';
import type { RedisClient, RedisTarget } from '../src/engine/redis-client.js';
import { toError } from '../src/errors/to-error.js';
import type { Logger } from '../src/logger.js';
import type { ReconcileSummary } from '../src/reconcile/index.js';
import { bullConnection, bullPrefix, retention } from './connection.js';

export const RECONCILE_QUEUE = 'reconcile';
/** The one job scheduler of the queue: upserted at every start, so config changes apply. */
export const NIGHTLY_RECONCILE = 'nightly-reconcile';

export interface ReconcileJobData {
  repair: boolean;
  /** one tenant only (a job added by hand) */
  tenant?: string;
}

export interface ReconcileJobsOptions {
  /** the worker's Redis (config REDIS_URL, REDIS_CLUSTER_NODES, REDIS_TLS_*) */
  redis: RedisTarget;
  redisPrefix: string;
  /** config RECONCILE_CRON: a cron pattern in UTC, or 'off' */
  cron: string;
  /** config RECONCILE_REPAIR */
  repair: boolean;
  /** runs one reconciliation; stops between two pages once `signal` is aborted */
  run: (data: ReconcileJobData, signal: AbortSignal) => Promise<ReconcileSummary>;
  logger: Logger;
}

/**
 * The nightly reconciliation as a BullMQ job scheduler: every worker upserts the same
 * scheduler (one id, so one job per night however many workers run), and whichever worker
 * takes the job runs it, one at a time (concurrency 1). A run takes minutes on a large
 * catalogue; BullMQ renews the job's lock meanwhile.
 */
export class ReconcileJobs {
  readonly queue: Queue<ReconcileJobData>;
  private worker: Worker<ReconcileJobData> | undefined;
  private readonly queueConnection: RedisClient;
  private workerConnection: RedisClient | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly o: ReconcileJobsOptions) {
    this.queueConnection = bullConnection(o.redis);
    this.queue = new Queue<ReconcileJobData>(RECONCILE_QUEUE, {
      connection: this.queueConnection,
      prefix: bullPrefix(o.redisPrefix),
      defaultJobOptions: { ...retention, attempts: 1 },
    });
    // without a listener BullMQ prints the error whole (a Redis error's command and arguments)
    this.queue.on('error', (err) => o.logger.warn({ err }, 'reconcile queue error'));
  }

  /** Upserts (or, with cron 'off', removes) the nightly scheduler and starts taking jobs. */
  async start(): Promise<void> {
    if (this.o.cron === 'off') {
      await this.queue.removeJobScheduler(NIGHTLY_RECONCILE);
    } else {
      await this.queue.upsertJobScheduler(
        NIGHTLY_RECONCILE,
        { pattern: this.o.cron, tz: 'UTC' },
        { name: 'reconcile', data: { repair: this.o.repair }, opts: { ...retention, attempts: 1 } },
      );
    }
    this.workerConnection = bullConnection(this.o.redis);
    this.worker = new Worker<ReconcileJobData>(RECONCILE_QUEUE, (job) => this.run(job), {
      connection: this.workerConnection,
      prefix: bullPrefix(this.o.redisPrefix),
      concurrency: 1,
    });
    this.worker.on('failed', (job, err) =>
      this.o.logger.warn({ jobId: job?.id, err: err.message }, 'reconcile job failed'),
    );
    this.worker.on('error', (err) => this.o.logger.warn({ err }, 'reconcile worker error'));
  }

  private async run(
    job: Job<ReconcileJobData>,
  ): Promise<Pick<ReconcileSummary, 'runId' | 'status' | 'drifts' | 'repaired'>> {
    const s = await this.o.run(job.data, this.abort.signal);
    return { runId: s.runId, status: s.status, drifts: s.drifts, repaired: s.repaired };
  }

  /** Stops a run in progress at its next page, stops taking jobs, closes connections. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.abort.abort();
    const closing = Promise.all([this.worker?.close(), this.queue.close()]);
    const timedOut = await Promise.race([
      closing.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), timeoutMs).unref()),
    ]);
    if (timedOut) {
      this.o.logger.warn('reconciliation did not stop in time; forcing close');
      await this.worker
        ?.close(true)
        .catch((e: unknown) => this.o.logger.warn({ err: toError(e) }, 'force close failed'));
    }
    this.workerConnection?.disconnect();
    this.queueConnection.disconnect();
  }
}
