import type { Movement, MovementKind, OutboxPayload } from './types.js';

/** An event the worker publishes on `inventory.events` (routing key = type). */
export interface Announcement {
  type: string;
  /** deterministic: the same input event always yields the same ids (consumers can dedupe) */
  id: string;
  tenant: string;
  time: string;
  data: Record<string, unknown>;
}

const ANNOUNCED: Partial<Record<MovementKind, string>> = {
  reserved: 'inventory.reserved',
  released: 'inventory.released',
  expired: 'inventory.expired',
  committed: 'inventory.committed',
  shipped: 'inventory.fulfilled',
};

const headline = (m: Movement): number =>
  m.kind === 'committed' ? m.committed : m.kind === 'shipped' ? -m.onHand : Math.abs(m.reserved);

/** What the worker tells the world about one applied event. Pure. */
export function announce(p: OutboxPayload, time = new Date().toISOString()): Announcement[] {
  const out: Announcement[] = [];
  const cause = { causationId: p.id, causationSource: p.source, causationType: p.type };
  const add = (type: string, data: Record<string, unknown>) =>
    out.push({ type, id: `${p.source}#${p.id}#${out.length}`, tenant: p.tenant, time, data });

  if (p.outcome.result === 'rejected' && p.outcome.short?.length) {
    add('inventory.reservation-failed', {
      ...cause,
      reason: p.outcome.reason,
      referenceType: p.outcome.referenceType,
      referenceId: p.outcome.referenceId,
      lines: p.outcome.short,
    });
  }
  // a cart or order naming a SKU-location its network does not stock was not reserved either
  const ref = p.outcome.referenceType;
  if (p.outcome.unstocked?.length && (ref === 'cart' || ref === 'order')) {
    add('inventory.reservation-failed', {
      ...cause,
      reason: p.outcome.reason,
      referenceType: ref,
      referenceId: p.outcome.referenceId,
      lines: p.outcome.unstocked.map((u) => ({ ...u, available: 0 })),
    });
  }
  // One announcement per (kind, reference), lines in movement order.
  const groups = new Map<string, { type: string; m: Movement; lines: object[] }>();
  for (const m of p.movements) {
    const type = ANNOUNCED[m.kind];
    if (!type) continue;
    const key = `${type}\x1f${m.referenceType}\x1f${m.referenceId}`;
    const g = groups.get(key) ?? { type, m, lines: [] };
    g.lines.push({ sku: m.sku, locationId: m.locationId, quantity: headline(m) });
    groups.set(key, g);
  }
  // An order's inventory.reserved lists its whole hold (a cart's hold it took over included),
  // not only the units reserved by this event: the platform ships from what it names.
  for (const h of p.holds) {
    if (h.kind !== 'order' || (h.state !== 'placed' && h.state !== 'paid')) continue;
    if (
      p.type !== 'order.placed' &&
      !p.movements.some((m) => m.kind === 'reserved' && m.referenceId === h.id)
    )
      continue;
    const key = `inventory.reserved\x1forder\x1f${h.id}`;
    const lines = h.lines
      .filter((l) => l.held > 0)
      .map((l) => ({ sku: l.sku, locationId: l.locationId, quantity: l.held }));
    if (lines.length === 0) continue;
    const m =
      groups.get(key)?.m ?? ({ referenceType: 'order', referenceId: h.id, reason: '' } as Movement);
    groups.set(key, { type: 'inventory.reserved', m, lines });
  }
  for (const g of groups.values()) {
    add(g.type, {
      ...cause,
      referenceType: g.m.referenceType,
      referenceId: g.m.referenceId,
      ...(g.m.reason ? { reason: g.m.reason } : {}),
      lines: g.lines,
    });
  }
  for (const l of p.outcome.lowStock ?? []) add('inventory.low-stock', { ...cause, ...l });
  for (const l of p.outcome.shortage ?? []) add('inventory.shortage', { ...cause, ...l });
  return out;
}
