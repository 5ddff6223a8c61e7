import { AbortedError } from '../errors/aborted-error.js';
import type { RedisClient } from '../engine/redis-client.js';
import type { Knex } from 'knex';
import type { Engine } from '../engine/engine.js';
import { toError } from '../errors/to-error.js';
import type { Logger } from '../logger.js';
import {
  driftAnnouncement,
  publishAnnouncement,
  RECONCILE_SOURCE,
  type Publish,
} from './announcements.js';
import { countReservations } from './hold-sql.js';
import { reconcileHolds } from './hold-pass.js';
import { reconcileNetwork } from './network-pass.js';
import type { PassContext } from './pass-context.js';
import { RunRecorder, type RunTotals } from './run-recorder.js';
import { releaseLeakedCart, requeueWaiting } from './repair-events.js';
import type { LedgerSink } from '../domain/types.js';
import { TenantScope } from './tenant-scope.js';
import { reconcileStock } from './stock-pass.js';
import { reconcileInStock } from './instock-pass.js';
import { countStockLevels } from './stock-sql.js';
import { reconcileWaits } from './wait-pass.js';
import { RunTally } from './tenant-tally.js';
import type { ReconcileOptions, ReconcileSummary, RunStatus } from './types.js';

export interface ReconcileDeps {
  knex: Knex;
  redis: RedisClient;
  /** Redis key prefix of the engine */
  prefix: string;
  engine: Engine;
  /** the ledger mirror (LedgerWriter): releases of leaked carts are written through it */
  writer: LedgerSink;
  logger: Logger;
  /** State of a cart-expiry job by id, 'unknown' when there is none (Queue.getJobState). */
  cartJobState: (jobId: string) => Promise<string>;
  /** Publishes on inventory.events (drift-detected, and what repairs announce). Omitted: none. */
  publish?: Publish | undefined;
}

/**
 * The nightly reconciliation: for every tenant, every stock pair (Redis, stock_levels
 * and the ledger's sums) and every cart and order (Redis, reservations and the ledger's sums per
 * reference), leaked carts included, every wait queue (the holds waiting at its pair), and
 * the locations and bindings; with `repair`, stock_levels and Redis are restored to the
 * ledger (and to `locations` / `location_skus`), leaked carts released and wait queues mended
 * and filled. The run and every drift are recorded in
 * reconcile_runs / reconcile_drifts, and each tenant with drift gets an
 * `inventory.drift-detected`. Memory stays flat: keyset pages of `pageSize` keys.
 */
export async function reconcile(
  deps: ReconcileDeps,
  options: ReconcileOptions = {},
): Promise<ReconcileSummary> {
  const now = options.now ?? Date.now;
  const repair = options.repair ?? false;
  const keep = options.announceDrifts ?? 100;
  const recorder = await RunRecorder.open(deps.knex, { repair, tenant: options.tenant }, now());
  const runId = recorder.runId;
  const log = deps.logger.child({ component: 'reconcile', runId });
  const tally = new RunTally(recorder, keep, now);
  const skipped: ReconcileSummary['skipped'] = [];
  const unloaded: string[] = [];
  let tenants: string[] = [];
  const totals = (): RunTotals => ({
    tenants: tenants.length,
    stockChecked: tally.stockChecked,
    holdsChecked: tally.holdsChecked,
    drifts: tally.drifts,
    repaired: tally.repaired,
  });
  log.info({ repair, tenant: options.tenant }, 'reconciliation started');
  let status: RunStatus;
  try {
    tenants = await tenantsToCheck(deps, options);
    let total = 0;
    for (const t of tenants)
      total += (await countStockLevels(deps.knex, t)) + (await countReservations(deps.knex, t));
    let done = 0;
    const progress = (n: number) => {
      done += n;
      total = Math.max(total, done);
      options.onProgress?.(done, total);
    };
    const checkAborted = () => {
      if (options.signal?.aborted) throw new AbortedError('reconciliation aborted');
    };
    const run: RunContext = { runId, repair, tally, now, progress, checkAborted, log };
    for (const tenant of tenants) {
      checkAborted();
      const found = await reconcileTenant(deps, options, run, tenant);
      if (found.unloaded) unloaded.push(tenant);
      for (const reason of found.skipped) skipped.push({ tenant, reason });
    }
    status = tally.drifts > 0 ? 'drift' : skipped.length > 0 ? 'incomplete' : 'clean';
  } catch (err) {
    const error = toError(err);
    await recorder
      .finish('failed', totals(), now(), error.message)
      .catch((e: unknown) => log.error({ err: toError(e) }, 'could not record the failed run'));
    log.error({ err: error, ...totals() }, 'reconciliation failed');
    throw error;
  }
  const finishedAt = now();
  await recorder.finish(status, totals(), finishedAt);
  const summary: ReconcileSummary = {
    runId,
    repair,
    status,
    startedAt: new Date(recorder.startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    ...totals(),
    byKind: tally.byKind,
    firstDrifts: tally.first,
    skipped,
    unloaded,
  };
  // the drifts themselves are in reconcile_drifts (and the announcement); the log has counts
  const logged = { ...summary, firstDrifts: undefined, ms: finishedAt - recorder.startedAt };
  if (status === 'clean') log.info(logged, 'reconciliation clean');
  else log.warn(logged, `reconciliation: ${status}`);
  return summary;
}

/** What every tenant of one run shares. */
interface RunContext {
  runId: number;
  repair: boolean;
  tally: RunTally;
  now: () => number;
  progress: (n: number) => void;
  checkAborted: () => void;
  log: Logger;
}

/** The tenants a run checks: the one asked for, or every tenant MySQL knows. */
async function tenantsToCheck(deps: ReconcileDeps, options: ReconcileOptions): Promise<string[]> {
  if (options.tenant) return [options.tenant];
  const rows = (await deps.knex('tenant_epochs').select('tenant').orderBy('tenant')) as {
    tenant: string;
  }[];
  return rows.map((r) => r.tenant);
}

/**
 * One tenant's passes (locations, stock, holds, wait queues), then its announcement when it
 * has drift. Returns what the run summary says of it.
 */
async function reconcileTenant(
  deps: ReconcileDeps,
  options: ReconcileOptions,
  run: RunContext,
  tenant: string,
): Promise<{ unloaded: boolean; skipped: string[] }> {
  const { runId, repair, tally, now } = run;
  const scope = new TenantScope(
    tenant,
    deps.knex,
    deps.redis,
    deps.prefix,
    options.pageSize ?? 1000,
    options.maxOutboxEntries ?? 20_000,
  );
  // nothing in Redis to drift: it is loaded from MySQL on the tenant's next event
  const unloaded = !(await deps.redis.hexists(scope.keys.meta, 'epoch'));
  if (unloaded) scope.redisCompared = false;
  tally.startTenant(tenant);
  const ctx: PassContext = {
    scope,
    tally,
    repair,
    recheckDelayMs: options.recheckDelayMs ?? 1000,
    now,
    progress: run.progress,
    signalled: () => options.signal?.aborted ?? false,
    checkAborted: run.checkAborted,
  };
  await reconcileNetwork(ctx);
  await reconcileStock(ctx);
  await reconcileInStock(ctx);
  await reconcileHolds({
    ...ctx,
    leakGraceMs: options.leakGraceMs ?? 60_000,
    cartJobState: deps.cartJobState,
    release: (cartId, expiresAt) =>
      releaseLeakedCart(deps, runId, tenant, cartId, expiresAt, now()),
  });
  await reconcileWaits({
    ...ctx,
    requeue: (sku, locationId, members) =>
      requeueWaiting(deps, runId, tenant, sku, locationId, members, now()),
  });
  const t = tally.endTenant();
  if (t && t.drifts > 0 && deps.publish) {
    try {
      await publishAnnouncement(
        deps.publish,
        driftAnnouncement(runId, repair, t, new Date(now()).toISOString()),
        RECONCILE_SOURCE,
      );
    } catch (err) {
      // the drifts are recorded in MySQL under the run id either way
      run.log.warn(
        { err: toError(err), tenant },
        'inventory.drift-detected not confirmed by the broker',
      );
    }
  }
  return { unloaded, skipped: [...scope.skipped] };
}
