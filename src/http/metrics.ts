import type { ConsumeMessage } from 'amqplib';
import type { RedisClient } from '../engine/redis-client.js';
import type { Knex } from 'knex';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { originalRoutingKey } from '../broker/headers.js';
import type { Outcome } from '../broker/processor.js';
import { toError } from '../errors/to-error.js';
import { knownTenants, outboxLag } from '../ledger/outbox-lag.js';
import type { Logger } from '../logger.js';
import { withTimeout, type Readiness } from './health.js';

export interface MetricsSources {
  knex: Knex;
  redis: RedisClient;
  prefix: string;
  logger: Logger;
  /** event types the worker consumes; anything else is counted as `other` (bounded labels) */
  types: readonly string[];
  /** deliveries being processed now */
  inFlight: () => number;
  /** true while a consumer is registered on a live channel */
  consuming: () => boolean;
  /** what /readyz answers (each dependency's check) */
  readiness: () => Promise<Readiness>;
  /** the broker connections blocked by a resource alarm now */
  brokerBlocked: () => ReadonlySet<string>;
  /** announcements owed to redeliveries, kept in memory (bounded) */
  owedAnnouncements: () => number;
  /** tenants whose network is cached in memory (bounded) */
  cachedNetworks: () => number;
  /** messages waiting in inventory.dlq */
  dlqDepth: () => Promise<number>;
  /** BullMQ job counts by queue, then by state */
  jobCounts: () => Promise<Record<string, Record<string, number>>>;
  /** each scrape-time query gives up after this. @default 2000 */
  timeoutMs?: number;
  /** reservations are counted at most this often (a GROUP BY over the table). @default 10000 */
  reservationsEveryMs?: number;
}

/** A scrape's answer is reused this long. */
const SCRAPE_REUSE_MS = 1000;

/** Processing latency buckets (seconds): a Lua call is ~0.1 ms, a ledger commit a few ms. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The worker's Prometheus metrics, in a registry of its own (several workers in one process,
 * as in the tests, do not mix). Counters move as events are processed; gauges of state
 * (outbox, DLQ, holds, jobs) are read from the services when scraped.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly events: Counter<'type' | 'outcome'>;
  private readonly latency: Histogram<'type' | 'outcome'>;
  private readonly types: Set<string>;
  private tenants: string[] = [];
  private scrape: { at: number; text: Promise<string> } | undefined;
  private reconcileCache:
    { at: number; run: Promise<{ drifts: number; finishedAt: number } | undefined> } | undefined;
  private holdsCache:
    { at: number; rows: { kind: string; state: string; n: number }[] } | undefined;

  constructor(private readonly o: MetricsSources) {
    this.types = new Set(o.types);
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.events = new Counter({
      name: 'inventory_events_total',
      help: 'Deliveries processed, by event type and outcome (applied, duplicate, rejected, ignored, retry, dead-letter, dropped, error)',
      labelNames: ['type', 'outcome'],
      registers,
    });
    this.latency = new Histogram({
      name: 'inventory_event_processing_seconds',
      help: 'Time from delivery to settled (acked, retried or dead-lettered), by event type and outcome',
      labelNames: ['type', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'inventory_events_in_flight',
      help: 'Deliveries being processed now',
      registers,
      collect() {
        this.set(o.inFlight());
      },
    });
    new Gauge({
      name: 'inventory_consuming',
      help: 'A consumer is registered on the worker queue and publishing is possible: 1, else 0',
      registers,
      collect() {
        this.set(o.consuming() ? 1 : 0);
      },
    });
    const checks = new Gauge({
      name: 'inventory_ready_check',
      help: 'Each readiness check of /readyz (rabbitmq, redis, mysql, outbox): 1 passing, 0 failing',
      labelNames: ['check'],
      registers,
      collect: async () => {
        const r = await this.quietly('readiness', o.readiness);
        if (!r) return;
        for (const [check, result] of Object.entries(r.checks))
          checks.set({ check }, result.ok ? 1 : 0);
      },
    });
    const lastRun = new Gauge({
      name: 'inventory_reconcile_last_run_drifts',
      help: 'Drifts found by the last finished reconciliation (nightly job or CLI), every worker the same',
      registers,
      collect: async () => {
        const run = await this.lastReconcile();
        if (run) lastRun.set(run.drifts);
      },
    });
    const lastRunAt = new Gauge({
      name: 'inventory_reconcile_last_run_timestamp_seconds',
      help: 'When the last finished reconciliation finished (Unix time)',
      registers,
      collect: async () => {
        const run = await this.lastReconcile();
        if (run) lastRunAt.set(run.finishedAt / 1000);
      },
    });
    new Gauge({
      name: 'inventory_broker_blocked',
      help: 'RabbitMQ blocks this connection (a memory or disk alarm): 1, else 0',
      labelNames: ['connection'],
      registers,
      collect() {
        const blocked = o.brokerBlocked();
        for (const connection of ['consumer', 'publisher'])
          this.set({ connection }, blocked.has(connection) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'inventory_owed_announcements',
      help: 'Announcements not confirmed by the broker, kept for the redelivery (at most 100,000)',
      registers,
      collect() {
        this.set(o.owedAnnouncements());
      },
    });
    new Gauge({
      name: 'inventory_cached_networks',
      help: 'Tenants whose locations and bindings are cached in memory (at most 1,000)',
      registers,
      collect() {
        this.set(o.cachedNetworks());
      },
    });
    const lagEntries = new Gauge({
      name: 'inventory_outbox_entries',
      help: 'Events applied in Redis and not yet committed to MySQL (outbox entries, every tenant)',
      registers,
    });
    const lagSeconds = new Gauge({
      name: 'inventory_outbox_lag_seconds',
      help: 'Age of the oldest event applied in Redis and not yet committed to MySQL (0 when none)',
      registers,
      collect: async () => {
        const lag = await this.quietly('outbox lag', async () => {
          this.tenants = await knownTenants(o.knex).catch(() => this.tenants);
          return outboxLag(o.redis, o.prefix, this.tenants);
        });
        if (!lag) return;
        lagEntries.set(lag.entries);
        lagSeconds.set(lag.oldestSeconds);
      },
    });
    const dlq = new Gauge({
      name: 'inventory_dlq_messages',
      help: 'Messages waiting in the dead-letter queue inventory.dlq',
      registers,
      collect: async () => {
        const n = await this.quietly('dlq depth', o.dlqDepth);
        if (n !== undefined) dlq.set(n);
      },
    });
    const holds = new Gauge({
      name: 'inventory_reservations',
      help: 'Holds in MySQL by kind (cart, order, transfer) and state, every tenant',
      labelNames: ['kind', 'state'],
      registers,
      collect: async () => {
        const rows = await this.reservations();
        if (!rows) return;
        holds.reset();
        for (const r of rows) holds.set({ kind: r.kind, state: r.state }, r.n);
      },
    });
    const jobs = new Gauge({
      name: 'inventory_jobs',
      help: 'BullMQ jobs by queue and state (waiting, delayed, active, failed)',
      labelNames: ['queue', 'state'],
      registers,
      collect: async () => {
        const counts = await this.quietly('job counts', o.jobCounts);
        if (!counts) return;
        for (const [queue, byState] of Object.entries(counts))
          for (const [state, n] of Object.entries(byState)) jobs.set({ queue, state }, n);
      },
    });
  }

  /** The processor's observer: one count and one latency sample per delivery. */
  readonly observe = (msg: ConsumeMessage, outcome: Outcome | 'error', seconds: number): void => {
    const key = originalRoutingKey(msg);
    const labels = { type: this.types.has(key) ? key : 'other', outcome };
    this.events.inc(labels);
    this.latency.observe(labels, seconds);
  };

  /**
   * The Prometheus text exposition of every metric. Scrapes within a second of the last one
   * (or during it) share its answer: however often it is scraped, the services are asked at
   * most once a second.
   */
  text(): Promise<string> {
    const now = Date.now();
    if (this.scrape && now - this.scrape.at < SCRAPE_REUSE_MS) return this.scrape.text;
    const text = this.registry.metrics();
    this.scrape = { at: now, text };
    text.catch(() => {
      if (this.scrape?.text === text) this.scrape = undefined;
    });
    return text;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The last finished reconciliation run, read at most every `reservationsEveryMs`. */
  private lastReconcile(): Promise<{ drifts: number; finishedAt: number } | undefined> {
    const every = this.o.reservationsEveryMs ?? 10_000;
    if (this.reconcileCache && Date.now() - this.reconcileCache.at < every)
      return this.reconcileCache.run;
    const run = this.quietly('last reconciliation', async () => {
      const row = (await this.o
        .knex('reconcile_runs')
        .whereNotNull('finished_at')
        .orderBy('id', 'desc')
        .first('drifts', 'finished_at')) as { drifts: number; finished_at: Date } | undefined;
      return row
        ? { drifts: Number(row.drifts), finishedAt: new Date(row.finished_at).getTime() }
        : undefined;
    });
    this.reconcileCache = { at: Date.now(), run };
    return run;
  }

  private async reservations() {
    const every = this.o.reservationsEveryMs ?? 10_000;
    if (this.holdsCache && Date.now() - this.holdsCache.at < every) return this.holdsCache.rows;
    const rows = await this.quietly('reservations', async () => {
      const found = (await this.o
        .knex('reservations')
        .select('ref_type', 'state')
        .count({ n: '*' })
        .groupBy('ref_type', 'state')) as { ref_type: string; state: string; n: number }[];
      return found.map((r) => ({ kind: r.ref_type, state: r.state, n: Number(r.n) }));
    });
    if (rows) this.holdsCache = { at: Date.now(), rows };
    return rows;
  }

  /** A scrape never fails nor hangs for one source: it is logged and that gauge left as it was. */
  private async quietly<T>(what: string, f: () => Promise<T>): Promise<T | undefined> {
    try {
      return await withTimeout(f(), this.o.timeoutMs ?? 2000, what);
    } catch (e) {
      this.o.logger.debug({ err: toError(e).message, metric: what }, 'metric not collected');
      return undefined;
    }
  }
}
