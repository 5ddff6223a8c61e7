/**
 * Kits (bundles): a kit SKU has no stock of its own; n kits are n × quantity of each of its
 * components. Definitions live with the tenant's network (`kits` in Redis, the `kits` table
 * in MySQL) and are versioned with it (meta `nv`), so a plan made with one definition is never
 * applied under another (STALE_NETWORK). Pure: the planner and the model both call these.
 */

/** One component of a kit: `quantity` units of `sku` per kit. */
export interface KitComponent {
  sku: string;
  quantity: number;
}

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
