/**
 * The checks every scenario ends with, from outside the worker (its processes are stopped):
 * Redis counters = `stock_levels` = the ledger's sums; every valid event recorded exactly
 * once and nothing else; nothing left in the queues (an unacknowledged delivery is back in
 * the queue once its worker is gone); the outbox empty; every poison message in the DLQ with
 * its reason and nothing valid there; no hold leaked (the reconciliation finds no drift); and,
 * when the stream is order-independent, the figures of the pure domain model.
 */
import { Queue } from 'bullmq';
import { expect } from 'vitest';
import { pino } from 'pino';
import { CART_EXPIRY_QUEUE } from '../../../jobs/cart-expiry.js';
import { bullConnection, bullPrefix } from '../../../jobs/connection.js';
import { loadConfig } from '../../../src/config.js';
import { pairOf, TenantKeys } from '../../../src/engine/keys.js';
import { reconcile } from '../../../src/reconcile/index.js';
import type { ReconcileSummary } from '../../../src/reconcile/types.js';
import { openServices } from '../../../src/services.js';
import type { World } from './harness.js';
import type { Figures, Oracle } from './oracle.js';

export interface Findings {
  /** valid events with no processed_events row */
  lost: number;
  /** ledger lines or processed_events rows recorded more than once */
  doubled: number;
  /** stock pairs whose available is below zero */
  oversold: number;
}

const FIG = ['on_hand', 'reserved', 'committed', 'unavailable', 'incoming'] as const;
const toFig = (r: Record<string, unknown>): Figures => ({
  onHand: Number(r.on_hand),
  reserved: Number(r.reserved),
  committed: Number(r.committed),
  unavailable: Number(r.unavailable),
  incoming: Number(r.incoming),
});
const nonZero = (f: Figures) => Object.values(f).some((v) => v !== 0);

/** stock_levels by tenant and `sku@location` (all-zero rows left out). */
export async function levels(world: World): Promise<Map<string, Record<string, Figures>>> {
  const rows = (await world
    .knex('stock_levels')
    .select('tenant', 'sku', 'location_id', ...FIG)) as Record<string, unknown>[];
  const out = new Map<string, Record<string, Figures>>();
  for (const r of rows) {
    const f = toFig(r);
    if (!nonZero(f)) continue;
    const t = out.get(String(r.tenant)) ?? {};
    t[`${String(r.sku)}@${String(r.location_id)}`] = f;
    out.set(String(r.tenant), t);
  }
  return out;
}

/** The reconciliation (no repair) against the world's Redis and MySQL. */
async function reconcileOnce(world: World): Promise<ReconcileSummary> {
  const logger = pino({ level: 'silent' });
  const config = loadConfig({
    MYSQL_URL: world.mysqlUrl,
    REDIS_URL: world.redisUrl,
    REDIS_CLUSTER_NODES: world.redisClusterNodes.join(','),
    REDIS_PREFIX: world.prefix,
    LOG_LEVEL: 'silent',
  });
  const s = await openServices(config, logger);
  const bull = bullConnection(world.redisTarget);
  const jobs = new Queue(CART_EXPIRY_QUEUE, { connection: bull, prefix: bullPrefix(world.prefix) });
  try {
    return await reconcile(
      { ...s, prefix: world.prefix, logger, cartJobState: (id) => jobs.getJobState(id) },
      { repair: false, recheckDelayMs: 0 },
    );
  } finally {
    await jobs.close();
    bull.disconnect();
    await s.close();
  }
}

/**
 * Asserts every invariant; returns what was counted (for the results table) even when an
 * assertion is about to fail, through `onFindings`.
 */
export async function checkInvariants(
  world: World,
  oracle: Oracle,
  options: { compareModel?: boolean; onFindings?: (f: Findings) => void } = {},
): Promise<Findings> {
  const { knex } = world;

  // processed_events: each valid event once, nothing else
  const rows = (await knex('processed_events').select('tenant', 'event_source', 'event_id')) as {
    tenant: string;
    event_source: string;
    event_id: string;
  }[];
  const seen = new Map<string, Set<string>>();
  let doubled = 0;
  const unexpected: string[] = [];
  for (const r of rows) {
    const set = seen.get(r.tenant) ?? new Set<string>();
    const key = `${r.event_source}\x1f${r.event_id}`;
    if (set.has(key)) doubled++;
    set.add(key);
    seen.set(r.tenant, set);
    if (!oracle.valid.get(r.tenant)?.has(key)) unexpected.push(`${r.tenant} ${r.event_id}`);
  }
  let lost = 0;
  for (const [tenant, ids] of oracle.valid)
    for (const k of ids) if (!seen.get(tenant)?.has(k)) lost++;
  const [dupLines] = (await knex.raw(
    `SELECT COUNT(*) AS n FROM (SELECT 1 FROM inventory_ledger
       GROUP BY tenant, event_source, event_id, line_no HAVING COUNT(*) > 1) d`,
  )) as [{ n: number }[]];
  doubled += Number(dupLines[0]!.n);

  const byTenant = await levels(world);
  let oversold = 0;
  for (const t of byTenant.values())
    for (const f of Object.values(t)) if (f.onHand - f.reserved - f.unavailable < 0) oversold++;
  const findings = { lost, doubled, oversold };
  options.onFindings?.(findings);

  expect(unexpected, 'events recorded that were never published').toEqual([]);
  expect(findings).toEqual({ lost: 0, doubled: 0, oversold: 0 });

  await checkFiguresAgree(world, byTenant);

  // the pure domain model applied to the stream
  if (options.compareModel !== false)
    for (const tenant of new Set([...oracle.tenants(), ...byTenant.keys()]))
      expect(byTenant.get(tenant) ?? {}, `figures of ${tenant} = the domain model`).toEqual(
        oracle.figures(tenant),
      );

  // queues: nothing left ready (a delivery left unacknowledged returns there), DLQ = poison
  const q = await world.queues();
  expect({ main: q.main, retry: q.retry }, 'queues empty').toEqual({ main: 0, retry: 0 });
  const dead = await world.takeDeadLetters();
  const deadIds = new Set<string>();
  const wrong: string[] = [];
  for (const m of dead) {
    const id = String(m.properties.messageId);
    const reason = String((m.properties.headers ?? {})['x-error-reason'] ?? '');
    deadIds.add(id);
    const want = oracle.poison.get(id);
    if (!want) wrong.push(`valid event ${id} dead-lettered: ${reason}`);
    else if (!want.test(reason)) wrong.push(`${id}: reason "${reason}" does not match ${want}`);
  }
  expect(wrong, 'dead letters').toEqual([]);
  expect(deadIds.size, 'every poison message dead-lettered').toBe(oracle.poison.size);

  // holds: Redis, reservations and the ledger agree, no cart leaked
  const summary = await reconcileOnce(world);
  expect(
    { status: summary.status, drifts: summary.drifts, first: summary.firstDrifts.slice(0, 5) },
    'reconciliation',
  ).toEqual({ status: 'clean', drifts: 0, first: [] });

  return findings;
}

/**
 * stock_levels = the ledger's sums, and Redis's counters = stock_levels with no payload left in
 * any tenant's outbox, for every tenant of the world.
 */
export async function checkFiguresAgree(
  world: World,
  byTenant?: Map<string, Record<string, Figures>>,
): Promise<void> {
  const { knex } = world;
  byTenant ??= await levels(world);
  // stock_levels = the ledger's sums
  const [sums] = (await knex.raw(
    `SELECT tenant, sku, location_id, SUM(on_hand_delta) AS on_hand, SUM(reserved_delta) AS reserved,
            SUM(committed_delta) AS committed, SUM(unavailable_delta) AS unavailable,
            SUM(incoming_delta) AS incoming
       FROM inventory_ledger GROUP BY tenant, sku, location_id`,
  )) as [Record<string, unknown>[]];
  const ledger = new Map<string, Record<string, Figures>>();
  for (const r of sums) {
    const f = toFig(r);
    if (!nonZero(f)) continue;
    const t = ledger.get(String(r.tenant)) ?? {};
    t[`${String(r.sku)}@${String(r.location_id)}`] = f;
    ledger.set(String(r.tenant), t);
  }
  expect(Object.fromEntries(byTenant), 'stock_levels = ledger sums').toEqual(
    Object.fromEntries(ledger),
  );

  // Redis counters = stock_levels, and no payload left in an outbox
  const redis = world.redis();
  try {
    for (const [tenant, figures] of byTenant) {
      const keys = new TenantKeys(world.prefix, tenant);
      expect(await redis.xlen(keys.outbox), `outbox of ${tenant}`).toBe(0);
      const pipe = redis.pipeline();
      const names = Object.keys(figures);
      for (const k of names) {
        const at = k.lastIndexOf('@');
        pipe.hmget(
          keys.stock(pairOf(k.slice(0, at), k.slice(at + 1))),
          'onHand',
          'reserved',
          'committed',
          'unavailable',
          'incoming',
        );
      }
      const replies = (await pipe.exec()) ?? [];
      const inRedis: Record<string, Figures> = {};
      names.forEach((k, i) => {
        const v = replies[i]![1] as (string | null)[];
        const [onHand, reserved, committed, unavailable, incoming] = v.map((x) => Number(x ?? 0));
        inRedis[k] = {
          onHand: onHand!,
          reserved: reserved!,
          committed: committed!,
          unavailable: unavailable!,
          incoming: incoming!,
        };
      });
      expect(inRedis, `Redis = stock_levels for ${tenant}`).toEqual(figures);
    }
  } finally {
    redis.disconnect();
  }
}
