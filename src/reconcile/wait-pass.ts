import { pairOf, splitPair } from '../engine/keys.js';
import { waitingPairsOf } from '../ledger/copy-waits.js';
import type { PassContext } from './pass-context.js';
import { callScript } from '../engine/call-script.js';
import type { TenantScope } from './tenant-scope.js';
import type { Drift } from './types.js';

export interface WaitPassContext extends PassContext {
  /** the repair: op requeueWaiting through the engine, the ledger and the broker */
  requeue: (sku: string, locationId: string, members: string[]) => Promise<{ reason?: string }>;
}

/** One pair's queue as readWaits-3.lua read it. */
interface WaitRead {
  loaded: boolean;
  available: number;
  /** backordered + preordered of the stock hash */
  waiting: number;
  /** holds believed waiting there that wait without being in the queue */
  missing: string[];
}

/** Holds named in one drift's detail, at most. */
const NAMED = 5;

/**
 * Compares each wait queue of the tenant (backorders and pre-orders) with the holds waiting at
 * its pair: every hold waiting there must be in the queue (one outside it would never be
 * filled), and no unit may be available while holds wait (a missed fill). A stock figure or a
 * hold that differs from the ledger is the stock and hold passes' drift, not this one's.
 *
 * The pairs looked at are those whose `stock_levels` row has waiting units, and those where a
 * `reservations` row has a waiting line; the holds of those rows are the ones checked for
 * their place in the queue (a hold waiting in Redis that MySQL does not know yet is not).
 * Redis alone keeps the queues, so each pair is read in one atomic step (readWaits-3.lua) and
 * needs no second look. With `repair`, a pair in drift gets a `requeueWaiting` event: the holds
 * missing from the queue join it, behind the others, and what is available fills the queue, as
 * ledger movements. The drift counts as repaired when a read after it finds the pair clean.
 */
export async function reconcileWaits(ctx: WaitPassContext): Promise<void> {
  const { scope } = ctx;
  if (!scope.redisCompared) return;
  const believed = await waitingHolds(scope);
  for (const pair of await waitingPairs(scope)) if (!believed.has(pair)) believed.set(pair, []);
  const pairs = [...believed.keys()].sort();
  for (let i = 0; i < pairs.length; i += scope.pageSize) {
    ctx.checkAborted();
    const chunk = pairs.slice(i, i + scope.pageSize);
    const reads = await Promise.all(chunk.map((p) => readWaits(scope, p, believed.get(p)!)));
    const drifts: Drift[] = [];
    for (let j = 0; j < chunk.length; j++) {
      const pair = chunk[j]!;
      const read = reads[j]!;
      const problems = problemsOf(read);
      if (problems.length === 0) continue;
      const { sku, locationId } = splitPair(pair);
      const drift: Drift = {
        tenant: scope.tenant,
        kind: 'wait-queue',
        sku,
        locationId,
        field: 'waiting',
        redis: read.waiting,
        detail: problems.join('; '),
        repaired: false,
      };
      if (ctx.repair) {
        const r = await ctx.requeue(sku, locationId, read.missing);
        const left = problemsOf(await readWaits(scope, pair, believed.get(pair)!));
        drift.repaired = left.length === 0;
        if (!drift.repaired) drift.detail += `; after the repair: ${left.join('; ')}`;
        if (r.reason) drift.detail += `; ${r.reason}`;
      }
      drifts.push(drift);
    }
    await ctx.tally.report(drifts);
  }
}

function problemsOf(r: WaitRead): string[] {
  if (!r.loaded) return []; // the tenant left Redis meanwhile: loaded again from the ledger
  const out: string[] = [];
  if (r.missing.length > 0) {
    const named = r.missing.slice(0, NAMED).join(', ');
    const more = r.missing.length > NAMED ? ` and ${r.missing.length - NAMED} more` : '';
    out.push(`${r.missing.length} holds wait here outside the queue (${named}${more})`);
  }
  if (r.waiting > 0 && r.available > 0) {
    out.push(`${r.available} units available while ${r.waiting} wait`);
  }
  return out;
}

async function readWaits(scope: TenantScope, pair: string, members: string[]): Promise<WaitRead> {
  const k = scope.keys;
  const r = (await callScript(
    scope.redis,
    'readWaits',
    [k.meta, k.stock(pair), k.wait(pair)],
    [pair, ...members],
  )) as [string | null, number, number, number, number, number, string[]];
  const [epoch, onHand, reserved, unavailable, backordered, preordered] = r;
  return {
    loaded: epoch !== null,
    available: onHand - reserved - unavailable,
    waiting: backordered + preordered,
    missing: r[6],
  };
}

/** Pairs whose `stock_levels` row has waiting units. */
async function waitingPairs(scope: TenantScope): Promise<string[]> {
  const [rows] = (await scope.knex.raw(
    `SELECT sku, location_id FROM stock_levels
      WHERE tenant = ? AND (backordered > 0 OR preordered > 0)`,
    [scope.tenant],
  )) as [{ sku: string; location_id: string }[]];
  return rows.map((r) => pairOf(r.sku, r.location_id));
}

/** The holds `reservations` says wait, by pair ('cart:<id>' / 'order:<id>'). */
async function waitingHolds(scope: TenantScope): Promise<Map<string, string[]>> {
  const byPair = new Map<string, string[]>();
  for (const kind of ['cart', 'order'] as const) {
    let after = '';
    for (;;) {
      const [rows] = (await scope.knex.raw(
        `SELECT ref_id, \`lines\` FROM reservations
          WHERE tenant = ? AND ref_type = ? AND ref_id > ?
                AND (\`lines\` LIKE '%"backordered"%' OR \`lines\` LIKE '%"preordered"%')
          ORDER BY ref_id LIMIT ?`,
        [scope.tenant, kind, after, scope.pageSize],
      )) as [{ ref_id: string; lines: string }[]];
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.ref_id;
      for (const r of rows) {
        for (const pair of waitingPairsOf(r.lines)) {
          let list = byPair.get(pair);
          if (!list) byPair.set(pair, (list = []));
          list.push(`${kind}:${r.ref_id}`);
        }
      }
    }
  }
  return byPair;
}
