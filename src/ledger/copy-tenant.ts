import type { RedisClient } from '../engine/redis-client.js';
import type { Knex } from 'knex';
import type { HoldKind } from '../domain/types.js';
import { pairOf, type TenantKeys } from '../engine/keys.js';
import { holdFields, type ReservationRow } from './hold-hash.js';
import { sqlDateTime } from './sql-time.js';

/**
 * Copies one tenant's MySQL state into Redis, page by page (keyset pagination, so memory stays
 * flat whatever the size), one pipeline per page. Runs inside the loader's transaction, whose
 * snapshot makes every page agree with the others.
 */
export interface CopyContext {
  trx: Knex.Transaction;
  redis: RedisClient;
  keys: TenantKeys;
  /** the de-duplication window, ms */
  windowMs: number;
  now: number;
  pageSize: number;
}

async function run(pipeline: ReturnType<RedisClient['pipeline']>): Promise<void> {
  const replies = (await pipeline.exec()) ?? [];
  const failed = replies.find(([e]) => e);
  if (failed) throw failed[0];
}

interface StockRow {
  sku: string;
  location_id: string;
  on_hand: number | string;
  reserved: number | string;
  committed: number | string;
  unavailable: number | string;
  incoming: number | string;
  backordered: number | string;
  preordered: number | string;
  reorder_level: number | null;
  reorder_quantity: number | null;
  policy: string;
  policy_limit: number | string;
  preorder_until: Date | null;
}

export async function copyStock(c: CopyContext): Promise<number> {
  let copied = 0;
  let after: [string, string] | undefined;
  for (;;) {
    const [rows] = (await c.trx.raw(
      `SELECT sku, location_id, on_hand, reserved, committed, unavailable, incoming,
              backordered, preordered, reorder_level, reorder_quantity, policy, policy_limit,
              preorder_until
         FROM stock_levels
        WHERE tenant = ? ${after ? 'AND (sku > ? OR (sku = ? AND location_id > ?))' : ''}
        ORDER BY sku, location_id LIMIT ?`,
      [c.keys.tenant, ...(after ? [after[0], after[0], after[1]] : []), c.pageSize],
    )) as [StockRow[]];
    if (rows.length === 0) return copied;
    const pipeline = c.redis.pipeline();
    for (const r of rows) {
      const fields: (string | number)[] = [
        'onHand',
        String(r.on_hand),
        'reserved',
        String(r.reserved),
        'committed',
        String(r.committed),
        'unavailable',
        String(r.unavailable),
        'incoming',
        String(r.incoming),
        'backordered',
        String(r.backordered),
        'preordered',
        String(r.preordered),
      ];
      if (r.reorder_level !== null) fields.push('reorderLevel', r.reorder_level);
      if (r.reorder_quantity !== null) fields.push('reorderQuantity', r.reorder_quantity);
      fields.push(...policyFields(r));
      pipeline.hset(c.keys.stock(pairOf(r.sku, r.location_id)), ...fields);
      // the SKU's count of in-stock locations (the keys were deleted before the copy)
      if (Number(r.on_hand) - Number(r.reserved) - Number(r.unavailable) > 0)
        pipeline.hincrby(c.keys.inStock, r.sku, 1);
    }
    await run(pipeline);
    copied += rows.length;
    const last = rows[rows.length - 1]!;
    after = [last.sku, last.location_id];
  }
}

/**
 * The selling policy as configureStock keeps it in the stock hash: `pol` absent for deny,
 * `plim` absent for 0, `pto` (ms) absent for no end.
 */
export function policyFields(r: {
  policy: string;
  policy_limit: number | string;
  preorder_until: Date | null;
}): string[] {
  const out: string[] = [];
  if (r.policy !== 'deny') out.push('pol', r.policy);
  if (Number(r.policy_limit) !== 0) out.push('plim', String(r.policy_limit));
  if (r.preorder_until) out.push('pto', String(r.preorder_until.getTime()));
  return out;
}

/**
 * The holds Redis still has: every one saveHold keeps without expiry, and the ones it gives the
 * de-duplication window (converted carts, cancelled orders, orders whose payment failed
 * before they were placed) while that window lasts. Released and expired carts were deleted.
 */
const LIVE_HOLDS: { kind: HoldKind; state: string; windowed: boolean }[] = [
  { kind: 'cart', state: 'open', windowed: false },
  { kind: 'cart', state: 'converted', windowed: true },
  ...['placed', 'paid', 'released', 'fulfilled', 'prepaid'].map((state) => ({
    kind: 'order' as const,
    state,
    windowed: false,
  })),
  { kind: 'order', state: 'cancelled', windowed: true },
  { kind: 'order', state: 'payfailed', windowed: true },
  // receiveTransfer saves without expiry: a received transfer stays, so a late
  // transfer.received is ignored rather than waiting for a shipment for ever
  { kind: 'transfer', state: 'shipped', windowed: false },
  { kind: 'transfer', state: 'received', windowed: false },
];

export async function copyHolds(c: CopyContext): Promise<number> {
  const cutoff = sqlDateTime(c.now - c.windowMs);
  let copied = 0;
  for (const { kind, state, windowed } of LIVE_HOLDS) {
    let after = '';
    for (;;) {
      const [rows] = (await c.trx.raw(
        `SELECT ref_type, ref_id, state, \`lines\`, link, paid, payment_id, from_location_id,
                to_location_id, expires_at, version, updated_at, shipments
           FROM reservations
          WHERE tenant = ? AND state = ? AND ref_type = ? AND ref_id > ?
                ${windowed ? 'AND updated_at > ?' : ''}
          ORDER BY ref_id LIMIT ?`,
        [c.keys.tenant, state, kind, after, ...(windowed ? [cutoff] : []), c.pageSize],
      )) as [ReservationRow[]];
      if (rows.length === 0) break;
      const pipeline = c.redis.pipeline();
      for (const r of rows) {
        const key =
          kind === 'cart'
            ? c.keys.cart(r.ref_id)
            : kind === 'order'
              ? c.keys.order(r.ref_id)
              : c.keys.transfer(r.ref_id);
        pipeline.hset(key, ...holdFields(r));
        if (windowed) pipeline.pexpireat(key, r.updated_at.getTime() + c.windowMs);
        // the scripts keep open carts in the expiry set; a loaded tenant starts with it whole
        if (kind === 'cart' && state === 'open' && r.expires_at)
          pipeline.zadd(c.keys.cartExpiries, r.expires_at.getTime(), r.ref_id);
      }
      await run(pipeline);
      copied += rows.length;
      after = rows[rows.length - 1]!.ref_id;
    }
  }
  return copied;
}

/**
 * A marker per event applied within the window, expiring when the original would have. Its
 * value '0-1' is a stream id that never exists, so a duplicate is answered without a payload.
 */
export const LOADED_MARKER = '0-1';

export async function copyMarkers(c: CopyContext): Promise<number> {
  const cutoff = sqlDateTime(c.now - c.windowMs);
  let copied = 0;
  let after: [string, number] | undefined;
  for (;;) {
    const [rows] = (await c.trx.raw(
      `SELECT id, event_source, event_id, recorded_at
         FROM processed_events
        WHERE tenant = ? AND recorded_at > ?
              ${after ? 'AND (recorded_at > ? OR (recorded_at = ? AND id > ?))' : ''}
        ORDER BY recorded_at, id LIMIT ?`,
      [c.keys.tenant, cutoff, ...(after ? [after[0], after[0], after[1]] : []), c.pageSize],
    )) as [{ id: number; event_source: string; event_id: string; recorded_at: Date }[]];
    if (rows.length === 0) return copied;
    const pipeline = c.redis.pipeline();
    for (const r of rows) {
      const expiresAt = r.recorded_at.getTime() + c.windowMs;
      pipeline.set(c.keys.marker(r.event_source, r.event_id), LOADED_MARKER, 'PXAT', expiresAt);
    }
    await run(pipeline);
    copied += rows.length;
    const last = rows[rows.length - 1]!;
    after = [sqlDateTime(last.recorded_at.getTime()), last.id];
  }
}
