import type { ConfigChange, HoldSnapshot, Movement, OutboxPayload } from '../domain/types.js';
import { changeSeq } from './changeSeq.js';
import type { SqlValue } from './sqlBatch.js';
import { entryTimeMs, sqlDateTime, sqlOccurredAt } from './sqlTime.js';

/** One payload waiting to be mirrored, with the outbox entry the script gave it. */
export interface MirrorItem {
  payload: OutboxPayload;
  entryId: string;
}

/** The movement's own quantity, as BI reads `qty`: the figure that kind of movement is about. */
export function headlineQty(m: Movement): number {
  switch (m.kind) {
    case 'reserved':
    case 'released':
    case 'expired':
      return m.reserved;
    case 'committed':
    case 'uncommitted':
      return m.committed;
    case 'transfer_in_transit':
      return m.incoming;
    default:
      return m.onHand;
  }
}

export const PROCESSED_COLUMNS =
  'tenant, event_source, event_id, event_type, result, reason, payload, occurred_at, recorded_at';

export function processedRow(item: MirrorItem, json: string): SqlValue[] {
  const p = item.payload;
  return [
    p.tenant,
    p.source,
    p.id,
    p.type,
    p.outcome.result,
    p.outcome.reason ?? null,
    json,
    sqlOccurredAt(p.occurredAt),
    // when the engine applied it, not when we got round to mirroring: see migration 002
    sqlDateTime(entryTimeMs(item.entryId)),
  ];
}

export const LEDGER_COLUMNS =
  'tenant, sku, location_id, movement, qty, on_hand_delta, reserved_delta, committed_delta, ' +
  'unavailable_delta, incoming_delta, reason, reference_type, reference_id, event_source, ' +
  'event_id, event_type, line_no, occurred_at';

export function ledgerRows(p: OutboxPayload): SqlValue[][] {
  const occurred = sqlOccurredAt(p.occurredAt);
  return p.movements.map((m, lineNo) => [
    p.tenant,
    m.sku,
    m.locationId,
    m.kind,
    headlineQty(m),
    m.onHand,
    m.reserved,
    m.committed,
    m.unavailable,
    m.incoming,
    m.reason ?? '',
    m.referenceType,
    m.referenceId,
    p.source,
    p.id,
    p.type,
    lineNo,
    occurred,
  ]);
}

/** Figures summed per tenant, SKU and location over a batch. */
export interface StockDelta {
  tenant: string;
  sku: string;
  locationId: string;
  onHand: number;
  reserved: number;
  committed: number;
  unavailable: number;
  incoming: number;
}

const SEP = '\x1f';

export function sumDeltas(items: MirrorItem[]): StockDelta[] {
  const sums = new Map<string, StockDelta>();
  for (const { payload: p } of items) {
    for (const m of p.movements) {
      const key = p.tenant + SEP + m.sku + SEP + m.locationId;
      let d = sums.get(key);
      if (!d) {
        d = {
          tenant: p.tenant,
          sku: m.sku,
          locationId: m.locationId,
          onHand: 0,
          reserved: 0,
          committed: 0,
          unavailable: 0,
          incoming: 0,
        };
        sums.set(key, d);
      }
      d.onHand += m.onHand;
      d.reserved += m.reserved;
      d.committed += m.committed;
      d.unavailable += m.unavailable;
      d.incoming += m.incoming;
    }
  }
  // one global key order makes concurrent writers lock rows in the same order (no deadlock)
  return [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d);
}

export interface ConfigRow extends ConfigChange {
  tenant: string;
  seq: string;
}

/** The newest configuration per tenant, SKU and location in the batch. */
export function latestConfig(items: MirrorItem[]): ConfigRow[] {
  const latest = new Map<string, ConfigRow>();
  for (const { payload: p, entryId } of items) {
    const seq = changeSeq(p.epoch, entryId);
    for (const c of p.config) {
      const key = p.tenant + SEP + c.sku + SEP + c.locationId;
      const prev = latest.get(key);
      if (!prev || prev.seq < seq) latest.set(key, { ...c, tenant: p.tenant, seq });
    }
  }
  return [...latest.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
}

export interface HoldRow {
  tenant: string;
  hold: HoldSnapshot;
  seq: string;
  at: string;
}

/** The newest snapshot per hold in the batch. */
export function latestHolds(items: MirrorItem[]): HoldRow[] {
  const latest = new Map<string, HoldRow>();
  for (const { payload: p, entryId } of items) {
    const seq = changeSeq(p.epoch, entryId);
    const at = sqlDateTime(entryTimeMs(entryId));
    for (const h of p.holds) {
      const key = p.tenant + SEP + h.kind + SEP + h.id;
      const prev = latest.get(key);
      if (!prev || prev.seq < seq) latest.set(key, { tenant: p.tenant, hold: h, seq, at });
    }
  }
  return [...latest.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, h]) => h);
}

export const RESERVATION_COLUMNS =
  'tenant, ref_type, ref_id, state, `lines`, link, paid, payment_id, from_location_id, ' +
  'to_location_id, expires_at, version, change_seq, created_at, updated_at';

export function reservationRow(r: HoldRow): SqlValue[] {
  const h = r.hold;
  return [
    r.tenant,
    h.kind,
    h.id,
    h.state,
    JSON.stringify(h.lines),
    h.link ?? null,
    h.paid ? 1 : 0,
    h.paymentId ?? null,
    h.fromLocationId ?? null,
    h.toLocationId ?? null,
    h.expiresAt !== undefined ? sqlDateTime(h.expiresAt) : null,
    h.version,
    r.seq,
    r.at,
    r.at,
  ];
}
