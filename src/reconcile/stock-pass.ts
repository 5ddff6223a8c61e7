import { pairOf, splitPair } from '../engine/keys.js';
import { stockDrifts } from './stock-check.js';
import { scanTenant, type PassContext } from './pass-context.js';
import { Recheck, type Suspect } from './drift-recheck.js';
import { repairPair } from './stock-repair.js';
import { openStockPage, readStockPairs, type PairState, type StockPage } from './stock-state.js';
import { knownPairs, type PairKey } from './stock-sql.js';
import type { Drift, DriftKind } from './types.js';

const REDIS_KINDS = new Set<DriftKind>(['redis-vs-ledger', 'redis-missing', 'mysql-missing']);
/** Looks at a pair whose Redis repair keeps losing to live events before giving up. */
const MAX_ATTEMPTS = 3;

/**
 * Compares every stock pair of the tenant: a keyset pass over the union of stock_levels and
 * the ledger's pairs (each page one snapshot and one Redis script call), then, if Redis has
 * more stock hashes than the pass found, a SCAN for the ones MySQL does not know. Suspected
 * drift is looked at again after `recheckDelayMs` and recorded (and repaired) only if it is
 * still there.
 */
export async function reconcileStock(ctx: PassContext): Promise<void> {
  const { scope } = ctx;
  const recheck: Recheck<PairKey> = new Recheck(
    ctx.recheckDelayMs,
    scope.pageSize,
    (p) => pairOf(p.sku, p.locationId),
    (batch) => confirm(ctx, recheck, batch),
    ctx.now,
  );
  let inRedis = 0;
  let page: StockPage | undefined = await openStockPage(scope, undefined);
  while (page) {
    // the next page's MySQL reads overlap this page's Redis read
    const following: Promise<StockPage> | undefined = page.next
      ? openStockPage(scope, page.next)
      : undefined;
    let states: PairState[];
    try {
      if (ctx.signalled()) {
        await page.abandon();
        ctx.checkAborted();
      }
      states = await page.complete();
    } catch (err) {
      await following?.then((p) => p.abandon()).catch(() => undefined);
      throw err;
    }
    for (const s of states) {
      if (s.redis?.exists) inRedis++;
      if (stockDrifts(scope.tenant, s).length > 0)
        await recheck.add({ sku: s.sku, locationId: s.locationId });
    }
    ctx.tally.stockChecked += states.length;
    ctx.progress(states.length);
    page = await following;
  }
  if (scope.redisCompared) await findUnknownStock(ctx, recheck, inRedis);
  await recheck.flush();
}

/**
 * Stock hashes of pairs MySQL has neither a row nor ledger rows for. Scripts never delete
 * stock hashes, so when Redis has no more of them than the pass saw, there is none to find.
 */
async function findUnknownStock(
  ctx: PassContext,
  recheck: Recheck<PairKey>,
  seen: number,
): Promise<void> {
  const { scope } = ctx;
  const prefix = `${scope.keys.base}stock:`;
  let count = 0;
  await scanTenant(scope.redis, scope, 'stock:', async (keys) => {
    count += keys.length;
  });
  if (count <= seen) return;
  await scanTenant(scope.redis, scope, 'stock:', async (keys) => {
    ctx.checkAborted();
    const pairs = keys.map((k) => splitPair(k.slice(prefix.length)));
    for (let i = 0; i < pairs.length; i += scope.pageSize) {
      const chunk = pairs.slice(i, i + scope.pageSize);
      const known = await knownPairs(scope.knex, scope.tenant, chunk);
      for (const p of chunk) {
        if (known.has(pairOf(p.sku, p.locationId))) continue;
        ctx.tally.stockChecked++;
        await recheck.add(p);
      }
    }
  });
}

async function confirm(
  ctx: PassContext,
  recheck: Recheck<PairKey>,
  batch: Suspect<PairKey>[],
): Promise<void> {
  const { scope } = ctx;
  const attempts = new Map(batch.map((b) => [pairOf(b.item.sku, b.item.locationId), b.attempt]));
  const states = await readStockPairs(
    scope,
    batch.map((b) => b.item),
  );
  const confirmed: Drift[] = [];
  for (const s of states) {
    let drifts = stockDrifts(scope.tenant, s);
    if (drifts.length === 0) continue;
    // the detection reads race the mirror: what is recorded is what the exact read under the
    // tenant's lock finds (and repairs, with --repair)
    const again = await repair(ctx, s, drifts);
    drifts = again.drifts;
    if (again.retry) {
      // Redis kept changing under the repair: what is settled is recorded now, Redis later
      const attempt = attempts.get(s.pair) ?? 0;
      if (attempt + 1 < MAX_ATTEMPTS) {
        confirmed.push(...drifts.filter((d) => !REDIS_KINDS.has(d.kind)));
        await recheck.add({ sku: s.sku, locationId: s.locationId }, attempt + 1);
        continue;
      }
      for (const d of drifts) {
        if (REDIS_KINDS.has(d.kind))
          d.detail = [d.detail, 'not repaired: the hash kept changing'].filter(Boolean).join('; ');
      }
    }
    confirmed.push(...drifts);
  }
  await ctx.tally.report(confirmed);
}

/**
 * Reads the pair exactly and repairs it with --repair (see repairPair), marking what it
 * repaired. A part that the exact read
 * under the tenant's lock finds clean was a race of the detection reads: it is dropped, and so
 * is a figure that the exact read found right while another figure of the pair was wrong.
 */
async function repair(
  ctx: PassContext,
  s: PairState,
  drifts: Drift[],
): Promise<{ drifts: Drift[]; retry: boolean }> {
  const levels = drifts.some((d) => d.kind === 'stock-levels-vs-ledger');
  const redis = drifts.some((d) => REDIS_KINDS.has(d.kind));
  const done = await repairPair(ctx.scope, s, { levels, redis, dryRun: !ctx.repair });
  const store = (d: Drift) => (REDIS_KINDS.has(d.kind) ? done.redis : done.levels);
  const kept = drifts.filter((d) => {
    const { outcome, fields } = store(d);
    if (outcome === 'clean') return false;
    return (
      (outcome !== 'repaired' && outcome !== 'drift') ||
      d.field === undefined ||
      (fields as string[]).includes(d.field)
    );
  });
  for (const d of kept) {
    const { outcome } = store(d);
    if (outcome === 'repaired') d.repaired = true;
    if (outcome === 'skipped' && ctx.repair)
      d.detail = [d.detail, 'not repaired: tenant no longer loaded'].filter(Boolean).join('; ');
  }
  return { drifts: kept, retry: done.redis.outcome === 'changed' };
}
