/**
 * The invariants of the stock figures (../shared/EVENTS.md), checked over one tenant's
 * figures and holds. Works on the model's state and on state read back from Redis alike.
 */
import { availableOf, type HoldKind, type StockFigures } from './types.js';
import type { InventoryModel } from './model.js';
import { sortedKeys } from './modelState.js';

export interface InventoryView {
  tenant: string;
  /** by pair (`sku \x1f location`); pairs absent read as zero */
  stocks: ReadonlyMap<string, StockFigures>;
  holds: readonly {
    kind: HoldKind;
    id: string;
    state?: string | undefined;
    /** a payment succeeded (orders) */
    paid: boolean;
    /** by pair */
    lines: ReadonlyMap<string, { held: number }>;
  }[];
  /**
   * Pairs whose negative `available` a physical fact caused. Omit to skip the
   * "available ≥ 0" check (Redis does not record why a figure went negative).
   */
  physicalDeficit?: ReadonlySet<string>;
}

export interface InvariantViolation {
  tenant: string;
  pair: string;
  invariant: string;
  detail: string;
}

/** Every violated invariant of every tenant of the model (empty when all hold). */
export function checkInvariants(model: InventoryModel, now = 0): InvariantViolation[] {
  return model.tenantIds().flatMap((tenant) => checkView(viewOfModel(model, tenant, now)));
}

export function viewOfModel(model: InventoryModel, tenant: string, now = 0): InventoryView {
  const s = model.state(tenant);
  const holds: InventoryView['holds'][number][] = [];
  for (const kind of ['cart', 'order', 'transfer'] as const) {
    for (const id of sortedKeys(s.holds[kind])) {
      const h = model.hold(kind, id, tenant, now);
      if (h) holds.push({ kind, id, state: h.state, paid: h.paid === true, lines: h.lines });
    }
  }
  return { tenant, stocks: s.stocks, holds, physicalDeficit: s.physicalDeficit };
}

/** Every violated invariant of one tenant's view. */
export function checkView(view: InventoryView): InvariantViolation[] {
  const out: InvariantViolation[] = [];
  const held = new Map<string, { reserved: number; committed: number; incoming: number }>();
  const sums = (p: string) => {
    let x = held.get(p);
    if (!x) held.set(p, (x = { reserved: 0, committed: 0, incoming: 0 }));
    return x;
  };
  for (const h of view.holds) {
    for (const [p, l] of h.lines) {
      if (l.held < 0) {
        out.push({
          tenant: view.tenant,
          pair: p,
          invariant: 'held >= 0',
          detail: `${h.kind} ${h.id} holds ${l.held}`,
        });
      }
      if (h.kind === 'transfer') {
        if (h.state === 'shipped' || h.state === 'receiving') sums(p).incoming += l.held;
      } else {
        sums(p).reserved += l.held;
        if (h.kind === 'order' && h.paid) sums(p).committed += l.held;
      }
    }
  }
  const pairs = sortedKeys(new Map([...view.stocks, ...held]));
  const zero: StockFigures = { onHand: 0, reserved: 0, committed: 0, unavailable: 0, incoming: 0 };
  for (const p of pairs) {
    const s = view.stocks.get(p) ?? zero;
    const h = held.get(p) ?? { reserved: 0, committed: 0, incoming: 0 };
    const fail = (invariant: string, detail: string) =>
      out.push({ tenant: view.tenant, pair: p, invariant, detail });
    if (s.reserved < 0) fail('reserved >= 0', `reserved ${s.reserved}`);
    if (s.committed < 0) fail('committed >= 0', `committed ${s.committed}`);
    if (s.committed > s.reserved)
      fail('committed <= reserved', `committed ${s.committed} > reserved ${s.reserved}`);
    if (s.unavailable < 0) fail('unavailable >= 0', `unavailable ${s.unavailable}`);
    if (s.incoming < 0) fail('incoming >= 0', `incoming ${s.incoming}`);
    if (h.reserved !== s.reserved) {
      fail('reserved = held by carts and orders', `reserved ${s.reserved}, holds ${h.reserved}`);
    }
    if (h.committed !== s.committed) {
      fail(
        'committed = held by paid orders',
        `committed ${s.committed}, paid holds ${h.committed}`,
      );
    }
    if (h.incoming !== s.incoming) {
      fail('incoming = in transit', `incoming ${s.incoming}, transfers ${h.incoming}`);
    }
    const a = availableOf(s);
    if (view.physicalDeficit && a < 0 && !view.physicalDeficit.has(p)) {
      fail('available >= 0 unless a physical fact', `available ${a} after a reservation change`);
    }
  }
  return out;
}
