/**
 * Kits (bundles): a kit SKU has no stock of its own; n kits are n × quantity of each of its
 * components. Definitions live with the tenant's network (`kits` in Redis, the `kits` table
 * in MySQL) and are versioned with it (meta `nv`), so a plan made with one definition is never
 * applied under another (STALE_NETWORK). Pure: the planner and the model both call these.
 */
import { byPriority, isNetwork, type NetworkState } from './network.js';
import { compareBytes, PAIR_SEP, pairOf } from './pairs.js';
import { DEFAULT_LOCATION, type Command, type KitComponent, type KitTag } from './types.js';

export type { KitComponent } from './types.js';

/** The most components a kit may have (kit.defined). */
export const MAX_KIT_COMPONENTS = 50;

/**
 * Kits available from per-component availability: the least, over the components, of
 * floor(available / quantity), never below 0.
 */
export function kitsAvailable(
  components: readonly KitComponent[],
  available: (sku: string) => number,
): number {
  let n = Infinity;
  for (const c of components)
    n = Math.min(n, Math.floor(Math.max(available(c.sku), 0) / c.quantity));
  return Number.isFinite(n) ? n : 0;
}

/**
 * A command whose lines name kits, with each kit line replaced by its components' lines, and
 * the tags that say so (`tags` absent when no line named a kit). Lines of one SKU-location
 * (routed: of one SKU) are then summed into one, in the order first named. cart.added and
 * cart.removed keep the kit SKU and carry its components (`kit`): their scripts take or give
 * back the components together (at one location when reserving).
 */
export function expandKits(
  c: Command,
  kits: ReadonlyMap<string, KitComponent[]>,
): { command: Command; tags?: KitTag[] } {
  if (kits.size === 0) return { command: c };
  const tags = new Map<string, KitTag>();
  const tag = (kit: string, sku: string, units: number | undefined) => {
    const k = kit + PAIR_SEP + sku;
    const t = tags.get(k);
    if (!t) tags.set(k, units === undefined ? { kit, sku } : { kit, sku, quantity: units });
    else if (t.quantity !== undefined && units !== undefined) t.quantity += units;
    else delete t.quantity;
  };
  const expand = <L extends { sku: string; quantity: number }>(lines: L[]): L[] => {
    if (!lines.some((l) => kits.has(l.sku))) return lines;
    const out: L[] = [];
    for (const l of lines) {
      const comps = kits.get(l.sku);
      if (!comps) out.push(l);
      else
        for (const k of comps) {
          out.push({ ...l, sku: k.sku, quantity: l.quantity * k.quantity });
          tag(l.sku, k.sku, l.quantity * k.quantity);
        }
    }
    return out;
  };
  let command: Command = c;
  switch (c.op) {
    case 'reserveCart':
    case 'releaseCart': {
      if (c.op === 'releaseCart' && c.mode !== 'remove') break;
      const comps = kits.get(c.sku);
      if (!comps) break;
      for (const k of comps)
        tag(c.sku, k.sku, c.quantity === undefined ? undefined : c.quantity * k.quantity);
      command = { ...c, kit: comps };
      break;
    }
    case 'placeOrder':
    case 'updateOrder':
    case 'fulfilShipment': {
      const lines = mergeLines(expand(c.lines), (l) => pairOf(l.sku, l.locationId));
      const extra = c.op === 'placeOrder' ? c.routed : c.unlocated;
      const more = extra && mergeLines(expand(extra), (l) => l.sku);
      if (c.op === 'placeOrder') {
        // routed kits: each one's components go to one location (Route.groups)
        const groups = kitGroups(c.routed, kits);
        command = {
          ...c,
          lines,
          ...(more ? { routed: more } : {}),
          ...(groups.length ? { kitGroups: groups } : {}),
        };
      } else command = { ...c, lines, ...(more ? { unlocated: more } : {}) };
      break;
    }
    case 'commitOrder':
      if (c.lines) command = { ...c, lines: mergeLines(expand(c.lines), lineKey) };
      break;
    case 'returnStock':
      command = {
        ...c,
        lines: mergeLines(expand(c.lines), (l) => lineKey(l) + PAIR_SEP + l.disposition),
      };
      break;
    default:
      break;
  }
  return tags.size === 0 ? { command: c } : { command, tags: [...tags.values()] };
}

const lineKey = (l: { sku: string; locationId: string }) => pairOf(l.sku, l.locationId);

/**
 * The components of the routed lines' kits as groups that must go to one location: groups
 * that share a SKU are one; each sorted, in the order of their first SKU.
 */
function kitGroups(
  routed: { sku: string }[] | undefined,
  kits: ReadonlyMap<string, KitComponent[]>,
): string[][] {
  const groups: Set<string>[] = [];
  for (const l of routed ?? []) {
    const comps = kits.get(l.sku);
    if (!comps) continue;
    let g = new Set(comps.map((k) => k.sku));
    for (let i = groups.length - 1; i >= 0; i--) {
      if ([...groups[i]!].some((s) => g.has(s))) {
        g = new Set([...groups[i]!, ...g]);
        groups.splice(i, 1);
      }
    }
    groups.push(g);
  }
  return groups.map((g) => [...g].sort(compareBytes)).sort((a, b) => compareBytes(a[0]!, b[0]!));
}

/** Lines of one key summed into the first of them (none summed: the same array). */
function mergeLines<L extends { quantity: number }>(lines: L[], key: (l: L) => string): L[] {
  const at = new Map<string, L>();
  const out: L[] = [];
  for (const l of lines) {
    const k = key(l);
    const first = at.get(k);
    if (first) first.quantity += l.quantity;
    else {
      const own = { ...l };
      at.set(k, own);
      out.push(own);
    }
  }
  return out.length === lines.length ? lines : out;
}

/**
 * Where n kits of a cart may be reserved, in the order tried: the named location; outside a
 * network `default`; in one, the tenant's locations (routing order) that stock every component.
 */
export function kitLocations(
  net: NetworkState,
  components: readonly KitComponent[],
  locationId: string | undefined,
): string[] {
  if (locationId !== undefined) return [locationId];
  if (!isNetwork(net)) return [DEFAULT_LOCATION];
  return byPriority(net)
    .filter((l) => components.every((k) => net.bound.has(pairOf(k.sku, l.locationId))))
    .map((l) => l.locationId);
}
