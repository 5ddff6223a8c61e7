import { callScript } from '../engine/call-script.js';
import { pairOf } from '../engine/keys.js';
import type { PassContext } from './pass-context.js';
import { readHashes } from './pending-outbox.js';
import type { TenantScope } from './tenant-scope.js';
import type { Drift } from './types.js';

/**
 * Compares each SKU's count of in-stock locations (the tenant's `instock` hash, which the
 * scripts keep for `inventory.availability-changed` of the SKU's total) with its stock hashes
 * in Redis, SKU page by SKU page. The count follows Redis's figures (the stock pass, run
 * before, restores those to the ledger and moves the count with them), so the truth is
 * counted in Redis, in one atomic step with the stored count (src/lua/countInStock-3+.lua):
 * no second look is needed. The pairs of a SKU are those MySQL knows (`stock_levels`, the
 * ledger) and those the outbox names (read before MySQL: an entry mirrored and deleted meanwhile is in MySQL); a SKU
 * an entry appended since names is left for the next run. With `repair` the count takes the
 * counted value in that same step. Not seen: a count for a SKU that neither MySQL nor the
 * outbox knows.
 */
export async function reconcileInStock(ctx: PassContext): Promise<void> {
  const { scope } = ctx;
  if (!scope.redisCompared) return;
  let after: string | undefined;
  for (;;) {
    ctx.checkAborted();
    const pending = await pendingPairs(scope);
    if (!pending) return;
    const skus = await skuPage(scope, after);
    if (skus.length === 0) {
      // SKUs only the outbox knows yet
      const fresh = await unknownToMysql(scope, [...pending.keys()]);
      if (fresh.length > 0) await check(ctx, fresh, new Map(), pending);
      return;
    }
    const known = await pairsOf(scope, skus[0]!, skus[skus.length - 1]!);
    if (!(await check(ctx, skus, known, pending))) return;
    after = skus[skus.length - 1];
  }
}

/** The pairs the tenant's pending outbox entries move, by SKU; undefined: not comparable. */
async function pendingPairs(scope: TenantScope): Promise<Map<string, Set<string>> | undefined> {
  const read = await readHashes(scope.redis, scope.keys, [], scope.outbox, scope.maxOutboxEntries);
  if (read.epoch === null) {
    scope.stopRedis('tenant not loaded in Redis');
    return undefined;
  }
  if (read.pending === null) {
    scope.stopRedis(`outbox longer than ${scope.maxOutboxEntries} entries: Redis not compared`);
    return undefined;
  }
  const out = new Map<string, Set<string>>();
  for (const e of read.pending)
    for (const m of e.movements) {
      let s = out.get(m.sku);
      if (!s) out.set(m.sku, (s = new Set()));
      s.add(m.locationId);
    }
  return out;
}

/** The next SKUs MySQL knows (a `stock_levels` row or ledger rows), in MySQL's order. */
async function skuPage(scope: TenantScope, after: string | undefined): Promise<string[]> {
  const from = after === undefined ? '' : 'AND sku > ?';
  const args = [scope.tenant, ...(after === undefined ? [] : [after]), scope.pageSize];
  const [rows] = (await scope.knex.raw(
    `(SELECT DISTINCT sku FROM stock_levels WHERE tenant = ? ${from} ORDER BY sku LIMIT ?)
     UNION (SELECT DISTINCT sku FROM inventory_ledger WHERE tenant = ? ${from} ORDER BY sku LIMIT ?)
     ORDER BY sku LIMIT ?`,
    [...args, ...args, scope.pageSize],
  )) as [{ sku: string }[]];
  return rows.map((r) => r.sku);
}

/** The locations MySQL knows for the SKUs from `first` to `last`, by SKU. */
async function pairsOf(
  scope: TenantScope,
  first: string,
  last: string,
): Promise<Map<string, string[]>> {
  const args = [scope.tenant, first, last];
  const [rows] = (await scope.knex.raw(
    `SELECT sku, location_id FROM stock_levels WHERE tenant = ? AND sku >= ? AND sku <= ?
     UNION SELECT DISTINCT sku, location_id FROM inventory_ledger
      WHERE tenant = ? AND sku >= ? AND sku <= ?`,
    [...args, ...args],
  )) as [{ sku: string; location_id: string }[]];
  const out = new Map<string, string[]>();
  for (const r of rows) {
    const l = out.get(r.sku);
    if (l) l.push(r.location_id);
    else out.set(r.sku, [r.location_id]);
  }
  return out;
}

/** Of `skus`, those MySQL knows nothing of (no `stock_levels` row, no ledger rows). */
async function unknownToMysql(scope: TenantScope, skus: string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < skus.length; i += 500) {
    const chunk = skus.slice(i, i + 500);
    const list = chunk.map(() => '?').join(',');
    const [rows] = (await scope.knex.raw(
      `SELECT DISTINCT sku FROM stock_levels WHERE tenant = ? AND sku IN (${list})
       UNION SELECT DISTINCT sku FROM inventory_ledger WHERE tenant = ? AND sku IN (${list})`,
      [scope.tenant, ...chunk, scope.tenant, ...chunk],
    )) as [{ sku: string }[]];
    const found = new Set(rows.map((r) => r.sku));
    out.push(...chunk.filter((s) => !found.has(s)));
  }
  return out;
}

/** Counts the SKUs in Redis and reports (and repairs) the counts that differ. */
async function check(
  ctx: PassContext,
  skus: string[],
  known: Map<string, string[]>,
  pending: Map<string, Set<string>>,
): Promise<boolean> {
  const { scope } = ctx;
  const keys: string[] = [];
  const counts: number[] = [];
  for (const sku of skus) {
    const locs = new Set([...(known.get(sku) ?? []), ...(pending.get(sku) ?? [])]);
    for (const l of locs) keys.push(scope.keys.stock(pairOf(sku, l)));
    counts.push(locs.size);
  }
  const reply = (await callScript(
    scope.redis,
    'countInStock',
    [scope.keys.meta, scope.keys.outbox, scope.keys.inStock, ...keys],
    [JSON.stringify({ skus, pairs: counts, since: scope.outbox.cursor, repair: ctx.repair })],
  )) as [number, number[]?];
  if (reply[0] === -2) {
    scope.skipped.push(
      'SKU totals not compared: the tenant was loaded without its in-stock counts (rebuild it)',
    );
    return false;
  }
  if (reply[0] !== 1) {
    scope.stopRedis('tenant not loaded in Redis');
    return false;
  }
  const found = reply[1]!;
  const drifts: Drift[] = [];
  skus.forEach((sku, i) => {
    const [stored, counted, moved] = [found[3 * i]!, found[3 * i + 1]!, found[3 * i + 2]!];
    if (moved === 1 || stored === counted) return;
    drifts.push({
      tenant: scope.tenant,
      kind: 'in-stock-count',
      sku,
      field: 'inStock',
      redis: stored,
      ledger: counted,
      detail: `locations with available > 0: the SKU's total counts ${stored}, its stock hashes ${counted}`,
      repaired: ctx.repair,
    });
  });
  await ctx.tally.report(drifts);
  return true;
}
