/**
 * What a shipment moved, kept in its order's hold (hash field `x:<shipmentId>`, snapshot
 * `shipments`) so that `shipment.cancelled` can undo it exactly. One text shared by the model,
 * the Lua scripts (src/lua/includes/holds.lua) and the ledger, which passes it through:
 *
 *   `s` then, per pair in byte order, `\x1e<held>\x1d<beyond>\x1d<pair>`   a shipment
 *   `c`                                                                  a cancelled one
 *
 * `held`: units the order was owed there (held, or waiting for stock) that shipped: a
 * cancellation puts them back into the hold; `beyond`: units shipped past what the order had,
 * which come back on hand only. Ids are printable (no control characters), so the separators
 * never occur in a pair.
 */
import { compareBytes } from './pairs.js';

export const CANCELLED_SHIPMENT = 'c';

export interface ShipmentLine {
  held: number;
  beyond: number;
}

export function encodeShipment(lines: Map<string, ShipmentLine>): string {
  let out = 's';
  for (const p of [...lines.keys()].sort(compareBytes)) {
    const l = lines.get(p)!;
    out += `\x1e${l.held}\x1d${l.beyond}\x1d${p}`;
  }
  return out;
}

/** The lines of a shipment's record; undefined for a cancelled one. */
export function decodeShipment(text: string): Map<string, ShipmentLine> | undefined {
  if (text === CANCELLED_SHIPMENT) return undefined;
  const lines = new Map<string, ShipmentLine>();
  for (const entry of text.split('\x1e').slice(1)) {
    const [held, beyond, pair] = entry.split('\x1d') as [string, string, string];
    lines.set(pair, { held: Number(held), beyond: Number(beyond) });
  }
  return lines;
}
