import type { Announcement, AnnouncementData, AnnouncementType } from './announcement-schemas.js';
import type { HoldLine, Movement, MovementKind, OutboxPayload } from './types.js';

export type { Announcement } from './announcement-schemas.js';

type HoldAnnouncement =
  | 'inventory.reserved'
  | 'inventory.released'
  | 'inventory.expired'
  | 'inventory.committed'
  | 'inventory.fulfilled';

/** Holds announced are carts' and orders' (a transfer's movements announce nothing). */
type HoldKindAnnounced = AnnouncementData<'inventory.reserved'>['referenceType'];

const ANNOUNCED: Partial<Record<MovementKind, HoldAnnouncement>> = {
  reserved: 'inventory.reserved',
  // units sold ahead of stock are reserved too, waiting (the line says how many)
  backordered: 'inventory.reserved',
  preordered: 'inventory.reserved',
  released: 'inventory.released',
  expired: 'inventory.expired',
  committed: 'inventory.committed',
  shipped: 'inventory.fulfilled',
};

const headline = (m: Movement): number =>
  m.kind === 'committed'
    ? m.committed
    : m.kind === 'shipped'
      ? -m.onHand
      : Math.abs(m.reserved + (m.backordered ?? 0) + (m.preordered ?? 0));

interface AnnouncedLine {
  sku: string;
  locationId: string;
  quantity: number;
  backordered?: number;
  preordered?: number;
}

/** The waiting part of a line, only when there is one. */
const waiting = (backordered: number, preordered: number) => ({
  ...(backordered !== 0 ? { backordered } : {}),
  ...(preordered !== 0 ? { preordered } : {}),
});

/** A hold line as `inventory.reserved` names it: every unit it has, held or waiting. */
function reservedLine(l: HoldLine): AnnouncedLine {
  const bo = l.backordered ?? 0;
  const po = l.preordered ?? 0;
  return {
    sku: l.sku,
    locationId: l.locationId,
    quantity: l.held + bo + po,
    ...waiting(bo, po),
  };
}

/** What the worker tells the world about one applied event. Pure. */
export function announce(p: OutboxPayload, time = new Date().toISOString()): Announcement[] {
  const out: Announcement[] = [];
  const cause = { causationId: p.id, causationSource: p.source, causationType: p.type };
  // typed by the schema of each type's data (announcement-schemas.ts): they cannot drift apart
  const add = <T extends AnnouncementType>(type: T, data: AnnouncementData<T>) =>
    out.push({
      type,
      id: `${p.source}#${p.id}#${out.length}`,
      tenant: p.tenant,
      time,
      data,
    } as Announcement);

  if (p.outcome.result === 'rejected' && p.outcome.short?.length) {
    add('inventory.reservation-failed', {
      ...cause,
      reason: p.outcome.reason as AnnouncementData<'inventory.reservation-failed'>['reason'],
      referenceType: p.outcome.referenceType!,
      referenceId: p.outcome.referenceId!,
      lines: p.outcome.short,
    });
  }
  // a cart or order naming a SKU-location its network does not stock was not reserved either
  const ref = p.outcome.referenceType;
  if (p.outcome.unstocked?.length && (ref === 'cart' || ref === 'order')) {
    add('inventory.reservation-failed', {
      ...cause,
      reason: p.outcome.reason as AnnouncementData<'inventory.reservation-failed'>['reason'],
      referenceType: ref,
      referenceId: p.outcome.referenceId!,
      lines: p.outcome.unstocked.map((u) => ({ ...u, available: 0 })),
    });
  }
  // One announcement per (kind, reference), lines in movement order; the units of one
  // reservation at a pair (held, and waiting) make one line.
  const groups = new Map<string, { type: HoldAnnouncement; m: Movement; lines: AnnouncedLine[] }>();
  for (const m of p.movements) {
    const type = ANNOUNCED[m.kind];
    // a cancelled shipment's units come back (a `shipped` movement turned round): the hold
    // they go back into is announced below, nothing was fulfilled
    if (!type || (m.kind === 'shipped' && m.onHand > 0)) continue;
    const key = `${type}\x1f${m.referenceType}\x1f${m.referenceId}`;
    const g = groups.get(key) ?? { type, m, lines: [] };
    groups.set(key, g);
    if (type !== 'inventory.reserved') {
      g.lines.push({ sku: m.sku, locationId: m.locationId, quantity: headline(m) });
      continue;
    }
    let l = g.lines.find((x) => x.sku === m.sku && x.locationId === m.locationId);
    if (!l) g.lines.push((l = { sku: m.sku, locationId: m.locationId, quantity: 0 }));
    l.quantity += headline(m);
    // reserving movements only add: a waiting count, once there, is never 0
    if (m.backordered) l.backordered = (l.backordered ?? 0) + m.backordered;
    if (m.preordered) l.preordered = (l.preordered ?? 0) + m.preordered;
  }
  // An order's inventory.reserved lists its whole hold (a cart's hold it took over included),
  // not only the units reserved by this event: the platform ships from what it names. Only
  // the event's own snapshots: those of holds its stock filled come last, one per fill.
  const own = p.holds.slice(0, p.holds.length - (p.outcome.filled?.length ?? 0));
  const reserving = new Set<MovementKind>(['reserved', 'backordered', 'preordered']);
  for (const h of own) {
    if (h.kind !== 'order' || (h.state !== 'placed' && h.state !== 'paid')) continue;
    if (
      p.type !== 'order.placed' &&
      !p.movements.some(
        (m) =>
          (reserving.has(m.kind) || (m.kind === 'shipped' && m.reserved > 0)) &&
          m.referenceType === 'order' &&
          m.referenceId === h.id,
      )
    )
      continue;
    const key = `inventory.reserved\x1forder\x1f${h.id}`;
    const lines = h.lines
      .filter((l) => l.held + (l.backordered ?? 0) + (l.preordered ?? 0) > 0)
      .map(reservedLine);
    if (lines.length === 0) continue;
    const m =
      groups.get(key)?.m ?? ({ referenceType: 'order', referenceId: h.id, reason: '' } as Movement);
    groups.set(key, { type: 'inventory.reserved', m, lines });
  }
  for (const g of groups.values()) {
    add(g.type, {
      ...cause,
      referenceType: g.m.referenceType as HoldKindAnnounced,
      referenceId: g.m.referenceId,
      ...(g.m.reason ? { reason: g.m.reason } : {}),
      lines: g.lines,
    });
  }
  // waiting units that stock arrived for, in fill order
  for (const f of p.outcome.filled ?? []) {
    add('inventory.filled', {
      ...cause,
      referenceType: f.referenceType,
      referenceId: f.referenceId,
      ...(f.referenceType === 'cart' ? { cartId: f.referenceId } : { orderId: f.referenceId }),
      sku: f.sku,
      locationId: f.locationId,
      quantity: f.quantity,
      backordered: f.backordered,
      preordered: f.preordered,
    });
  }
  for (const l of p.outcome.lowStock ?? []) add('inventory.low-stock', { ...cause, ...l });
  for (const l of p.outcome.shortage ?? []) add('inventory.shortage', { ...cause, ...l });
  for (const l of p.outcome.availability ?? [])
    add('inventory.availability-changed', { ...cause, ...l });
  return out;
}
