import type { HoldSnapshot, OutboxPayload } from '../domain/types.js';

/** Lua's cjson writes an empty list as `{}`: read any non-array as empty. */
const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

/** Parses a payload written by the scripts (outbox entry field `p`). */
export function parsePayload(json: string): OutboxPayload {
  const raw = JSON.parse(json) as OutboxPayload;
  const o = raw.outcome;
  return {
    ...raw,
    outcome: {
      result: o.result,
      ...(o.reason ? { reason: o.reason } : {}),
      ...(o.short ? { short: list(o.short) } : {}),
      ...(o.referenceType ? { referenceType: o.referenceType, referenceId: o.referenceId } : {}),
      ...(o.lowStock ? { lowStock: list(o.lowStock) } : {}),
      ...(o.shortage ? { shortage: list(o.shortage) } : {}),
    },
    movements: list(raw.movements),
    holds: list<HoldSnapshot>(raw.holds).map((h) => ({ ...h, lines: list(h.lines) })),
    config: list(raw.config),
  };
}
