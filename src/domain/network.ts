/**
 * A tenant's network of locations: which locations exist (priority, where they ship to) and
 * which SKUs each stocks (bindings), and the routing strategy over them. Pure: the engine's
 * planner and the model both call these, and the Lua scripts implement `allocate` the same
 * way (src/lua/includes/route.lua).
 *
 * A tenant with no location registered is not a network: every event works as before
 * (`locationId` omitted is `default`, any location is accepted). Once it has one, events that
 * name a SKU-location not bound are rejected (`location-not-stocked`), and lines without a
 * location are routed.
 */
import { compareBytes, pairOf, splitPair } from './pairs.js';
import {
  DEFAULT_LOCATION,
  type Command,
  type Destination,
  type KitComponent,
  type ShortLine,
} from './types.js';

export interface LocationDef {
  locationId: string;
  name: string;
  /** lower first */
  priority: number;
  /** `US`, `US-CA`; empty: ships anywhere */
  shipsTo: string[];
}

export interface NetworkState {
  locations: Map<string, LocationDef>;
  /** bound pairs (`sku \x1f location`) */
  bound: Set<string>;
  /** kit definitions by kit SKU (`kits` in Redis): components in byte order of their SKUs */
  kits: Map<string, KitComponent[]>;
}

export const emptyNetwork = (): NetworkState => ({
  locations: new Map(),
  bound: new Set(),
  kits: new Map(),
});

export const isNetwork = (n: NetworkState): boolean => n.locations.size > 0;

/** Whether a location ships to a destination (no destination: anywhere). */
export function shipsTo(loc: LocationDef, dest: Destination | undefined): boolean {
  if (!dest || loc.shipsTo.length === 0) return true;
  const region = dest.region !== undefined ? `${dest.country}-${dest.region}` : undefined;
  return loc.shipsTo.some((c) => c === dest.country || c === region);
}

/** Locations in routing order: priority (lower first), then id (byte order). */
export function byPriority(n: NetworkState): LocationDef[] {
  return [...n.locations.values()].sort(
    (a, b) => a.priority - b.priority || compareBytes(a.locationId, b.locationId),
  );
}

/**
 * What the script needs to route: `locs`, the candidate locations in routing order, and per
 * SKU the candidates that stock it (bound), in the same order.
 */
export interface Route {
  locs: string[];
  skus: Record<string, string[]>;
  /**
   * SKUs that go to one location together: the components of the kits routed lines named
   * (domain/kits.ts), each group sorted, no SKU in two
   */
  groups?: string[][];
}

export function routeFor(n: NetworkState, skus: string[], dest?: Destination): Route {
  const route: Route = { locs: [], skus: {} };
  const wanted = [...new Set(skus)].sort(compareBytes);
  for (const s of wanted) route.skus[s] = [];
  for (const loc of byPriority(n)) {
    if (!shipsTo(loc, dest)) continue;
    let any = false;
    for (const s of wanted) {
      if (n.bound.has(pairOf(s, loc.locationId))) {
        route.skus[s]!.push(loc.locationId);
        any = true;
      }
    }
    if (any) route.locs.push(loc.locationId);
  }
  return route;
}

/** Pairs of every candidate of a route (the stock keys a routing script needs). */
export const routePairs = (r: Route): string[] =>
  Object.keys(r.skus)
    .sort(compareBytes)
    .flatMap((s) => r.skus[s]!.map((l) => pairOf(s, l)));

/** The routed sku line that could not be filled names this location. */
export const NETWORK_LOCATION = '*';

/**
 * The routing strategy. `need`: units per SKU to route; `free(pair)`: what the pair can give.
 * One location that fills every SKU, the first in routing order; else SKU by SKU (byte order):
 * the first candidate that fills the SKU, else the candidates in order, each giving what it
 * has; a group's SKUs (a kit's components) all at the first location that fills every one of
 * them, else all short. Returns units by pair, and the SKUs the network cannot fill.
 */
export function allocate(
  route: Route,
  need: ReadonlyMap<string, number>,
  free: (pair: string) => number,
): { alloc: Map<string, number>; short: ShortLine[] } {
  const alloc = new Map<string, number>();
  const skus = [...need.keys()].sort(compareBytes);
  for (const loc of route.locs) {
    const fills = skus.every(
      (s) => route.skus[s]?.includes(loc) && free(pairOf(s, loc)) >= need.get(s)!,
    );
    if (fills) {
      for (const s of skus) alloc.set(pairOf(s, loc), need.get(s)!);
      return { alloc, short: [] };
    }
  }
  const short: ShortLine[] = [];
  const groupOf = new Map<string, string[]>();
  for (const g of route.groups ?? []) for (const s of g) groupOf.set(s, g);
  const done = new Set<string>();
  for (const s of skus) {
    if (done.has(s)) continue;
    const group = groupOf.get(s);
    if (group) {
      // a kit's components: the first location that fills all of them, else all are short
      for (const m of group) done.add(m);
      const fills = (l: string) =>
        group.every((m) => route.skus[m]?.includes(l) && free(pairOf(m, l)) >= need.get(m)!);
      const at = route.locs.find(fills);
      for (const m of group) {
        const q = need.get(m)!;
        if (at !== undefined) alloc.set(pairOf(m, at), q);
        else {
          let best = 0;
          for (const l of route.skus[m] ?? []) best = Math.max(best, free(pairOf(m, l)));
          short.push({
            sku: m,
            locationId: NETWORK_LOCATION,
            requested: q,
            available: Math.min(best, q),
          });
        }
      }
      continue;
    }
    const q = need.get(s)!;
    const cands = route.skus[s] ?? [];
    const one = cands.find((l) => free(pairOf(s, l)) >= q);
    if (one !== undefined) {
      alloc.set(pairOf(s, one), q);
      continue;
    }
    let rem = q;
    for (const l of cands) {
      const t = Math.min(Math.max(free(pairOf(s, l)), 0), rem);
      if (t > 0) {
        alloc.set(pairOf(s, l), t);
        rem -= t;
      }
    }
    if (rem > 0)
      short.push({ sku: s, locationId: NETWORK_LOCATION, requested: q, available: q - rem });
  }
  return { alloc, short };
}

/**
 * The SKU-locations a command names explicitly (the ones a network must have bound), sorted.
 * Location and binding commands check their own.
 */
export function namedPairs(c: Command): string[] {
  const ps: string[] = [];
  switch (c.op) {
    case 'receiveStock':
    case 'adjustStock':
    case 'countStock':
    case 'configureStock':
      ps.push(pairOf(c.sku, c.locationId));
      break;
    case 'reserveCart':
      if (c.locationId !== undefined) {
        // a kit (expanded, domain/kits.ts): its components there
        if (c.kit) for (const k of c.kit) ps.push(pairOf(k.sku, c.locationId));
        else ps.push(pairOf(c.sku, c.locationId));
      }
      break;
    case 'placeOrder':
    case 'updateOrder':
      for (const l of c.lines) ps.push(pairOf(l.sku, l.locationId));
      break;
    case 'returnStock':
      for (const l of c.lines) ps.push(pairOf(l.sku, l.locationId));
      break;
    case 'shipTransfer':
    case 'createTransfer':
      for (const l of c.lines) {
        ps.push(pairOf(l.sku, c.fromLocationId), pairOf(l.sku, c.toLocationId));
      }
      break;
    default:
      break;
  }
  return [...new Set(ps)].sort(compareBytes);
}

/** The named SKU-locations the network does not stock (none outside a network). */
export function unstocked(n: NetworkState, c: Command): { sku: string; locationId: string }[] {
  if (!isNetwork(n)) return [];
  return namedPairs(c)
    .filter((p) => !n.bound.has(p))
    .map(splitPair);
}

/** The hold an event is about, for the rejection outcome. */
export function referenceOf(
  c: Command,
): { referenceType: 'cart' | 'order' | 'transfer'; referenceId: string } | undefined {
  switch (c.op) {
    case 'reserveCart':
      return { referenceType: 'cart', referenceId: c.cartId };
    case 'placeOrder':
    case 'updateOrder':
      return { referenceType: 'order', referenceId: c.orderId };
    case 'shipTransfer':
    case 'createTransfer':
      return { referenceType: 'transfer', referenceId: c.transferId };
    default:
      return undefined;
  }
}

/**
 * Where a line of order.updated naming no location goes when the order does not have the SKU
 * yet: the tenant's first location bound to it (by priority), else `default`. The planner
 * passes the same to the script (`fallbacks`), the model uses it too.
 */
export function updateFallback(net: NetworkState, sku: string): string {
  return (isNetwork(net) ? routeFor(net, [sku]).skus[sku]?.[0] : undefined) ?? DEFAULT_LOCATION;
}

/**
 * The kit SKUs a command names as stock of their own (stock.received, .adjusted, .counted,
 * .configured, transfer.created / .shipped lines, location.bound): a kit has none, so the
 * planner refuses the event (`kit-sku`), and the model the same. Sorted, distinct.
 */
export function stockedKitSkus(kits: ReadonlyMap<string, unknown>, c: Command): string[] {
  if (kits.size === 0) return [];
  let skus: string[];
  switch (c.op) {
    case 'receiveStock':
    case 'adjustStock':
    case 'countStock':
    case 'configureStock':
      skus = [c.sku];
      break;
    case 'createTransfer':
    case 'shipTransfer':
      skus = c.lines.map((l) => l.sku);
      break;
    case 'bindLocation':
      skus = c.bound ? c.skus : [];
      break;
    default:
      return [];
  }
  return [...new Set(skus.filter((s) => kits.has(s)))].sort(compareBytes);
}
