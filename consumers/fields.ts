import { z } from 'zod';
import { DEFAULT_LOCATION, type Line } from '../src/domain/types.js';
import { idString, quantity } from '../src/domain/schemas.js';

/** Reusable pieces of event data schemas (unknown extra fields are dropped, not refused). */
export const location = idString.optional().transform((l) => l ?? DEFAULT_LOCATION);

export const line = z.object({ sku: idString, quantity, locationId: location });

export const lines = z
  .array(line)
  .min(1, 'must have at least one line')
  .max(500, 'at most 500 lines');

/** Lines whose location is optional (order.placed, order.updated, shipment.created). */
export const placeableLines = z
  .array(z.object({ sku: idString, quantity, locationId: idString.optional() }))
  .min(1, 'must have at least one line')
  .max(500, 'at most 500 lines');

/**
 * The lines naming a location (`at`, when given, overrides theirs) and those naming none, each
 * in event order.
 */
export function splitLocated(
  ls: { sku: string; quantity: number; locationId?: string | undefined }[],
  at?: string,
): { lines: Line[]; unlocated: { sku: string; quantity: number }[] } {
  const lines: Line[] = [];
  const unlocated: { sku: string; quantity: number }[] = [];
  for (const l of ls) {
    const loc = at ?? l.locationId;
    if (loc !== undefined) lines.push({ sku: l.sku, quantity: l.quantity, locationId: loc });
    else unlocated.push({ sku: l.sku, quantity: l.quantity });
  }
  return { lines, unlocated };
}
