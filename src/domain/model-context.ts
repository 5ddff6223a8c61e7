/**
 * One event's working set, mirroring src/lua/includes/base.lua function for function:
 * stock figures are read once and written back at `finish`, holds are copied on load and
 * written on save, and the low-stock / shortage checks walk pairs in the order they were
 * first read. Keeping the same shape keeps the movement order and alert order identical.
 * Selling ahead of stock (supply, wait, unwait, the fills in `finish`) mirrors the policy
 * helpers of src/lua/includes/holds.lua.
 */
import {
  availableOf,
  type ConfigChange,
  type EventMeta,
  type FillLine,
  type HoldKind,
  type HoldLine,
  type HoldSnapshot,
  type LowStockLine,
  type Movement,
  type NetworkChange,
  type MovementKind,
  type Outcome,
  type ShortageLine,
  type AvailabilityLine,
  type ShortLine,
  type StockRecord,
  type TenantSettings,
} from './types.js';
import {
  cloneHold,
  emptyHold,
  liveHold,
  waitingOf,
  waitQueue,
  type CartRemovals,
  type HoldLineState,
  type HoldState,
  type TenantState,
} from './model-state.js';
import { PAIR_SEP, sortedKeys, splitPair } from './pairs.js';
import type { NetworkState } from './network.js';
import type { KitTag } from './types.js';

/** What an applied event hands to the outbox, minus the envelope fields. */
export interface ModelPayload {
  outcome: Outcome;
  movements: Movement[];
  holds: HoldSnapshot[];
  config: ConfigChange[];
  network: NetworkChange[];
  /** the tenant's settings, after a tenant.configured that changed them */
  settings?: TenantSettings;
  /** the event's kit lines (domain/kits.ts expandKits) */
  kits?: KitTag[];
}

/**
 * Deltas in the order of `move` in includes/stock.lua: onHand, reserved, committed,
 * unavailable, incoming, backordered, preordered.
 */
export type Deltas = readonly [number, number?, number?, number?, number?, number?, number?];

/** The backing of units waiting for stock (the policy they wait under). */
export type Backing = 'backorder' | 'preorder';

/**
 * How `extra` more units can be had at a pair (`supply` in includes/holds.lua): `backed` from
 * what is available, `rest` waiting with `backing`; `short` when the policy cannot take the
 * rest, `can` then being what could be had.
 */
export interface Supply {
  backed: number;
  rest: number;
  backing?: Backing;
  short?: boolean;
  can?: number;
}

interface LoadedStock extends StockRecord {
  sku: string;
  locationId: string;
  availBefore: number;
  levelBefore: number | undefined;
  dirty: boolean;
  cfgDirty: boolean;
  /** a physical movement lowered `available` during this event */
  physicalDrop: boolean;
}

/** A hold as a wait queue names it (`cart:<id>`, `order:<id>`). */
const memberOf = (kind: HoldKind, id: string): string => `${kind}:${id}`;

/** Movements of units that physically moved (or were counted), as opposed to holds. */
const PHYSICAL: ReadonlySet<MovementKind> = new Set<MovementKind>([
  'received',
  'adjusted',
  'counted',
  'shipped',
  'returned',
  'transfer_out',
  'transfer_received',
]);

export class EventContext {
  private readonly stocks = new Map<string, LoadedStock>();
  /** pairs in the order they were first read (`ctx.order` in base.lua) */
  private readonly touched: string[] = [];
  private readonly movements: Movement[] = [];
  private readonly holds: HoldSnapshot[] = [];
  readonly config: ConfigChange[] = [];
  readonly network: NetworkChange[] = [];
  /** set by a tenant.configured that changed the settings: they go into the payload */
  settingsChanged = false;
  /** the event's kit lines, set by runCommand: they go into the payload */
  kits: KitTag[] | undefined;

  constructor(
    private readonly state: TenantState,
    readonly meta: EventMeta,
    readonly now: number,
    private readonly dedupTtlMs: number,
  ) {}

  /** The tenant's settings (tenant.configured; changed in place). */
  get settings(): TenantSettings {
    return this.state.settings;
  }

  /** The tenant's locations and bindings (changed in place, as the scripts change Redis). */
  get net(): NetworkState {
    return this.state.network;
  }

  stock(pair: string): LoadedStock {
    const loaded = this.stocks.get(pair);
    if (loaded) return loaded;
    const r = this.state.stocks.get(pair);
    const s: LoadedStock = {
      ...splitPair(pair),
      onHand: r?.onHand ?? 0,
      reserved: r?.reserved ?? 0,
      committed: r?.committed ?? 0,
      unavailable: r?.unavailable ?? 0,
      incoming: r?.incoming ?? 0,
      backordered: r?.backordered ?? 0,
      preordered: r?.preordered ?? 0,
      ...(r?.reorderLevel !== undefined ? { reorderLevel: r.reorderLevel } : {}),
      ...(r?.reorderQuantity !== undefined ? { reorderQuantity: r.reorderQuantity } : {}),
      ...policyOf(r),
      availBefore: 0,
      levelBefore: r?.reorderLevel,
      dirty: false,
      cfgDirty: false,
      physicalDrop: false,
    };
    s.availBefore = availableOf(s);
    this.stocks.set(pair, s);
    this.touched.push(pair);
    return s;
  }

  move(
    pair: string,
    kind: MovementKind,
    d: Deltas,
    refType: string,
    refId: string,
    reason = '',
  ): void {
    // `+ 0` turns -0 into 0, as the script does before cjson would write "-0"
    const at = (i: number): number => (d[i] ?? 0) + 0;
    const [dOn, dRes, dCom, dUna, dInc] = [at(0), at(1), at(2), at(3), at(4)];
    const [dBo, dPo] = [at(5), at(6)];
    const still = dOn === 0 && dRes === 0 && dCom === 0 && dUna === 0 && dInc === 0;
    if (still && dBo === 0 && dPo === 0) return;
    const s = this.stock(pair);
    s.onHand += dOn;
    s.reserved += dRes;
    s.committed += dCom;
    s.unavailable += dUna;
    s.incoming += dInc;
    s.backordered += dBo;
    s.preordered += dPo;
    s.dirty = true;
    if (PHYSICAL.has(kind) && dOn - dRes - dUna < 0) s.physicalDrop = true;
    this.movements.push({
      sku: s.sku,
      locationId: s.locationId,
      kind,
      onHand: dOn,
      reserved: dRes,
      committed: dCom,
      unavailable: dUna,
      incoming: dInc,
      // waiting units only when they change, as the script writes them
      ...(dBo !== 0 ? { backordered: dBo } : {}),
      ...(dPo !== 0 ? { preordered: dPo } : {}),
      referenceType: refType,
      referenceId: refId,
      reason,
    });
  }

  /**
   * Lines of `need` whose `available` does not cover `need - credit` (sorted by pair): stock
   * on hand only, whatever the policy (transfers).
   */
  shortLines(need: ReadonlyMap<string, number>, credit?: ReadonlyMap<string, number>): ShortLine[] {
    const short: ShortLine[] = [];
    for (const p of sortedKeys(need)) {
      const c = credit?.get(p) ?? 0;
      const n = need.get(p)!;
      if (n - c <= 0) continue;
      const s = this.stock(p);
      const a = availableOf(s);
      if (a < n - c) {
        short.push({
          sku: s.sku,
          locationId: s.locationId,
          requested: n,
          available: c + Math.max(a, 0),
        });
      }
    }
    return short;
  }

  /**
   * Plans every pair of `need` (sorted), beyond `credit`, and the lines the pair's policy
   * cannot take (the short line's `available` is the credit plus what could be had).
   */
  supplyLines(
    need: ReadonlyMap<string, number>,
    credit?: ReadonlyMap<string, number>,
  ): { supplies: Map<string, Supply>; short: ShortLine[] } {
    const supplies = new Map<string, Supply>();
    const short: ShortLine[] = [];
    for (const p of sortedKeys(need)) {
      const c = credit?.get(p) ?? 0;
      const n = need.get(p)!;
      const sup = this.supply(p, n - c);
      supplies.set(p, sup);
      if (sup.short) short.push({ ...splitPair(p), requested: n, available: c + sup.can! });
    }
    return { supplies, short };
  }
  /** Units the pair's policy still lets wait now, and the backing they would have. */
  capacity(s: StockRecord): { cap: number; backing?: Backing } {
    const lim = s.policyLimit ?? 0;
    if (s.policy === 'backorder')
      return { cap: Math.max(lim - s.backordered, 0), backing: 'backorder' };
    if (s.policy === 'preorder' && (s.preorderUntil === undefined || this.now < s.preorderUntil))
      return { cap: Math.max(lim - s.preordered, 0), backing: 'preorder' };
    return { cap: 0 };
  }

  /** How `extra` more units can be had at pair `p` (see Supply). */
  supply(p: string, extra: number): Supply {
    const s = this.stock(p);
    const avail = availableOf(s);
    if (avail >= extra) return { backed: extra, rest: 0 };
    const backed = Math.max(avail, 0);
    const { cap, backing } = this.capacity(s);
    return {
      backed,
      rest: extra - backed,
      ...(backing ? { backing } : {}),
      short: extra - backed > cap,
      can: backed + cap,
    };
  }

  /** `n` units of hold h's line at p start waiting with `backing` (a movement of that kind). */
  wait(h: HoldState, kind: HoldKind, id: string, p: string, n: number, backing: Backing): void {
    const l = holdLine(h, p);
    if (backing === 'backorder') {
      l.backordered += n;
      this.move(p, 'backordered', [0, 0, 0, 0, 0, n], kind, id);
    } else {
      l.preordered += n;
      this.move(p, 'preordered', [0, 0, 0, 0, 0, 0, n], kind, id);
    }
    this.enqueue(p, kind, id);
  }

  /**
   * Takes up to `n` waiting units off line l of hold kind:id at p (backordered first); the
   * hold leaves the pair's queue when none are left. Returns the units taken by backing.
   */
  unwait(l: HoldLineState, kind: HoldKind, id: string, p: string, n: number): [number, number] {
    const tb = Math.min(n, l.backordered);
    const tp = Math.min(n - tb, l.preordered);
    l.backordered -= tb;
    l.preordered -= tp;
    if ((tb > 0 || tp > 0) && waitingOf(l) === 0) this.dequeue(p, kind, id);
    return [tb, tp];
  }

  /** Queues hold kind:id at p unless it waits there already (it keeps its place). */
  enqueue(p: string, kind: HoldKind, id: string, place?: number): void {
    let q = this.state.waits.get(p);
    if (!q) this.state.waits.set(p, (q = new Map()));
    const m = memberOf(kind, id);
    if (!q.has(m)) q.set(m, place ?? ++this.state.waitSeq);
  }

  dequeue(p: string, kind: HoldKind, id: string): void {
    const q = this.state.waits.get(p);
    if (!q) return;
    q.delete(memberOf(kind, id));
    if (q.size === 0) this.state.waits.delete(p);
  }

  /** The place of hold kind:id in the queue at p (undefined: not waiting there). */
  placeOf(p: string, kind: HoldKind, id: string): number | undefined {
    return this.state.waits.get(p)?.get(memberOf(kind, id));
  }

  /** The cart's remembered removals, as the scripts change them (in place). */
  cartRemovals(cartId: string): CartRemovals {
    let r = this.state.cartRemovals.get(cartId);
    if (!r) this.state.cartRemovals.set(cartId, (r = { skus: new Map() }));
    return r;
  }

  /** A working copy of the hold (empty when it does not exist or `id` is absent). */
  loadHold(kind: HoldKind, id: string | undefined): HoldState {
    const h = id === undefined ? undefined : liveHold(this.state, kind, id, this.now);
    return h ? cloneHold(h) : emptyHold();
  }

  /** Writes the hold back whole and records its snapshot (see `saveHold` in base.lua). */
  saveHold(
    kind: HoldKind,
    id: string,
    h: HoldState,
    how: { keep?: boolean; drop?: boolean } = {},
  ): void {
    const version = h.version + 1;
    const lines = new Map<string, HoldLineState>();
    const snapLines: HoldLine[] = [];
    for (const p of sortedKeys(h.lines)) {
      const l = h.lines.get(p)!;
      if (l.held === 0 && l.ordered === 0 && l.shipped === 0 && waitingOf(l) === 0) continue;
      lines.set(p, { ...l });
      // waiting units only when there are any
      const waiting = {
        ...(l.backordered !== 0 ? { backordered: l.backordered } : {}),
        ...(l.preordered !== 0 ? { preordered: l.preordered } : {}),
      };
      snapLines.push(
        kind === 'cart'
          ? { ...splitPair(p), held: l.held, ...waiting }
          : { ...splitPair(p), held: l.held, ordered: l.ordered, shipped: l.shipped, ...waiting },
      );
    }
    // cjson leaves out nil fields: a hold saved without a state has no `state`
    const snap = {
      kind,
      id,
      ...(h.state !== undefined ? { state: h.state } : {}),
      lines: snapLines,
      version,
    } as HoldSnapshot;
    if (h.expiresAt !== undefined) snap.expiresAt = h.expiresAt;
    if (h.link !== undefined) snap.link = h.link;
    if (h.paid) snap.paid = true;
    if (h.paymentId !== undefined) snap.paymentId = h.paymentId;
    if (h.from !== undefined) {
      snap.fromLocationId = h.from;
      snap.toLocationId = h.to!;
    }
    if (h.shipments?.size) snap.shipments = Object.fromEntries(h.shipments);
    this.holds.push(snap);
    const saved: HoldState = { ...h, lines, version };
    delete saved.keyExpiresAt;
    if (how.keep) saved.keyExpiresAt = this.now + this.dedupTtlMs;
    if (how.drop) this.state.holds[kind].delete(id);
    else this.state.holds[kind].set(id, saved);
  }

  /**
   * Closes the event: writes touched stock, detects low-stock crossings and shortages and
   * writes the event marker. Returns the payload the script would append to the outbox.
   */
  finish(outcome: Outcome): ModelPayload {
    const low: LowStockLine[] = [];
    const neg: ShortageLine[] = [];
    const crossed: AvailabilityLine[] = [];
    // stock that became available goes to the holds waiting for it first
    const filled: FillLine[] = [];
    const n = this.touched.length;
    for (let i = 0; i < n; i++) {
      const p = this.touched[i]!;
      const s = this.stocks.get(p)!;
      if (s.backordered + s.preordered > 0 && availableOf(s) > 0) this.fill(p, s, filled);
    }
    for (const p of this.touched) {
      const s = this.stocks.get(p)!;
      if (s.dirty || s.cfgDirty) {
        this.state.stocks.set(p, {
          onHand: s.onHand,
          reserved: s.reserved,
          committed: s.committed,
          unavailable: s.unavailable,
          incoming: s.incoming,
          backordered: s.backordered,
          preordered: s.preordered,
          ...(s.reorderLevel !== undefined ? { reorderLevel: s.reorderLevel } : {}),
          ...(s.reorderQuantity !== undefined ? { reorderQuantity: s.reorderQuantity } : {}),
          ...policyOf(s),
        });
      }
      const a = availableOf(s);
      // a pair with no level of its own has the tenant's default, if any
      const fallback = this.state.settings.defaultReorderLevel ?? undefined;
      const level = s.reorderLevel ?? fallback;
      const levelBefore = s.levelBefore ?? fallback;
      const wasLow = levelBefore !== undefined && s.availBefore <= levelBefore;
      const isLow = level !== undefined && a <= level;
      if (isLow && !wasLow) {
        low.push({
          sku: s.sku,
          locationId: s.locationId,
          available: a,
          reorderLevel: level,
          reorderQuantity: s.reorderQuantity ?? null,
        });
      }
      if (a < 0 && a < s.availBefore)
        neg.push({ sku: s.sku, locationId: s.locationId, available: a });
      // only a crossing of zero, judged on the figures before and after the whole event
      if (a > 0 !== s.availBefore > 0)
        crossed.push({ sku: s.sku, locationId: s.locationId, available: a, inStock: a > 0 });
      this.trackDeficit(p, s, a);
    }
    this.totals(crossed);
    const m = this.meta;
    this.state.markers.set(`${m.source}${PAIR_SEP}${m.id}`, this.now + this.dedupTtlMs);
    return {
      outcome: {
        ...outcome,
        ...(filled.length ? { filled } : {}),
        ...(low.length ? { lowStock: low } : {}),
        ...(neg.length ? { shortage: neg } : {}),
        ...(crossed.length ? { availability: crossed } : {}),
      },
      movements: this.movements,
      holds: this.holds,
      config: this.config,
      network: this.network,
      ...(this.settingsChanged
        ? { settings: { ...this.state.settings, setAt: { ...this.state.settings.setAt } } }
        : {}),
      ...(this.kits ? { kits: this.kits } : {}),
    };
  }

  /**
   * The SKU's total across its locations (`locationId` absent), for each SKU a location of
   * crossed zero in: crossed when the SKU went from no location in stock to some, or back.
   * Counted here from every stock record of the SKU (the script keeps a count instead, see
   * finish in includes/stock.lua); `available` is what its in-stock locations have.
   */
  private totals(crossed: AvailabilityLine[]): void {
    const skus: string[] = [];
    for (const l of crossed) if (!skus.includes(l.sku)) skus.push(l.sku);
    for (const sku of skus) {
      let before = 0;
      let after = 0;
      let units = 0;
      for (const [p, r] of this.state.stocks) {
        if (splitPair(p).sku !== sku) continue;
        const a = availableOf(r);
        const touched = this.stocks.get(p);
        if ((touched ? touched.availBefore : a) > 0) before++;
        if (a > 0) {
          after++;
          units += a;
        }
      }
      if (before > 0 !== after > 0) crossed.push({ sku, available: units, inStock: after > 0 });
    }
  }

  /**
   * What is available at the pair goes to the holds waiting there, first in line first
   * (`FILL` in includes/holds.lua): each fill is a `filled` movement (waiting → reserved, and
   * committed when the order is paid), a snapshot of the hold and a line of `filled`.
   */
  private fill(p: string, s: LoadedStock, filled: FillLine[]): void {
    let avail = availableOf(s);
    while (avail > 0 && s.backordered + s.preordered > 0) {
      const members = waitQueue(this.state, p);
      if (members.length === 0) break;
      for (const m of members) {
        if (avail <= 0) break;
        const c = m.indexOf(':');
        const kind = m.slice(0, c) as 'cart' | 'order';
        const id = m.slice(c + 1);
        const h = this.loadHold(kind, id);
        const l = h.lines.get(p);
        const w = l ? waitingOf(l) : 0;
        if (!l || w <= 0) {
          // nothing waits there any more (cannot happen while every operation keeps the queues)
          this.dequeue(p, kind, id);
          continue;
        }
        const t = Math.min(avail, w);
        const [tb, tp] = this.unwait(l, kind, id, p, t);
        this.move(p, 'filled', [0, t, h.paid ? t : 0, 0, 0, -tb, -tp], kind, id);
        l.held += t;
        this.saveHold(kind, id, h);
        avail -= t;
        filled.push({
          referenceType: kind,
          referenceId: id,
          sku: s.sku,
          locationId: s.locationId,
          quantity: t,
          backordered: tb,
          preordered: tp,
        });
      }
    }
  }

  /** Remembers whether a negative `available` is owed to a physical fact (for the invariants). */
  private trackDeficit(pair: string, s: LoadedStock, a: number): void {
    const deficit = this.state.physicalDeficit;
    if (a >= 0) deficit.delete(pair);
    else if (s.physicalDrop) deficit.add(pair);
    else if (a < s.availBefore) deficit.delete(pair);
  }
}

/** The policy fields of a stock record, only those it has. */
export function policyOf(
  r: StockRecord | undefined,
): Pick<StockRecord, 'policy' | 'policyLimit' | 'preorderUntil'> {
  return {
    ...(r?.policy !== undefined ? { policy: r.policy } : {}),
    ...(r?.policyLimit !== undefined ? { policyLimit: r.policyLimit } : {}),
    ...(r?.preorderUntil !== undefined ? { preorderUntil: r.preorderUntil } : {}),
  };
}

export function holdLine(h: HoldState, pair: string): HoldLineState {
  let l = h.lines.get(pair);
  if (!l) {
    l = { held: 0, ordered: 0, shipped: 0, backordered: 0, preordered: 0 };
    h.lines.set(pair, l);
  }
  return l;
}

/** Sums line quantities by pair. */
export function sumLines(
  lines: readonly { sku: string; locationId: string; quantity: number }[],
): Map<string, number> {
  const need = new Map<string, number>();
  for (const l of lines) {
    const p = `${l.sku}${PAIR_SEP}${l.locationId}`;
    need.set(p, (need.get(p) ?? 0) + l.quantity);
  }
  return need;
}
