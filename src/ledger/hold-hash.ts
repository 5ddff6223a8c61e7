import { encodeHoldHash, type LineFigure } from '../engine/hold-hash.js';
import { pairOf } from '../engine/keys.js';
import type { HoldLine } from '../domain/types.js';

/** A row of `reservations` as the loader reads it. */
export interface ReservationRow {
  ref_type: string;
  ref_id: string;
  state: string;
  lines: string;
  link: string | null;
  paid: number;
  payment_id: string | null;
  from_location_id: string | null;
  to_location_id: string | null;
  expires_at: Date | null;
  version: number;
  updated_at: Date;
  /** JSON: shipment id → what it moved (migration 033); NULL when none */
  shipments: string | null;
}

/** The hold's Redis hash as the row says it should be (see engine/hold-hash.ts). */
export function holdFields(r: ReservationRow): string[] {
  const lines = new Map<string, Partial<Record<LineFigure, number>>>();
  const parsed = JSON.parse(r.lines) as HoldLine[] | Record<string, never>;
  for (const l of Array.isArray(parsed) ? parsed : []) {
    lines.set(pairOf(l.sku, l.locationId), {
      held: l.held,
      ordered: l.ordered,
      shipped: l.shipped,
      backordered: l.backordered,
      preordered: l.preordered,
    });
  }
  return encodeHoldHash({
    state: r.state,
    ...(r.expires_at ? { expiresAt: r.expires_at.getTime() } : {}),
    ...(r.link !== null ? { link: r.link } : {}),
    paid: Boolean(r.paid),
    ...(r.payment_id !== null ? { paymentId: r.payment_id } : {}),
    ...(r.from_location_id !== null ? { fromLocationId: r.from_location_id } : {}),
    ...(r.to_location_id !== null ? { toLocationId: r.to_location_id } : {}),
    version: r.version,
    lines,
    ...(r.shipments
      ? { shipments: new Map(Object.entries(JSON.parse(r.shipments) as Record<string, string>)) }
      : {}),
  });
}
