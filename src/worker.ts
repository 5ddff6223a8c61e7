import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { consumers } from '../consumers/index.js';
import { Broker } from './broker/broker.js';
import { CrashGuard } from './broker/crash-guard.js';
import { Processor } from './broker/processor.js';
import { tenantRules } from './broker/tenants.js';
import { cartTtlMs, type Config } from './config.js';
import { CartExpiry } from '../jobs/cart-expiry.js';
import { ReconcileJobs } from '../jobs/reconcile.js';
import { INVENTORY_EXCHANGE } from './broker/topology.js';
import { toError } from './errors/to-error.js';
import { findPayload } from './ledger/find-payload.js';
import { dlqDepthReader } from './http/dlq-depth.js';
import { ReadinessProbe, withTimeout } from './http/health.js';
import { WorkerMetrics } from './http/metrics.js';
import { startHttpEndpoint, type HttpEndpoint } from './http/server.js';
import { OutboxSweeper } from './ledger/sweeper.js';
import type { Logger } from './logger.js';
import { reconcile } from './reconcile/index.js';
import type { EventTracer } from './tracing/event-tracer.js';
import { startTracing } from './tracing/start.js';
import { openServices, type Services } from './services.js';
import { createRedisClient, redisTargetOf, type RedisClient } from './engine/redis-client.js';

export interface Worker {
  services: Services;
  broker: Broker;
  processor: Processor;
  cartExpiry: CartExpiry;
  reconcileJobs: ReconcileJobs;
  metrics: WorkerMetrics;
  /** /healthz, /readyz, /metrics; undefined when HTTP_PORT is 0 */
  http: HttpEndpoint | undefined;
  /** one span per event (OpenTelemetry); undefined when tracing is off */
  tracing: EventTracer | undefined;
  /**
   * Idempotent, ordered shutdown: stop consuming → finish in-flight → close jobs → close the
   * broker (acks what finished) → flush the ledger, close Redis and MySQL. The whole of it
   * takes at most SHUTDOWN_TIMEOUT_MS, whatever is down; `drained` is false when something
   * could not finish in that time (what was not acked is redelivered).
   */
  close(): Promise<{ drained: boolean }>;
  /**
   * After an uncaught error: the deliveries being processed are charged with a crash, the
   * completed ones are acked, and the connection to the broker closes so that it redelivers
   * every other one. Nothing else is flushed. Bounded by `deadlineMs`.
   */
  crash(deadlineMs: number): Promise<void>;
}

/** The parts a shutdown and a crash stop go through, in order. */
interface Parts {
  config: Config;
  logger: Logger;
  services: Services;
  broker: Broker;
  processor: Processor;
  crashGuard: CrashGuard;
  sweeper: OutboxSweeper;
  cartExpiry: CartExpiry;
  reconcileJobs: ReconcileJobs;
  http: HttpEndpoint | undefined;
  probeRedis: RedisClient;
  tracing: EventTracer | undefined;
}

export interface WorkerOptions {
  /**
   * Where spans go, instead of the exporter the OTEL_* variables name; tracing is on with it,
   * whatever they say (the tests' in-memory exporter).
   */
  spanProcessor?: SpanProcessor;
}

/**
 * Starts the whole worker: migrations, Redis loaded from MySQL where it lost tenants, then
 * consumption. Nothing is consumed before every known tenant is back in Redis.
 */
export async function startWorker(
  config: Config,
  logger: Logger,
  options: WorkerOptions = {},
): Promise<Worker> {
  const services = await openServices(config, logger);
  const { knex, redis, engine, writer, loader } = services;
  const reloaded = await loader.loadMissingTenants();
  if (reloaded.length)
    logger.warn({ tenants: reloaded }, 'Redis had lost tenants: reloaded from MySQL');

  const crashGuard = new CrashGuard(redis, config.REDIS_PREFIX, config.CRASH_REDELIVERY_LIMIT);
  const sweeper = new OutboxSweeper({ knex, redis, prefix: config.REDIS_PREFIX, writer, logger });
  sweeper.start();

  const tracing = await startTracing(config, logger, options.spanProcessor);

  const tenants = tenantRules(config);
  const broker = new Broker({
    url: config.AMQP_URL,
    ...(tenants.fromUser ? { ownUser: tenants.ownUser } : {}),
    tls: config.tls.amqp,
    prefetch: config.PREFETCH,
    queueType: config.QUEUE_TYPE,
    deliveryLimit: config.DELIVERY_LIMIT,
    types: [...consumers.keys()],
    logger,
    // `processor` is created below; deliveries only start with broker.start()
    onMessage: (msg, session) => processor.handle(msg, session),
  });
  const probeRedis = openProbeRedis(config);
  const readiness = new ReadinessProbe({
    consuming: () => broker.isConsuming,
    redis: probeRedis,
    knex,
    prefix: config.REDIS_PREFIX,
    maxOutboxLagSeconds: config.READY_MAX_OUTBOX_LAG_SECONDS,
  });
  const metrics = new WorkerMetrics({
    knex,
    redis: probeRedis,
    prefix: config.REDIS_PREFIX,
    logger,
    types: [...consumers.keys()],
    inFlight: () => processor.active,
    consuming: () => broker.isConsuming,
    readiness: () => readiness.check(),
    brokerBlocked: () => broker.blocked,
    owedAnnouncements: () => processor.owedAnnouncements,
    cachedNetworks: () => engine.cachedNetworks,
    dlqDepth: dlqDepthReader(broker),
    jobCounts: () => jobCounts(cartExpiry, reconcileJobs),
  });
  const processor: Processor = new Processor({
    engine,
    ledger: writer,
    broker,
    logger,
    maxBytes: config.MAX_MESSAGE_BYTES,
    tenants,
    cartTtlMs: (tenant) => cartTtlMs(config, tenant),
    findPayload: (tenant, source, id, command) => findPayload(knex, tenant, source, id, command),
    // the ack waits for the expiry job, so no acknowledged cart hold is left without one
    onApplied: (p) => cartExpiry.schedule(p),
    observe: metrics.observe,
    crashGuard,
    ...(tracing ? { tracer: tracing } : {}),
  });
  const cartExpiry = new CartExpiry({
    redis: redisTargetOf(config),
    redisPrefix: config.REDIS_PREFIX,
    runner: processor,
    logger,
  });
  cartExpiry.start();
  const reconcileJobs = nightlyReconciliation(config, logger, services, cartExpiry, broker);
  await reconcileJobs.start();
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

  const parts: Parts = {
    config,
    logger,
    services,
    broker,
    processor,
    crashGuard,
    sweeper,
    cartExpiry,
    reconcileJobs,
    http,
    probeRedis,
    tracing,
  };
  let closing: Promise<{ drained: boolean }> | undefined;
  let crashing: Promise<void> | undefined;
  return {
    services,
    broker,
    processor,
    cartExpiry,
    reconcileJobs,
    metrics,
    http,
    tracing,
    close: () => (closing ??= closeWorker(parts)),
    crash: (deadlineMs) => (crashing ??= crashStop(parts, deadlineMs)),
  };
}

/**
 * /readyz and /metrics ask Redis on a connection of their own that queues nothing while Redis
 * is away (the engine's waits for it): a scraper cannot pile commands up in memory.
 */
function openProbeRedis(config: Config): RedisClient {
  const probe = createRedisClient(redisTargetOf(config), {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 2000,
  });
  probe.on('error', () => undefined); // the engine's client logs Redis's outages
  return probe;
}

/** BullMQ job counts of both queues, by state (for `inventory_jobs`). */
async function jobCounts(cartExpiry: CartExpiry, reconcileJobs: ReconcileJobs) {
  const states = ['waiting', 'delayed', 'active', 'failed'] as const;
  const [carts, nightly] = await Promise.all([
    cartExpiry.queue.getJobCounts(...states),
    reconcileJobs.queue.getJobCounts(...states),
  ]);
  return { [cartExpiry.queue.name]: carts, [reconcileJobs.queue.name]: nightly };
}

/** The nightly reconciliation job, run by whichever worker takes it. */
function nightlyReconciliation(
  config: Config,
  logger: Logger,
  { knex, redis, engine, writer }: Services,
  cartExpiry: CartExpiry,
  broker: Broker,
): ReconcileJobs {
  return new ReconcileJobs({
    redis: redisTargetOf(config),
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
}

/** Runs one step of a stop within `budgetMs`; false (and logged) when it failed or ran out. */
async function step(
  logger: Logger,
  name: string,
  f: () => Promise<unknown>,
  budgetMs: number,
): Promise<boolean> {
  try {
    await withTimeout(f(), budgetMs, name);
    return true;
  } catch (e) {
    logger.warn({ err: toError(e).message, step: name }, 'shutdown step failed');
    return false;
  }
}

/** Worker.close: every step in order, within SHUTDOWN_TIMEOUT_MS all told. */
async function closeWorker(w: Parts): Promise<{ drained: boolean }> {
  const { config, logger, broker, processor } = w;
  const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS;
  // the broker's close is kept the last part: it sends the acks of what did finish
  const reserve = Math.min(2000, config.SHUTDOWN_TIMEOUT_MS / 4);
  const left = (keep = reserve) => Math.max(0, deadline - keep - Date.now());
  const steps: [string, () => Promise<unknown>, () => number][] = [
    ['stop consuming', () => broker.stopConsuming(), left],
    [
      'finish in-flight',
      async () => {
        if (!(await processor.drain(left())))
          throw new Error(`${processor.active} event(s) still in flight`);
      },
      () => left() + 100,
    ],
    ['close cart expiry jobs', () => w.cartExpiry.close(left()), left],
    ['close reconcile jobs', () => w.reconcileJobs.close(left()), left],
    ['stop sweeper', () => w.sweeper.stop(), left],
    ['close http endpoint', async () => w.http?.close(), left],
    ['close broker', () => broker.close(), () => left(0)],
    ['close services', () => w.services.close(), () => left(0)],
    // last: the spans of everything above are exported (or dropped when out of time)
    ['flush traces', async () => w.tracing?.shutdown(), () => left(0)],
  ];
  let drained = true;
  for (const [name, f, budget] of steps)
    drained = (await step(logger, name, f, budget())) && drained;
  w.probeRedis.disconnect();
  logger.info({ drained }, drained ? 'worker stopped' : 'worker stopped before it drained');
  return { drained };
}

/** Worker.crash: no more acks, the deliveries in flight charged, then handed back. */
function crashStop(w: Parts, deadlineMs: number): Promise<void> {
  const { logger, broker, processor, crashGuard } = w;
  // synchronously, before any delivery in flight can complete: no more acks, no clearing
  const inFlight = processor.halt();
  broker.freeze();
  return withTimeout(
    (async () => {
      await step(
        logger,
        'charge the deliveries in flight',
        () => crashGuard.record(inFlight),
        deadlineMs,
      );
      await step(logger, 'hand deliveries back', () => broker.abort(), deadlineMs);
    })(),
    deadlineMs,
    'crash stop',
  ).catch((e: unknown) => logger.warn({ err: toError(e).message }, 'crash stop incomplete'));
}
