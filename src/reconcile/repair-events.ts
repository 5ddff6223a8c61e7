import { createHash } from 'node:crypto';
import { cartExpiryId } from '../domain/cart-expiry.js';
import type { Command, EventMeta, LedgerSink, Outcome } from '../domain/types.js';
import type { Engine } from '../engine/engine.js';
import { toError } from '../errors/to-error.js';
import { publishPayload, RECONCILE_SOURCE, type Publish } from './announcements.js';

export interface RepairDeps {
  engine: Engine;
  writer: LedgerSink;
  publish?: Publish | undefined;
}

/** What a repair event came to: its outcome once durable, or why there is none. */
type RepairResult = { outcome: Outcome; reason?: string } | { outcome?: undefined; reason: string };

/**
 * Applies a repair as a real event, as the worker applies one: the engine's script, then the
 * ledger mirror, then the announcements. The event id is derived from the run and what is
 * repaired, so a retry within the run is a duplicate, never a second repair.
 */
async function applyRepair(
  deps: RepairDeps,
  meta: EventMeta,
  command: Command,
): Promise<RepairResult> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const r = await deps.engine.apply(meta, command);
    if (r.status === 'not-yet') return { reason: r.reason };
    const applied =
      r.status === 'applied'
        ? r
        : r.pending
          ? { entryId: r.entryId, payload: r.pending }
          : undefined;
    if (!applied) return { reason: 'repaired earlier in this run' };
    // stale: Redis was reloaded under the repair, which never reached MySQL: apply again
    if ((await deps.writer.write(applied.payload, applied.entryId)) === 'stale') continue;
    const outcome = applied.payload.outcome;
    try {
      if (deps.publish) await publishPayload(deps.publish, applied.payload);
    } catch (err) {
      // the repair is durable; only its announcements are missing, and the drift row says so
      return { outcome, reason: `announcement not confirmed: ${toError(err).message}` };
    }
    return { outcome };
  }
  return { reason: 'Redis kept being reloaded' };
}

const repairMeta = (runId: number, tenant: string, id: string, type: string, now: number) => ({
  tenant,
  source: RECONCILE_SOURCE,
  id: `run-${runId}-${id}`,
  type,
  occurredAt: new Date(now).toISOString(),
});

/**
 * Releases a leaked cart hold as its expiry job would have: the engine's guarded release (only
 * if the cart is still open with that expiry), 'expired' movements, `inventory.expired`.
 */
export async function releaseLeakedCart(
  deps: RepairDeps,
  runId: number,
  tenant: string,
  cartId: string,
  expiresAt: number,
  now: number,
): Promise<{ released: boolean; reason?: string }> {
  const id = cartExpiryId({ tenant, cartId, expiresAt });
  const r = await applyRepair(deps, repairMeta(runId, tenant, id, 'cart.expired', now), {
    op: 'releaseCart',
    mode: 'expire',
    cartId,
    expiresAt,
  });
  if (!r.outcome) return { released: false, reason: r.reason };
  const o = r.outcome;
  if (o.result !== 'applied') return { released: false, reason: o.reason ?? o.result };
  return r.reason ? { released: true, reason: r.reason } : { released: true };
}

/**
 * Queues again the holds of `members` that wait at the pair without being in its queue, then
 * fills what is available there ('filled' movements, `inventory.filled`): op requeueWaiting.
 */
export async function requeueWaiting(
  deps: RepairDeps,
  runId: number,
  tenant: string,
  sku: string,
  locationId: string,
  members: string[],
  now: number,
): Promise<{ reason?: string }> {
  // ids are printable: the pair (with its separator) goes in as a digest
  const digest = createHash('sha1').update(`${sku}\x1f${locationId}`).digest('hex');
  const meta = repairMeta(runId, tenant, `wait-${digest}`, 'reconcile.wait-repair', now);
  const r = await applyRepair(deps, meta, { op: 'requeueWaiting', sku, locationId, members });
  return r.reason ? { reason: r.reason } : {};
}
