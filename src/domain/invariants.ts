/**
 * The invariants of the stock figures (docs/events.md, "Stock figures"), checked over one
 * tenant's figures and holds. Works on the model's state and on state read back from Redis alike.
 */
import { availableOf, ZERO_FIGURES, type HoldKind, type StockRecord } from './types.js';
import type { InventoryModel } from './model.js';
import { sortedKeys } from './pairs.js';

export interface InventoryView {
  tenant: string;
  /** by pair (`sku \x1f location`); pairs absent read as zero (and deny) */
  stocks: ReadonlyMap<string, StockRecord>;
  holds: readonly {
    kind: HoldKind;
    id: string;
    state?: string | undefined;
    /** a payment succeeded (orders) */
    paid: boolean;
    /** by pair; waiting units absent read as zero */
    lines: ReadonlyMap<string, { held: number; backordered?: number; preordered?: number }>;
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
  // a copy: the view must not change when the model goes on (see checkStep)
  return { tenant, stocks: new Map(s.stocks), holds, physicalDeficit: s.physicalDeficit };
}

const ZERO: StockRecord = ZERO_FIGURES;

interface HeldSums {
  reserved: number;
  committed: number;
  incoming: number;
  backordered: number;
  preordered: number;
}

/** Every violated invariant of one tenant's view. */
export function checkView(view: InventoryView): InvariantViolation[] {
  const out: InvariantViolation[] = [];
  const held = new Map<string, HeldSums>();
  const sums = (p: string) => {
    let x = held.get(p);
    if (!x) {
      x = { reserved: 0, committed: 0, incoming: 0, backordered: 0, preordered: 0 };
      held.set(p, x);
    }
    return x;
  };
  for (const h of view.holds) {
    for (const [p, l] of h.lines) {
      const bo = l.backordered ?? 0;
      const po = l.preordered ?? 0;
      const bad = (invariant: string, detail: string) =>
        out.push({
          tenant: view.tenant,
          pair: p,
          invariant,
          detail: `${h.kind} ${h.id} ${detail}`,
        });
      if (l.held < 0) bad('held >= 0', `holds ${l.held}`);
      if (bo < 0) bad('line backordered >= 0', `waits ${bo} backordered`);
      if (po < 0) bad('line preordered >= 0', `waits ${po} preordered`);
      if (h.kind === 'transfer') {
        if (bo !== 0 || po !== 0) bad('transfers never wait', `waits ${bo} + ${po}`);
        if (h.state === 'shipped' || h.state === 'receiving') sums(p).incoming += l.held;
      } else {
        const x = sums(p);
        x.reserved += l.held;
        x.backordered += bo;
        x.preordered += po;
        if (h.kind === 'order' && h.paid) x.committed += l.held;
      }
    }
  }
  const pairs = sortedKeys(new Map<string, unknown>([...view.stocks, ...held]));
  for (const p of pairs) {
    const s = view.stocks.get(p) ?? ZERO;
    const h = held.get(p) ?? {
      reserved: 0,
      committed: 0,
      incoming: 0,
      backordered: 0,
      preordered: 0,
    };
    const fail = (invariant: string, detail: string) =>
      out.push({ tenant: view.tenant, pair: p, invariant, detail });
    if (s.reserved < 0) fail('reserved >= 0', `reserved ${s.reserved}`);
    if (s.committed < 0) fail('committed >= 0', `committed ${s.committed}`);
    if (s.committed > s.reserved)
      fail('committed <= reserved', `committed ${s.committed} > reserved ${s.reserved}`);
    if (s.unavailable < 0) fail('unavailable >= 0', `unavailable ${s.unavailable}`);
    if (s.incoming < 0) fail('incoming >= 0', `incoming ${s.incoming}`);
    if (s.backordered < 0) fail('backordered >= 0', `backordered ${s.backordered}`);
    if (s.preordered < 0) fail('preordered >= 0', `preordered ${s.preordered}`);
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
    if (h.backordered !== s.backordered) {
      fail(
        'backordered = waiting in carts and orders',
        `backordered ${s.backordered}, holds ${h.backordered}`,
      );
    }
    if (h.preordered !== s.preordered) {
      fail(
        'preordered = waiting in carts and orders',
        `preordered ${s.preordered}, holds ${h.preordered}`,
      );
    }
    const a = availableOf(s);
    if (s.backordered + s.preordered > 0 && a > 0) {
      fail(
        'waiting ⇒ available <= 0',
        `available ${a} while ${s.backordered} + ${s.preordered} wait`,
      );
    }
    if (view.physicalDeficit && a < 0 && !view.physicalDeficit.has(p)) {
      fail('available >= 0 unless a physical fact', `available ${a} after a reservation change`);
    }
  }
  return out;
}

/**
 * Invariants of one applied step, from the view before to the view after it at time `now`:
 * waiting units only ever grow under the pair's policy and within its limit (a limit may be
 * lowered below what already waits, so only an increase is checked).
 */
export function checkStep(
  before: InventoryView,
  after: InventoryView,
  now: number,
): InvariantViolation[] {
  const out: InvariantViolation[] = [];
  for (const p of sortedKeys(after.stocks)) {
    const b = before.stocks.get(p) ?? ZERO;
    const s = after.stocks.get(p)!;
    const lim = s.policyLimit ?? 0;
    const fail = (invariant: string, detail: string) =>
      out.push({ tenant: after.tenant, pair: p, invariant, detail });
    if (s.backordered > b.backordered) {
      if (s.policy !== 'backorder')
        fail(
          'backorders only under a backorder policy',
          `backordered ${b.backordered} → ${s.backordered}`,
        );
      else if (s.backordered > lim)
        fail(
          'backordered <= policyLimit',
          `backordered ${b.backordered} → ${s.backordered} > ${lim}`,
        );
    }
    if (s.preordered > b.preordered) {
      if (s.policy !== 'preorder')
        fail(
          'pre-orders only under a preorder policy',
          `preordered ${b.preordered} → ${s.preordered}`,
        );
      else if (s.preordered > lim)
        fail('preordered <= policyLimit', `preordered ${b.preordered} → ${s.preordered} > ${lim}`);
      else if (s.preorderUntil !== undefined && now >= s.preorderUntil)
        fail('no pre-orders from preorderUntil', `preordered ${b.preordered} → ${s.preordered}`);
    }
  }
  return out;
}
