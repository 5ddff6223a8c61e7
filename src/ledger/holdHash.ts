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
}

/**
 * The hold's Redis hash, field for field as saveHold (src/lua/includes/base.lua) writes it:
 * h:/o:/s:/b:/p:<pair> for non-zero held/ordered/shipped/backordered/preordered, st, exp, lk, c,
 * pay, from, to, v.
 */
export function holdFields(r: ReservationRow): string[] {
  const fields: string[] = [];
  const lines = JSON.parse(r.lines) as HoldLine[] | Record<string, never>;
  for (const l of Array.isArray(lines) ? lines : []) {
    const p = pairOf(l.sku, l.locationId);
    if (l.held) fields.push(`h:${p}`, String(l.held));
    if (l.ordered) fields.push(`o:${p}`, String(l.ordered));
    if (l.shipped) fields.push(`s:${p}`, String(l.shipped));
    if (l.backordered) fields.push(`b:${p}`, String(l.backordered));
    if (l.preordered) fields.push(`p:${p}`, String(l.preordered));
  }
  fields.push('st', r.state);
  if (r.expires_at) fields.push('exp', String(r.expires_at.getTime()));
  if (r.link !== null) fields.push('lk', r.link);
  if (r.paid) fields.push('c', '1');
  if (r.payment_id !== null) fields.push('pay', r.payment_id);
  if (r.from_location_id !== null) fields.push('from', r.from_location_id);
  if (r.to_location_id !== null) fields.push('to', r.to_location_id);
  fields.push('v', String(r.version));
  return fields;
}
