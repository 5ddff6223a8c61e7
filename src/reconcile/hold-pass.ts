import { expiryJobId } from '../domain/cart-expiry.js';
import { holdDrifts, type HoldCheck } from './hold-check.js';
import { HOLD_KINDS, knownRefs } from './hold-sql.js';
import { readHoldPage, readHolds, type HoldKey } from './hold-state.js';
import { scanTenant, type PassContext } from './pass-context.js';
import { holdRef } from './pending-outbox.js';
import { Recheck, type Suspect } from './drift-recheck.js';
import type { Drift } from './types.js';

/** BullMQ states of a job that will still run. */
const DUE = new Set(['delayed', 'waiting', 'active', 'prioritized', 'waiting-children']);

export interface HoldPassContext extends PassContext {
  leakGraceMs: number;
  /** state of a cart-expiry job by id ('unknown' when there is none) */
  cartJobState: (jobId: string) => Promise<string>;
  /** releases a leaked cart through the engine (repair) */
  release: (cartId: string, expiresAt: number) => Promise<{ released: boolean; reason?: string }>;
}

const suspicious = (c: HoldCheck) => c.drifts.length > 0 || c.leak !== undefined;

/**
 * Compares every cart and order of the tenant: a keyset pass per kind over the union of
 * reservations rows and the ledger's references, then a SCAN for Redis holds MySQL does not
 * know. Suspects are looked at again after `recheckDelayMs`.
 */
export async function reconcileHolds(ctx: HoldPassContext): Promise<void> {
  const { scope } = ctx;
  const recheck: Recheck<HoldKey> = new Recheck(
    ctx.recheckDelayMs,
    scope.pageSize,
    (k) => holdRef(k.kind, k.id),
    (batch) => confirm(ctx, recheck, batch),
    ctx.now,
  );
  for (const kind of HOLD_KINDS) {
    let after: string | undefined;
    do {
      ctx.checkAborted();
      const page = await readHoldPage(scope, kind, after);
      const keys = page.ids.map((id) => ({ kind, id }));
      const states = await readHolds(scope, keys);
      const now = ctx.now();
      for (const k of keys) {
        const s = states.get(holdRef(k.kind, k.id))!;
        if (suspicious(holdDrifts(scope.tenant, s, states, now, ctx.leakGraceMs)))
          await recheck.add(k);
      }
      ctx.tally.holdsChecked += keys.length;
      ctx.progress(keys.length);
      after = page.next;
    } while (after !== undefined);
  }
  if (scope.redisCompared) await findUnknownHolds(ctx, recheck);
  await recheck.flush();
}

/** The hold's reservations row version now (outside any snapshot), null without a row. */
async function rowVersion(ctx: HoldPassContext, k: HoldKey): Promise<number | null> {
  const row = (await ctx.scope
    .knex('reservations')
    .where({ tenant: ctx.scope.tenant, ref_type: k.kind, ref_id: k.id })
    .first('version')) as { version: number | string } | undefined;
  return row ? Number(row.version) : null;
}

/** Redis holds with neither a reservations row nor ledger rows. */
async function findUnknownHolds(ctx: HoldPassContext, recheck: Recheck<HoldKey>): Promise<void> {
  const { scope } = ctx;
  for (const kind of HOLD_KINDS) {
    const prefix = `${scope.keys.base}${kind}:`;
    await scanTenant(scope.redis, scope, `${kind}:`, async (keys) => {
      ctx.checkAborted();
      const ids = keys.map((k) => k.slice(prefix.length));
      for (let i = 0; i < ids.length; i += scope.pageSize) {
        const chunk = ids.slice(i, i + scope.pageSize);
        const known = await knownRefs(scope.knex, scope.tenant, kind, chunk);
        for (const id of chunk) {
          if (known.has(id)) continue;
          ctx.tally.holdsChecked++;
          await recheck.add({ kind, id });
        }
      }
    });
  }
}

/** Looks at a hold that keeps changing under the reads this many times before reporting it. */
const MAX_LOOKS = 5;

async function confirm(
  ctx: HoldPassContext,
  recheck: Recheck<HoldKey>,
  batch: Suspect<HoldKey>[],
): Promise<void> {
  const { scope } = ctx;
  const states = await readHolds(
    scope,
    batch.map((b) => b.item),
  );
  const now = ctx.now();
  const confirmed: Drift[] = [];
  for (const { item, attempt } of batch) {
    const s = states.get(holdRef(item.kind, item.id));
    if (!s) continue;
    const check = holdDrifts(scope.tenant, s, states, now, ctx.leakGraceMs);
    // MySQL is read in a snapshot, then Redis: an event of this hold committed in between (its
    // outbox entry gone) looks like drift. When the hold's row moved since the snapshot, look
    // again later instead (a busy hold can be caught so on every look: a few looks only).
    if (
      check.drifts.length > 0 &&
      attempt + 1 < MAX_LOOKS &&
      (await rowVersion(ctx, item)) !== (s.row ? Number(s.row.version) : null)
    ) {
      await recheck.add(item, attempt + 1);
      continue;
    }
    confirmed.push(...check.drifts);
    const leak = check.leak;
    if (!leak) continue;
    const jobId = expiryJobId({
      tenant: scope.tenant,
      cartId: s.id,
      expiresAt: leak.expiresAt,
    });
    const job = await ctx.cartJobState(jobId);
    if (DUE.has(job)) continue;
    const drift: Drift = {
      tenant: scope.tenant,
      kind: 'leaked-cart',
      referenceType: 'cart',
      referenceId: s.id,
      field: 'held',
      ledger: leak.ledger,
      ...(leak.from === 'redis' ? { redis: leak.held } : { reservations: leak.held }),
      detail:
        `expired at ${new Date(leak.expiresAt).toISOString()} (${Math.round((now - leak.expiresAt) / 1000)} s ago); ` +
        `expiry job ${jobId}: ${job === 'unknown' ? 'none' : job}`,
      repaired: false,
    };
    if (ctx.repair) {
      const r = await ctx.release(s.id, leak.expiresAt);
      drift.repaired = r.released;
      if (!r.released) drift.detail += `; not released: ${r.reason ?? 'unknown'}`;
      else if (r.reason) drift.detail += `; released, but ${r.reason}`;
    }
    confirmed.push(drift);
  }
  await ctx.tally.report(confirmed);
}
