import { consumers } from '../consumers/index.js';
import { Broker } from './broker/broker.js';
import { CrashGuard } from './broker/crashGuard.js';
import { Processor } from './broker/processor.js';
import { cartTtlMs, type Config } from './config.js';
import { CartExpiry } from '../jobs/cart-expiry.js';
import { ReconcileJobs } from '../jobs/reconcile.js';
import { INVENTORY_EXCHANGE } from './broker/topology.js';
import { toError } from './errors/toError.js';
import { findPayload } from './ledger/findPayload.js';
import { dlqDepthReader } from './http/dlqDepth.js';
import { ReadinessProbe, withTimeout } from './http/health.js';
import { WorkerMetrics } from './http/metrics.js';
import { startHttpEndpoint, type HttpEndpoint } from './http/server.js';
import { OutboxSweeper } from './ledger/sweeper.js';
import type { Logger } from './logger.js';
import { reconcile } from './reconcile/index.js';
import { openServices, type Services } from './services.js';

export interface Worker {
  services: Services;
  broker: Broker;
  processor: Processor;
  cartExpiry: CartExpiry;
  reconcileJobs: ReconcileJobs;
  metrics: WorkerMetrics;
  /** /healthz, /readyz, /metrics; undefined when HTTP_PORT is 0 */
  http: HttpEndpoint | undefined;
  /** Idempotent, ordered shutdown: stop consuming → finish in-flight → flush → close. */
  close(): Promise<void>;
  /**
   * After an uncaught error: the deliveries being processed are charged with a crash, the
   * completed ones are acked, and the connection to the broker closes so that it redelivers
   * every other one. Nothing else is flushed. Bounded by `deadlineMs`.
   */
  crash(deadlineMs: number): Promise<void>;
}

/**
 * Starts the whole worker: migrations, Redis loaded from MySQL where it lost tenants, then
 * consumption. Nothing is consumed before every known tenant is back in Redis.
 */
export async function startWorker(config: Config, logger: Logger): Promise<Worker> {
  const services = await openServices(config, logger);
  const { knex, redis, engine, writer, loader } = services;
  const reloaded = await loader.loadMissingTenants();
  if (reloaded.length)
    logger.warn({ tenants: reloaded }, 'Redis had lost tenants: reloaded from MySQL');

  const crashGuard = new CrashGuard(redis, config.REDIS_PREFIX, config.CRASH_REDELIVERY_LIMIT);
  const sweeper = new OutboxSweeper({ knex, redis, prefix: config.REDIS_PREFIX, writer, logger });
  sweeper.start();

  const broker = new Broker({
    url: config.AMQP_URL,
    tls: config.tls.amqp,
    prefetch: config.PREFETCH,
    queueType: config.QUEUE_TYPE,
    deliveryLimit: config.DELIVERY_LIMIT,
    types: [...consumers.keys()],
    logger,
    // `processor` is created below; deliveries only start with broker.start()
    onMessage: (msg, session) => processor.handle(msg, session),
  });
  const metrics = new WorkerMetrics({
    knex,
    redis,
    prefix: config.REDIS_PREFIX,
    logger,
    types: [...consumers.keys()],
    inFlight: () => processor.active,
    dlqDepth: dlqDepthReader(broker),
    jobCounts: async () => {
      const states = ['waiting', 'delayed', 'active', 'failed'] as const;
      const [carts, nightly] = await Promise.all([
        cartExpiry.queue.getJobCounts(...states),
        reconcileJobs.queue.getJobCounts(...states),
      ]);
      return { [cartExpiry.queue.name]: carts, [reconcileJobs.queue.name]: nightly };
    },
  });
  const processor: Processor = new Processor({
    engine,
    ledger: writer,
    broker,
    logger,
    maxBytes: config.MAX_MESSAGE_BYTES,
    cartTtlMs: (tenant) => cartTtlMs(config, tenant),
    findPayload: (tenant, source, id, command) => findPayload(knex, tenant, source, id, command),
    // the ack waits for the expiry job, so no acknowledged cart hold is left without one
    onApplied: (p) => cartExpiry.schedule(p),
    observe: metrics.observe,
    crashGuard,
  });
  const cartExpiry = new CartExpiry({
    redisUrl: config.REDIS_URL,
    redisTls: config.tls.redis,
    redisPrefix: config.REDIS_PREFIX,
    runner: processor,
    logger,
  });
  cartExpiry.start();
  const reconcileJobs = new ReconcileJobs({
    redisUrl: config.REDIS_URL,
    redisTls: config.tls.redis,
    redisPrefix: config.REDIS_PREFIX,
    cron: config.RECONCILE_CRON,
    repair: config.RECONCILE_REPAIR,
    logger,
    run: (data, signal) =>
      reconcile(
        {
          knex,
          redis,
          prefix: config.REDIS_PREFIX,
          engine,
          writer,
          logger,
          cartJobState: (jobId) => cartExpiry.queue.getJobState(jobId),
          publish: (routingKey, content, options) =>
            broker.publish(INVENTORY_EXCHANGE, routingKey, content, options),
        },
        {
          repair: data.repair,
          ...(data.tenant !== undefined ? { tenant: data.tenant } : {}),
          signal,
        },
      ),
  });
  await reconcileJobs.start();
  const readiness = new ReadinessProbe({
    consuming: () => broker.isConsuming,
    redis,
    knex,
    prefix: config.REDIS_PREFIX,
    maxOutboxLagSeconds: config.READY_MAX_OUTBOX_LAG_SECONDS,
  });
  const http =
    config.HTTP_PORT === 0
      ? undefined
      : await startHttpEndpoint({
          port: config.HTTP_PORT,
          host: config.HTTP_HOST,
          logger,
          readiness: () => readiness.check(),
          metrics,
        });
  await broker.start();
  logger.info({ prefetch: config.PREFETCH, queueType: config.QUEUE_TYPE }, 'worker consuming');

  let closing: Promise<void> | undefined;
  let crashing: Promise<void> | undefined;
  const step = async (name: string, f: () => Promise<unknown>) => {
    try {
      await f();
    } catch (e) {
      logger.warn({ err: toError(e).message, step: name }, 'shutdown step failed');
    }
  };
  return {
    services,
    broker,
    processor,
    cartExpiry,
    reconcileJobs,
    metrics,
    http,
    close: () =>
      (closing ??= (async () => {
        await step('stop consuming', () => broker.stopConsuming());
        await step('finish in-flight', async () => {
          if (!(await processor.drain(config.SHUTDOWN_TIMEOUT_MS))) {
            logger.warn({ inFlight: processor.active }, 'in-flight events did not finish in time');
          }
        });
        await step('close cart expiry jobs', () => cartExpiry.close(config.SHUTDOWN_TIMEOUT_MS));
        await step('close reconcile jobs', () => reconcileJobs.close(config.SHUTDOWN_TIMEOUT_MS));
        await step('stop sweeper', () => sweeper.stop());
        await step('close http endpoint', async () => http?.close());
        await step('close broker', () => broker.close());
        await step('close services', () => services.close());
        logger.info('worker stopped');
      })()),
    crash: (deadlineMs) =>
      (crashing ??= (() => {
        // synchronously, before any delivery in flight can complete: no more acks, no clearing
        const inFlight = processor.halt();
        broker.freeze();
        return withTimeout(
          (async () => {
            await step('charge the deliveries in flight', () => crashGuard.record(inFlight));
            await step('hand deliveries back', () => broker.abort());
          })(),
          deadlineMs,
          'crash stop',
        ).catch((e: unknown) => logger.warn({ err: toError(e).message }, 'crash stop incomplete'));
      })()),
  };
}
