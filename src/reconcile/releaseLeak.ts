import { cartExpiryId } from '../domain/cartExpiry.js';
import type { EventMeta, OutboxPayload } from '../domain/types.js';
import type { Engine } from '../engine/engine.js';
import { toError } from '../errors/toError.js';
import { publishPayload, RECONCILE_SOURCE, type Publish } from './announce.js';

/** Where applied payloads become durable (LedgerWriter). */
export interface PayloadSink {
  write(payload: OutboxPayload, entryId: string): Promise<'committed' | 'duplicate' | 'stale'>;
}

export interface ReleaseDeps {
  engine: Engine;
  writer: PayloadSink;
  publish?: Publish | undefined;
}

/**
 * Releases a leaked cart hold as a real event, as its expiry job would have: the engine's
 * guarded release (only if the cart is still open with that expiry), then the ledger mirror
 * ('expired' movements), then `inventory.expired`. The event id is derived from the run and
 * the cart's expiry, so a retry within the run is a duplicate, never a second release.
 */
export async function releaseLeakedCart(
  deps: ReleaseDeps,
  runId: number,
  tenant: string,
  cartId: string,
  expiresAt: number,
  now: number,
): Promise<{ released: boolean; reason?: string }> {
  const meta: EventMeta = {
    tenant,
    source: RECONCILE_SOURCE,
    id: `run-${runId}-${cartExpiryId({ tenant, cartId, expiresAt })}`,
    type: 'cart.expired',
    occurredAt: new Date(now).toISOString(),
  };
  for (let attempt = 1; attempt <= 3; attempt++) {
    const r = await deps.engine.apply(meta, { op: 'cartExpire', cartId, expiresAt });
    if (r.status === 'not-yet') return { released: false, reason: r.reason };
    const applied =
      r.status === 'applied'
        ? r
        : r.pending
          ? { entryId: r.entryId, payload: r.pending }
          : undefined;
    if (!applied) return { released: false, reason: 'released earlier in this run' };
    // stale: Redis was reloaded under the release, which never reached MySQL: apply again
    if ((await deps.writer.write(applied.payload, applied.entryId)) === 'stale') continue;
    const o = applied.payload.outcome;
    const result =
      o.result === 'applied'
        ? { released: true }
        : { released: false, reason: o.reason ?? o.result };
    try {
      if (deps.publish) await publishPayload(deps.publish, applied.payload);
    } catch (err) {
      // the release is durable; only its announcement is missing, and the drift row says so
      return { ...result, reason: `inventory.expired not confirmed: ${toError(err).message}` };
    }
    return result;
  }
  return { released: false, reason: 'Redis kept being reloaded' };
}
