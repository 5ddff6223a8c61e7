/**
 * One event's working set, mirroring src/lua/includes/base.lua function for function:
 * stock figures are read once and written back at `finish`, holds are copied on load and
 * written on save, and the low-stock / shortage checks walk pairs in the order they were
 * first read. Keeping the same shape keeps the movement order and alert order identical.
 */
import {
  availableOf,
  type ConfigChange,
  type EventMeta,
  type HoldKind,
  type HoldLine,
  type HoldSnapshot,
  type LowStockLine,
  type Movement,
  type NetworkChange,
  type MovementKind,
  type Outcome,
  type ShortageLine,
  type ShortLine,
  type StockRecord,
} from './types.js';
import {
  cloneHold,
  emptyHold,
  liveHold,
  PAIR_SEP,
  sortedKeys,
  splitPair,
  type HoldLineState,
  type HoldState,
  type TenantState,
} from './modelState.js';
import type { NetworkState } from './network.js';

/** What an applied event hands to the outbox, minus the envelope fields. */
export interface ModelPayload {
  outcome: Outcome;
  movements: Movement[];
  holds: HoldSnapshot[];
  config: ConfigChange[];
  network: NetworkChange[];
}

/** Deltas in the order of `move` in base.lua: onHand, reserved, committed, unavailable, incoming. */
export type Deltas = readonly [number, number?, number?, number?, number?];

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

  constructor(
    private readonly state: TenantState,
    readonly meta: EventMeta,
    readonly now: number,
    private readonly dedupTtlMs: number,
  ) {}

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
      ...(r?.reorderLevel !== undefined ? { reorderLevel: r.reorderLevel } : {}),
      ...(r?.reorderQuantity !== undefined ? { reorderQuantity: r.reorderQuantity } : {}),
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
    if (dOn === 0 && dRes === 0 && dCom === 0 && dUna === 0 && dInc === 0) return;
    const s = this.stock(pair);
    s.onHand += dOn;
    s.reserved += dRes;
    s.committed += dCom;
    s.unavailable += dUna;
    s.incoming += dInc;
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
      referenceType: refType,
      referenceId: refId,
      reason,
    });
  }

  /** Lines of `need` whose `available` does not cover `need - credit` (sorted by pair). */
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
      if (l.held === 0 && l.ordered === 0 && l.shipped === 0) continue;
      lines.set(p, { ...l });
      snapLines.push(
        kind === 'cart'
          ? { ...splitPair(p), held: l.held }
          : { ...splitPair(p), held: l.held, ordered: l.ordered, shipped: l.shipped },
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
    for (const p of this.touched) {
      const s = this.stocks.get(p)!;
      if (s.dirty || s.cfgDirty) {
        this.state.stocks.set(p, {
          onHand: s.onHand,
          reserved: s.reserved,
          committed: s.committed,
          unavailable: s.unavailable,
          incoming: s.incoming,
          ...(s.reorderLevel !== undefined ? { reorderLevel: s.reorderLevel } : {}),
          ...(s.reorderQuantity !== undefined ? { reorderQuantity: s.reorderQuantity } : {}),
        });
      }
      const a = availableOf(s);
      const wasLow = s.levelBefore !== undefined && s.availBefore <= s.levelBefore;
      const isLow = s.reorderLevel !== undefined && a <= s.reorderLevel;
      if (isLow && !wasLow) {
        low.push({
          sku: s.sku,
          locationId: s.locationId,
          available: a,
          reorderLevel: s.reorderLevel!,
          reorderQuantity: s.reorderQuantity ?? null,
        });
      }
      if (a < 0 && a < s.availBefore)
        neg.push({ sku: s.sku, locationId: s.locationId, available: a });
      this.trackDeficit(p, s, a);
    }
    const m = this.meta;
    this.state.markers.set(`${m.source}${PAIR_SEP}${m.id}`, this.now + this.dedupTtlMs);
    return {
      outcome: {
        ...outcome,
        ...(low.length ? { lowStock: low } : {}),
        ...(neg.length ? { shortage: neg } : {}),
      },
      movements: this.movements,
      holds: this.holds,
      config: this.config,
      network: this.network,
    };
  }

  /** Remembers whether a negative `available` is owed to a physical fact (for the invariants). */
  private trackDeficit(pair: string, s: LoadedStock, a: number): void {
    const deficit = this.state.physicalDeficit;
    if (a >= 0) deficit.delete(pair);
    else if (s.physicalDrop) deficit.add(pair);
    else if (a < s.availBefore) deficit.delete(pair);
  }
}

export function holdLine(h: HoldState, pair: string): HoldLineState {
  let l = h.lines.get(pair);
  if (!l) {
    l = { held: 0, ordered: 0, shipped: 0 };
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
