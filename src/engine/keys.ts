/**
 * Redis key layout. Every key of one tenant shares the hash tag `{tenant}`, so every script
 * call (which only ever touches one tenant) runs unchanged on Redis Cluster.
 *
 *   <prefix>:{<tenant>}:meta                    hash: epoch (missing = tenant not loaded)
 *   <prefix>:{<tenant>}:outbox                  stream: payloads waiting for the ledger mirror
 *   <prefix>:{<tenant>}:evt:<source>\x1f<id>    string: marker of an applied event
 *   <prefix>:{<tenant>}:stock:<sku>\x1f<loc>    hash: figures and reorder settings
 *   <prefix>:{<tenant>}:cart:<cartId>           hash: cart hold
 *   <prefix>:{<tenant>}:order:<orderId>         hash: order hold
 *   <prefix>:{<tenant>}:transfer:<transferId>   hash: transfer record
 *   <prefix>:{<tenant>}:locs                    hash: locationId -> JSON {name, priority, shipsTo}
 *   <prefix>:{<tenant>}:bind                    hash: <sku>\x1f<loc> -> 1 (the SKUs each location stocks)
 *   <prefix>:{<tenant>}:kits                    hash: kit sku -> JSON [[component sku, quantity], ...]
 *   <prefix>:{<tenant>}:cartexp                 sorted set: open cartId -> its expiry (ms)
 *   <prefix>:{<tenant>}:cartrm:<cartId>         hash: what the cart's removals could not find
 *                                               (`*` cleared at, <sku> `<at>|<units or all>`)
 *   <prefix>:{<tenant>}:wait:<sku>\x1f<loc>     sorted set: cart:<id> / order:<id> waiting for
 *                                               stock at the pair -> place in the queue
 *   <prefix>:{<tenant>}:instock                 hash: sku -> how many of its stock hashes have
 *                                               available > 0 (no field: none); the scripts
 *                                               build its name from meta's (see finish in
 *                                               src/lua/includes/stock.lua)
 *
 * The meta hash also has `nv`, the version of locs and bind (bumped by every change),
 * `wseq`, the last place given in a wait queue, on a Redis Cluster `node`, the id of the
 * node that writes the tenant (see NODE_CHANGED in src/lua/includes/base.lua); `isc`: the
 * load built `instock` (a tenant loaded by a version before it has none, and no SKU totals
 * until it is loaded again); and the tenant's settings (tenant.configured): `cfg:<name>` its
 * value, `cfgAt:<name>` the time of the event that last set or cleared it (see
 * src/lua/configureTenant-3.lua).
 *
 * The separator \x1f cannot occur in ids, which are printable characters only.
 */
import { PAIR_SEP } from '../domain/pairs.js';

export { pairOf, splitPair } from '../domain/pairs.js';

export class TenantKeys {
  readonly base: string;

  constructor(
    prefix: string,
    readonly tenant: string,
  ) {
    this.base = `${prefix}:{${tenant}}:`;
  }

  get meta(): string {
    return `${this.base}meta`;
  }
  get outbox(): string {
    return `${this.base}outbox`;
  }
  marker(source: string, id: string): string {
    return `${this.base}evt:${source}${PAIR_SEP}${id}`;
  }
  stock(pair: string): string {
    return `${this.base}stock:${pair}`;
  }
  cart(cartId: string): string {
    return `${this.base}cart:${cartId}`;
  }
  /** What a cart's removals and clearings could not find to release (see CartRemovals). */
  cartRemovals(cartId: string): string {
    return `${this.base}cartrm:${cartId}`;
  }
  order(orderId: string): string {
    return `${this.base}order:${orderId}`;
  }
  transfer(transferId: string): string {
    return `${this.base}transfer:${transferId}`;
  }
  get locations(): string {
    return `${this.base}locs`;
  }
  get bindings(): string {
    return `${this.base}bind`;
  }
  /** The tenant's kit definitions (part of its network: changes bump meta `nv`). */
  get kits(): string {
    return `${this.base}kits`;
  }
  /** The open carts by expiry, kept by the scripts that change cart holds. */
  get cartExpiries(): string {
    return `${this.base}cartexp`;
  }
  /** Per SKU, how many of its locations are in stock (available > 0): the SKU's total. */
  get inStock(): string {
    return `${this.base}instock`;
  }
  /** The holds waiting for stock at the pair, in the order they started waiting. */
  wait(pair: string): string {
    return `${this.base}wait:${pair}`;
  }
  /** Pattern matching every event marker of the tenant (for SCAN). */
  get markers(): string {
    return `${this.all.slice(0, -1)}evt:*`;
  }
  /** Pattern matching every key of the tenant (for SCAN). */
  get all(): string {
    return `${this.base.replace(/[*?[\]\\]/g, '\\$&')}*`;
  }
}

/** Pattern of every tenant's meta key under a prefix. */
export const metaPattern = (prefix: string): string => `${prefix}:{*}:meta`;
