/**
 * The state the pure model keeps per tenant: the same records the Lua scripts keep in Redis
 * (stock hashes, hold hashes, event markers), as plain data. No I/O.
 */
import type { HoldKind, StockRecord, TenantSettings } from './types.js';
import { emptyNetwork, type NetworkState } from './network.js';
import { compareBytes } from './pairs.js';

export interface HoldLineState {
  held: number;
  ordered: number;
  shipped: number;
  /** `b:` units waiting for stock under a backorder policy */
  backordered: number;
  /** `p:` units waiting for stock under a pre-order policy */
  preordered: number;
}

/** Units of a line waiting for stock, whatever their backing. */
export const waitingOf = (l: HoldLineState): number => l.backordered + l.preordered;

/** One cart, order or transfer, field for field what its hash holds (see includes/base.lua). */
export interface HoldState {
  /** `st` */
  state?: string;
  /** `exp`: carts, epoch ms */
  expiresAt?: number;
  /** `lk`: cart → order it became; order → cart it took over */
  link?: string;
  /** `c` = 1: a payment succeeded */
  paid?: boolean;
  /** `pay` */
  paymentId?: string;
  /** transfers */
  from?: string;
  to?: string;
  /** `v`: 0 while the hold does not exist */
  version: number;
  /** `x:<shipmentId>`: orders, what each shipment moved (src/domain/shipment-record.ts) */
  shipments?: Map<string, string>;
  /** by pair; lines whose figures are all zero are not kept */
  lines: Map<string, HoldLineState>;
  /** epoch ms at which Redis drops the key (terminal holds are kept `dedupTtl` only) */
  keyExpiresAt?: number;
}

export interface TenantState {
  /** by pair; figures absent from Redis read as zero */
  stocks: Map<string, StockRecord>;
  holds: Record<HoldKind, Map<string, HoldState>>;
  /** `source \x1f id` → epoch ms the marker expires */
  markers: Map<string, number>;
  /**
   * Pairs whose `available` is below zero because a physical fact (adjust, count, shipping
   * beyond the hold) put it there; no reservation may ever do that.
   */
  physicalDeficit: Set<string>;
  /** locations and bindings (`locs`, `bind` in Redis) */
  network: NetworkState;
  /**
   * By pair: the holds waiting for stock there (`wait:<pair>`), member `cart:<id>` or
   * `order:<id>` → its place (a score of the tenant's `wseq`).
   */
  waits: Map<string, Map<string, number>>;
  /** `wseq` in meta: the last place given in a wait queue */
  waitSeq: number;
  /** tenant.configured (`cfg:*`, `cfgAt:*` in meta) */
  settings: TenantSettings;
  /**
   * By cart (`cartrm:<cartId>`): what its timed removals and clearings did not find to release,
   * taken off earlier additions applied after them (see releaseCart-5+.lua). Kept for ever here:
   * Redis forgets them after `rememberMs`, longer than any test runs.
   */
  cartRemovals: Map<string, CartRemovals>;
}

export interface CartRemovals {
  /** `*`: the latest time the cart was cleared */
  clearedAt?: number;
  /** by SKU: the latest removal's time and the units not found, or all of them */
  skus: Map<string, { at: number; units: number | 'all' }>;
}

export function newTenantState(): TenantState {
  return {
    stocks: new Map(),
    holds: { cart: new Map(), order: new Map(), transfer: new Map() },
    markers: new Map(),
    physicalDeficit: new Set(),
    network: emptyNetwork(),
    waits: new Map(),
    waitSeq: 0,
    settings: {
      cartTtlSeconds: null,
      checkoutTtlSeconds: null,
      defaultReorderLevel: null,
      setAt: {},
    },
    cartRemovals: new Map(),
  };
}

/** The members waiting at a pair, first in line first (as ZRANGE returns them). */
export function waitQueue(state: TenantState, pair: string): string[] {
  const q = state.waits.get(pair);
  if (!q) return [];
  return [...q].sort(([ma, a], [mb, b]) => a - b || compareBytes(ma, mb)).map(([m]) => m);
}

export const emptyHold = (): HoldState => ({ version: 0, lines: new Map() });

export function cloneHold(h: HoldState): HoldState {
  const c = { ...h, lines: new Map([...h.lines].map(([p, l]) => [p, { ...l }])) };
  if (h.shipments) c.shipments = new Map(h.shipments);
  return c;
}

/** The hold as Redis would return it at `now` (a key past its expiry is gone). */
export function liveHold(
  state: TenantState,
  kind: HoldKind,
  id: string,
  now: number,
): HoldState | undefined {
  const h = state.holds[kind].get(id);
  if (!h || (h.keyExpiresAt !== undefined && h.keyExpiresAt <= now)) return undefined;
  return h;
}
