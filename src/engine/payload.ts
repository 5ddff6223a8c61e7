import type { HoldSnapshot, NetworkChange, OutboxPayload } from '../domain/types.js';

/** Lua's cjson writes an empty list as `{}`: read any non-array as empty. */
const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

/**
 * Parses a payload written by the scripts (outbox entry field `p`). Normalizes the parsed
 * object in place (lists, the outcome's optional fields) rather than copying it: this runs for
 * every event applied.
 */
export function parsePayload(json: string): OutboxPayload {
  const raw = JSON.parse(json) as OutboxPayload;
  const o = raw.outcome;
  raw.outcome = {
    result: o.result,
    ...(o.reason ? { reason: o.reason } : {}),
    ...(o.short ? { short: list(o.short) } : {}),
    ...(o.referenceType ? { referenceType: o.referenceType, referenceId: o.referenceId } : {}),
    ...(o.lowStock ? { lowStock: list(o.lowStock) } : {}),
    ...(o.shortage ? { shortage: list(o.shortage) } : {}),
    ...(o.availability ? { availability: list(o.availability) } : {}),
    ...(o.unstocked ? { unstocked: list(o.unstocked) } : {}),
    ...(o.filled ? { filled: list(o.filled) } : {}),
  };
  raw.movements = list(raw.movements);
  const holds = list<HoldSnapshot>(raw.holds);
  for (const h of holds) h.lines = list(h.lines);
  raw.holds = holds;
  raw.config = list(raw.config);
  const network = list<NetworkChange>(raw.network);
  for (const c of network) if (c.kind === 'location') c.shipsTo = list(c.shipsTo);
  raw.network = network;
  return raw;
}
