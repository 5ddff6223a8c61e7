/**
 * The engine and the ledger as src/services.ts wires them, on a database and key prefix of
 * the test file's own, with the reconciliation's dependencies: the real cart-expiry queue
 * (to ask for job states) and a publish function that collects what it is given.
 */
import { Queue } from 'bullmq';
import { pino, type Logger } from 'pino';
import { CART_EXPIRY_QUEUE } from '../../jobs/cart-expiry.js';
import { bullConnection, bullPrefix } from '../../jobs/connection.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Command, EventMeta, OutboxPayload } from '../../src/domain/types.js';
import { pairOf, TenantKeys } from '../../src/engine/keys.js';
import { reconcile } from '../../src/reconcile/index.js';
import type { Drift, ReconcileOptions, ReconcileSummary } from '../../src/reconcile/types.js';
import { openServices, type Services } from '../../src/services.js';
import {
  dropRedisPrefix,
  dropTestDatabase,
  TEST_MYSQL_SERVER,
  uniqueName,
} from '../support/isolation.js';
import { redisTargetOf } from '../../src/engine/redis-client.js';

export const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface Published {
  routingKey: string;
  body: { id: string; type: string; source: string; tenant: string; data: Record<string, unknown> };
}

export interface ReconcileHarness {
  config: Config;
  s: Services;
  prefix: string;
  jobs: Queue;
  published: Published[];
  keys(tenant: string): TenantKeys;
  stockKey(tenant: string, sku: string, locationId?: string): string;
  /** applies and waits until the payload is committed to MySQL */
  apply(meta: EventMeta, c: Command): Promise<void>;
  /** applies in Redis only: the payload stays in the outbox, as while the mirror is behind */
  applyOnly(meta: EventMeta, c: Command): Promise<{ entryId: string; payload: OutboxPayload }>;
  run(o?: ReconcileOptions): Promise<ReconcileSummary>;
  close(): Promise<void>;
}

/**
 * `env`: more configuration (e.g. REDIS_URL and REDIS_CLUSTER_NODES of a private cluster);
 * `log`: the services' logger.
 */
export async function createReconcileHarness(
  label: string,
  env: Record<string, string> = {},
  log: Logger = logger,
): Promise<ReconcileHarness> {
  const prefix = uniqueName(label);
  const url = `${TEST_MYSQL_SERVER}/${uniqueName(label)}`;
  const config = loadConfig({
    ...process.env,
    ...env,
    MYSQL_URL: url,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'silent',
  });
  const s = await openServices(config, log);
  const bull = bullConnection(redisTargetOf(config));
  const jobs = new Queue(CART_EXPIRY_QUEUE, { connection: bull, prefix: bullPrefix(prefix) });
  const published: Published[] = [];
  const keys = (tenant: string) => new TenantKeys(prefix, tenant);
  return {
    config,
    s,
    prefix,
    jobs,
    published,
    keys,
    stockKey: (tenant, sku, locationId = 'default') => keys(tenant).stock(pairOf(sku, locationId)),
    async apply(meta, c) {
      const r = await s.engine.apply(meta, c);
      if (r.status !== 'applied') throw new Error(`expected applied, got ${JSON.stringify(r)}`);
      const w = await s.writer.write(r.payload, r.entryId);
      if (w !== 'committed') throw new Error(`expected committed, got ${w}`);
    },
    async applyOnly(meta, c) {
      const r = await s.engine.apply(meta, c);
      if (r.status !== 'applied') throw new Error(`expected applied, got ${JSON.stringify(r)}`);
      return { entryId: r.entryId, payload: r.payload };
    },
    run: (o = {}) =>
      reconcile(
        {
          ...s,
          prefix,
          logger,
          cartJobState: (jobId) => jobs.getJobState(jobId),
          publish: async (routingKey, content) => {
            published.push({
              routingKey,
              body: JSON.parse(content.toString()) as Published['body'],
            });
          },
        },
        o,
      ),
    async close() {
      await jobs.close();
      bull.disconnect();
      await dropRedisPrefix(s.redis, prefix);
      await dropRedisPrefix(s.redis, bullPrefix(prefix));
      await s.close();
      await dropTestDatabase(url);
    },
  };
}

let n = 0;

/** Event envelopes with ids unique in the test file. */
export function events(tenant: string) {
  return (type = 'test'): EventMeta => ({
    tenant,
    source: '/test',
    id: `e${++n}`,
    type,
    occurredAt: '2026-11-23T10:15:00Z',
  });
}

/** A drift without the fields a test does not pin down (key order irrelevant). */
export const shape = (d: Drift) =>
  Object.fromEntries(Object.entries(d).filter(([k, v]) => v !== undefined && k !== 'detail'));
