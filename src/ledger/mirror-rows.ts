import type {
  KitTag,
  StockFigures,
  ConfigChange,
  HoldSnapshot,
  Movement,
  Outcome,
  OutboxPayload,
} from '../domain/types.js';
import { ZERO_FIGURES } from '../domain/types.js';
import { compareBytes } from '../domain/pairs.js';
import { changeSeq } from './change-seq.js';
import { sqlEscape as esc, sqlLiteral, sqlNumber as num } from './sql-batch.js';
import { entryTimeMs, sqlDateTime, sqlOccurredAt } from './sql-time.js';

/** One payload waiting to be mirrored, with the outbox entry the script gave it. */
export interface MirrorItem {
  payload: OutboxPayload;
  entryId: string;
}

/**
 * The movement's own quantity, as BI reads `qty`: the figure that kind of movement is about.
 * A hold's units are its reserved and its waiting ones together, so a release counts both;
 * a fill moves waiting units into `reserved`, and counts those.
 */
export function headlineQty(m: Movement): number {
  switch (m.kind) {
    case 'reserved':
    case 'released':
    case 'expired':
      return m.reserved + (m.backordered ?? 0) + (m.preordered ?? 0);
    case 'backordered':
      return m.backordered ?? 0;
    case 'preordered':
      return m.preordered ?? 0;
    case 'filled':
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
  'tenant, event_source, event_id, event_type, result, reason, outcome, payload, occurred_at, recorded_at, trace_id';

/**
 * The outcome as JSON when it says more than `result` and `reason` (short lines, the refused
 * reference, low-stock and shortage lines), else null: the `outcome` column (migration 010).
 */
export function outcomeDetail(o: Outcome): string | null {
  for (const key of Object.keys(o)) {
    if (key !== 'result' && key !== 'reason') return JSON.stringify(o);
  }
  return null;
}

/**
 * The event's row of processed_events, as a `(…)` tuple: a compact record, not the payload
 * (migration 010). Its movements go to the ledger, its snapshots to reservations;
 * `findPayload` puts back together what a duplicate re-announces from this row and the
 * ledger's.
 */
export function processedTuple(item: MirrorItem): string {
  const p = item.payload;
  const o = p.outcome;
  return (
    `('${esc(p.tenant)}','${esc(p.source)}','${esc(p.id)}','${esc(p.type)}','${esc(o.result)}',` +
    `${sqlLiteral(o.reason ?? null)},${sqlLiteral(outcomeDetail(o))},'',` +
    `${sqlLiteral(sqlOccurredAt(p.occurredAt))},` +
    // when the engine applied it, not when we got round to mirroring: see migration 002
    `'${sqlDateTime(entryTimeMs(item.entryId))}',` +
    // hex digits only (domain/trace-context.ts): see migration 031
    `${sqlLiteral(p.traceId ?? null)})`
  );
}

export const LEDGER_COLUMNS =
  'tenant, sku, location_id, movement, qty, on_hand_delta, reserved_delta, committed_delta, ' +
  'unavailable_delta, incoming_delta, reason, reference_type, reference_id, event_source, ' +
  'event_id, event_type, line_no, occurred_at, event_ref, backordered_delta, preordered_delta, ' +
  'kit, kit_qty';

/**
 * Appends the payload's ledger rows to `out` as `(…)` tuples; `eventRef` is the id of its
 * processed_events row (migration 011) as SQL: a number, or an expression that computes it
 * in the query that records the event (commit-batch.ts).
 */
export function ledgerTuples(p: OutboxPayload, eventRef: string, out: string[]): void {
  if (p.movements.length === 0) return;
  // what every line of the event shares, before and after its line number
  const tenant = `'${esc(p.tenant)}'`;
  const event = `'${esc(p.source)}','${esc(p.id)}','${esc(p.type)}',`;
  const end = `,${sqlLiteral(sqlOccurredAt(p.occurredAt))},${eventRef},`;
  const kitOf = p.kits ? kitRows(p.kits) : undefined;
  p.movements.forEach((m, lineNo) => {
    out.push(
      `(${tenant},'${esc(m.sku)}','${esc(m.locationId)}','${esc(m.kind)}',${num(headlineQty(m))},` +
        `${num(m.onHand)},${num(m.reserved)},${num(m.committed)},${num(m.unavailable)},` +
        `${num(m.incoming)},'${esc(m.reason ?? '')}','${esc(m.referenceType)}',` +
        `'${esc(m.referenceId)}',${event}${lineNo}${end}` +
        `${num(m.backordered ?? 0)},${num(m.preordered ?? 0)},${kitOf ? kitOf(m) : 'NULL,NULL'})`,
    );
  });
}

/**
 * The `kit, kit_qty` of each movement of an event whose lines named kits: a component's rows
 * name its kit (the first in byte order when two of the event's kits share it) and give each
 * row, of each kind of movement in turn, as many of the kit's units as are left, at most the
 * row's own.
 */
function kitRows(tags: KitTag[]): (m: Movement) => string {
  const first = new Map<string, KitTag>();
  for (const t of tags) {
    const had = first.get(t.sku);
    if (!had || compareBytes(t.kit, had.kit) < 0) first.set(t.sku, t);
  }
  const used = new Map<string, number>();
  return (m) => {
    const t = first.get(m.sku);
    if (!t) return 'NULL,NULL';
    const units = Math.abs(headlineQty(m));
    let n = units;
    if (t.quantity !== undefined) {
      const key = m.kind + SEP + m.sku;
      const u = used.get(key) ?? 0;
      n = Math.min(units, Math.max(t.quantity - u, 0));
      used.set(key, u + n);
    }
    return `'${esc(t.kit)}',${num(n)}`;
  };
}

/** Figures summed per tenant, SKU and location over a batch. */
export interface StockDelta extends StockFigures {
  tenant: string;
  sku: string;
  locationId: string;
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
          ...ZERO_FIGURES,
        };
        sums.set(key, d);
      }
      d.onHand += m.onHand;
      d.reserved += m.reserved;
      d.committed += m.committed;
      d.unavailable += m.unavailable;
      d.incoming += m.incoming;
      // absent when 0 (and in payloads of scripts older than the field)
      if (m.backordered) d.backordered += m.backordered;
      if (m.preordered) d.preordered += m.preordered;
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
    if (p.config.length === 0) continue;
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
    if (p.holds.length === 0) continue;
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
  'to_location_id, expires_at, version, change_seq, created_at, updated_at, shipments';

export function reservationTuple(r: HoldRow): string {
  const h = r.hold;
  return (
    `('${esc(r.tenant)}','${esc(h.kind)}','${esc(h.id)}','${esc(h.state)}',` +
    `'${esc(JSON.stringify(h.lines))}',${sqlLiteral(h.link ?? null)},${h.paid ? 1 : 0},` +
    `${sqlLiteral(h.paymentId ?? null)},${sqlLiteral(h.fromLocationId ?? null)},` +
    `${sqlLiteral(h.toLocationId ?? null)},` +
    `${h.expiresAt !== undefined ? `'${sqlDateTime(h.expiresAt)}'` : 'NULL'},` +
    `${num(h.version)},'${r.seq}','${r.at}','${r.at}',` +
    `${h.shipments ? `'${esc(JSON.stringify(h.shipments))}'` : 'NULL'})`
  );
}
