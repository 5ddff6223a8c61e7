import {
  isNetwork,
  referenceOf,
  routeFor,
  routePairs,
  stockedKitSkus,
  unstocked,
  updateFallback,
  type NetworkState,
} from '../domain/network.js';
import { compareBytes, pairOf } from '../domain/pairs.js';
import { DEFAULT_LOCATION, type Command, type Op } from '../domain/types.js';
import type { TenantKeys } from './keys.js';
import { expandKits, kitLocations } from '../domain/kits.js';

/**
 * A planned script call: which script, its own fixed keys (after meta, marker and outbox), the
 * stock pairs whose keys follow, in that order, and its arguments.
 */
export interface Plan {
  script: string;
  keys: string[];
  pairs: string[];
  args: Record<string, unknown>;
  /**
   * Keys passed last, after the pairs' (and their wait queues'), when an event needs them: a
   * script that takes one finds it as KEYS[#KEYS] when its ARGV says so.
   */
  tail?: string[];
}

/** What planning reads: the tenant's keys and network, and the pairs a hold has now. */
export interface PlanContext {
  keys: TenantKeys;
  net: NetworkState;
  holdPairs: (key: string) => Promise<string[]>;
}

type Cmd<O extends Op> = Extract<Command, { op: O }>;
type Planner<O extends Op> = (c: Cmd<O>, x: PlanContext) => Plan | Promise<Plan>;

/**
 * The script call that applies a command: its own script (one name per operation), or
 * `rejectEvent` when it names a kit SKU as stock of its own (`kit-sku`) or a SKU-location the
 * tenant's network does not stock.
 */
export function plan(named: Command, x: PlanContext): Plan | Promise<Plan> {
  // lines naming kits become their components' (domain/kits.ts); the tags go to the payload
  const { command: c, tags } = expandKits(named, x.net.kits);
  if (tags) {
    const tagged = (p: Plan): Plan => ({ ...p, args: { ...p.args, kits: tags } });
    const p = planExpanded(c, x);
    return p instanceof Promise ? p.then(tagged) : tagged(p);
  }
  return planExpanded(c, x);
}

function planExpanded(c: Command, x: PlanContext): Plan | Promise<Plan> {
  // a kit has no stock of its own (checked first: a kit SKU is never bound either)
  if (stockedKitSkus(x.net.kits, c).length > 0) {
    return {
      script: 'rejectEvent',
      keys: [],
      pairs: [],
      args: { outcome: { result: 'rejected', reason: 'kit-sku', ...referenceOf(c) } },
    };
  }
  const refused = unstocked(x.net, c);
  if (refused.length > 0) {
    return {
      script: 'rejectEvent',
      keys: [],
      pairs: [],
      args: {
        outcome: {
          result: 'rejected',
          reason: 'location-not-stocked',
          unstocked: refused,
          ...referenceOf(c),
        },
      },
    };
  }
  return (PLANNERS[c.op] as Planner<typeof c.op>)(c as never, x);
}

const one = (sku: string, loc: string) => [pairOf(sku, loc)];
/** How long a timed removal is remembered when the command does not say (the default cart TTL). */
const DEFAULT_REMEMBER_MS = 3_600_000;

/** stock.received: one pair. */
function receiveStockCall(c: Cmd<'receiveStock'>, _x: PlanContext): Plan {
  return {
    script: 'receiveStock',
    keys: [],
    pairs: one(c.sku, c.locationId),
    args: { quantity: c.quantity, reference: c.reference },
  };
}

/** stock.adjusted: one pair. */
function adjustStockCall(c: Cmd<'adjustStock'>, _x: PlanContext): Plan {
  return {
    script: 'adjustStock',
    keys: [],
    pairs: one(c.sku, c.locationId),
    args: { delta: c.delta, reason: c.reason },
  };
}

/** stock.counted: one pair. */
function countStockCall(c: Cmd<'countStock'>, _x: PlanContext): Plan {
  return {
    script: 'countStock',
    keys: [],
    pairs: one(c.sku, c.locationId),
    args: { onHand: c.onHand },
  };
}

/** stock.configured: one pair and its settings. */
function configureStockCall(c: Cmd<'configureStock'>, _x: PlanContext): Plan {
  return {
    script: 'configureStock',
    keys: [],
    pairs: one(c.sku, c.locationId),
    args: {
      reorderLevel: c.reorderLevel,
      reorderQuantity: c.reorderQuantity,
      policy: c.policy,
      policyLimit: c.policyLimit,
      preorderUntil: c.preorderUntil,
    },
  };
}

/** cart.added: the named pair, else the route's candidates in a network (`default` outside one). */
function reserveCartCall(c: Cmd<'reserveCart'>, x: PlanContext): Plan {
  const args: Record<string, unknown> = {
    cartId: c.cartId,
    sku: c.sku,
    quantity: c.quantity,
    ttlMs: c.ttlMs,
  };
  // timed: the cart's removals that may have overtaken it are looked up (CartRemovals)
  const tail = c.at !== undefined ? [x.keys.cartRemovals(c.cartId)] : undefined;
  if (c.at !== undefined) args.at = c.at;
  if (c.kit) {
    // a kit: every component at one location, the first of these that has them all
    const locs = kitLocations(x.net, c.kit, c.locationId);
    return {
      script: 'reserveCart',
      keys: [x.keys.cart(c.cartId), x.keys.cartExpiries],
      pairs: locs.flatMap((l) => c.kit!.map((k) => pairOf(k.sku, l))),
      args: { ...args, kit: { locs, components: c.kit.map((k) => [k.sku, k.quantity]) } },
      ...(tail ? { tail } : {}),
    };
  }
  if (c.locationId === undefined && isNetwork(x.net)) {
    const route = routeFor(x.net, [c.sku]);
    return {
      script: 'reserveCart',
      keys: [x.keys.cart(c.cartId), x.keys.cartExpiries],
      pairs: routePairs(route),
      args: { ...args, route },
      ...(tail ? { tail } : {}),
    };
  }
  return {
    script: 'reserveCart',
    keys: [x.keys.cart(c.cartId), x.keys.cartExpiries],
    pairs: one(c.sku, c.locationId ?? DEFAULT_LOCATION),
    args,
    ...(tail ? { tail } : {}),
  };
}

/** cart.checkout-started: the cart and the expiry set only; nothing moves. */
function extendCartCall(c: Cmd<'extendCart'>, x: PlanContext): Plan {
  return {
    script: 'extendCart',
    keys: [x.keys.cart(c.cartId), x.keys.cartExpiries],
    pairs: [],
    args: { cartId: c.cartId, ttlMs: c.ttlMs, ttlFromEvent: c.ttlFromEvent },
  };
}

/** tenant.configured: the tenant's meta hash only (KEYS[1]); absent settings stay absent. */
function configureTenantCall(c: Cmd<'configureTenant'>, _x: PlanContext): Plan {
  return {
    script: 'configureTenant',
    keys: [],
    pairs: [],
    args: {
      at: c.at,
      cartTtlSeconds: c.cartTtlSeconds,
      checkoutTtlSeconds: c.checkoutTtlSeconds,
      defaultReorderLevel: c.defaultReorderLevel,
    },
  };
}

/** the reconciliation's repair of one pair's wait queue. */
function requeueWaitingCall(c: Cmd<'requeueWaiting'>, _x: PlanContext): Plan {
  return {
    script: 'requeueWaiting',
    keys: [],
    pairs: one(c.sku, c.locationId),
    args: { members: c.members },
  };
}

/** cart.removed / cart.cleared / cart expiry: the pairs the cart holds. */
async function releaseCartCall(c: Cmd<'releaseCart'>, x: PlanContext): Promise<Plan> {
  const key = x.keys.cart(c.cartId);
  return {
    script: 'releaseCart',
    keys: [key, x.keys.cartExpiries],
    pairs: await x.holdPairs(key),
    args: {
      cartId: c.cartId,
      mode: c.mode,
      ...(c.mode === 'remove' ? { sku: c.sku, quantity: c.quantity } : {}),
      ...(c.mode === 'remove' && c.kit
        ? { kit: { components: c.kit.map((k) => [k.sku, k.quantity]) } }
        : {}),
      ...(c.mode === 'expire' ? { expiresAt: c.expiresAt } : {}),
      ...(c.mode !== 'expire' && c.at !== undefined
        ? { at: c.at, rememberMs: c.rememberMs ?? DEFAULT_REMEMBER_MS }
        : {}),
    },
    ...(c.mode !== 'expire' && c.at !== undefined ? { tail: [x.keys.cartRemovals(c.cartId)] } : {}),
  };
}

/** order.placed: its lines, its cart's pairs, and the route's candidates for lines naming no location. */
function placeOrderCall(c: Cmd<'placeOrder'>, x: PlanContext): Plan | Promise<Plan> {
  // an order with no cart reads nothing first: planned at once, so it reaches Redis in its
  // delivery's place among the others planned at once (see Engine.applyValid)
  if (c.cartId === undefined) return placeOrderPlan(c, x, `${x.keys.base}cart-none`, []);
  const cartKey = x.keys.cart(c.cartId);
  return x.holdPairs(cartKey).then((cartPairs) => placeOrderPlan(c, x, cartKey, cartPairs));
}

function placeOrderPlan(
  c: Cmd<'placeOrder'>,
  x: PlanContext,
  cartKey: string,
  cartPairs: string[],
): Plan {
  // outside a network, lines naming no location are at `default`, as they always were
  const routing = isNetwork(x.net);
  const routed = routing ? (c.routed ?? []) : [];
  const located = routing
    ? c.lines
    : [...c.lines, ...(c.routed ?? []).map((l) => ({ ...l, locationId: DEFAULT_LOCATION }))];
  const route =
    routed.length > 0
      ? {
          ...routeFor(
            x.net,
            routed.map((l) => l.sku),
            c.destination,
          ),
          ...(c.kitGroups ? { groups: c.kitGroups } : {}),
        }
      : undefined;
  return {
    script: 'placeOrder',
    keys: [x.keys.order(c.orderId), cartKey, x.keys.cartExpiries],
    pairs: union(union(linePairs(located), cartPairs), route ? routePairs(route) : []),
    args: {
      orderId: c.orderId,
      cartId: c.cartId,
      lines: located,
      ...(route ? { routed, route } : {}),
      ...(c.cartId !== undefined && c.at !== undefined
        ? { at: c.at, rememberMs: c.rememberMs ?? DEFAULT_REMEMBER_MS }
        : {}),
    },
    ...(c.cartId !== undefined && c.at !== undefined
      ? { tail: [x.keys.cartRemovals(c.cartId)] }
      : {}),
  };
}

/** payment.succeeded: the lines it brings and the pairs the order holds. */
async function commitOrderCall(c: Cmd<'commitOrder'>, x: PlanContext): Promise<Plan> {
  const key = x.keys.order(c.orderId);
  return {
    script: 'commitOrder',
    keys: [key, x.keys.cartExpiries],
    pairs: union(linePairs(c.lines ?? []), await x.holdPairs(key)),
    args: { orderId: c.orderId, paymentId: c.paymentId, lines: c.lines },
  };
}

/** payment.failed / order.cancelled: the pairs the order holds. */
async function releaseOrderCall(c: Cmd<'releaseOrder'>, x: PlanContext): Promise<Plan> {
  const key = x.keys.order(c.orderId);
  return {
    script: 'releaseOrder',
    keys: [key],
    pairs: await x.holdPairs(key),
    args:
      c.mode === 'payfail'
        ? { orderId: c.orderId, mode: 'payfail' }
        : { orderId: c.orderId, mode: 'cancel', reason: c.reason },
  };
}

/** shipment.created: its lines; for lines naming no location, the order's pairs and `default`. */
async function fulfilShipmentCall(c: Cmd<'fulfilShipment'>, x: PlanContext): Promise<Plan> {
  const key = x.keys.order(c.orderId);
  const unlocated = c.unlocated ?? [];
  const fallback = unlocated.map((l) => pairOf(l.sku, DEFAULT_LOCATION));
  return {
    script: 'fulfilShipment',
    keys: [key],
    pairs: unlocated.length
      ? union(union(linePairs(c.lines), await x.holdPairs(key)), fallback)
      : linePairs(c.lines),
    args: {
      shipmentId: c.shipmentId,
      orderId: c.orderId,
      lines: c.lines,
      ...(unlocated.length ? { unlocated, fallback: DEFAULT_LOCATION } : {}),
    },
  };
}

/**
 * order.updated: its lines and the pairs the order has; for lines naming no location, the
 * fallback pair of each SKU (updateFallback) in case the order does not have it.
 */
async function updateOrderCall(c: Cmd<'updateOrder'>, x: PlanContext): Promise<Plan> {
  const key = x.keys.order(c.orderId);
  const unlocated = c.unlocated ?? [];
  const fallbacks: Record<string, string> = {};
  for (const l of unlocated) fallbacks[l.sku] = updateFallback(x.net, l.sku);
  const fallbackPairs = Object.keys(fallbacks)
    .sort(compareBytes)
    .map((s) => pairOf(s, fallbacks[s]!));
  return {
    script: 'updateOrder',
    keys: [key, x.keys.cartExpiries],
    pairs: union(union(linePairs(c.lines), await x.holdPairs(key)), fallbackPairs),
    args: {
      orderId: c.orderId,
      lines: c.lines,
      ...(unlocated.length ? { unlocated, fallbacks } : {}),
    },
  };
}

/** shipment.cancelled: the order's pairs (the shipment's are among them: it left `shipped`). */
async function voidShipmentCall(c: Cmd<'voidShipment'>, x: PlanContext): Promise<Plan> {
  const key = x.keys.order(c.orderId);
  return {
    script: 'voidShipment',
    keys: [key],
    pairs: await x.holdPairs(key),
    args: { shipmentId: c.shipmentId, orderId: c.orderId },
  };
}

/** rma.passed: its lines. */
function returnStockCall(c: Cmd<'returnStock'>, _x: PlanContext): Plan {
  return {
    script: 'returnStock',
    keys: [],
    pairs: linePairs(c.lines),
    args: { rmaId: c.rmaId, lines: c.lines },
  };
}

/** transfer.shipped: each SKU at both ends. */
function shipTransferCall(c: Cmd<'shipTransfer'>, x: PlanContext): Plan {
  const skus = [...new Set(c.lines.map((l) => l.sku))];
  return {
    script: 'shipTransfer',
    keys: [x.keys.transfer(c.transferId)],
    pairs: [
      ...skus.map((s) => pairOf(s, c.fromLocationId)),
      ...skus.map((s) => pairOf(s, c.toLocationId)),
    ],
    args: {
      transferId: c.transferId,
      fromLocationId: c.fromLocationId,
      toLocationId: c.toLocationId,
      lines: c.lines,
    },
  };
}

/** transfer.received: the pairs in transit. */
async function receiveTransferCall(c: Cmd<'receiveTransfer'>, x: PlanContext): Promise<Plan> {
  const key = x.keys.transfer(c.transferId);
  return {
    script: 'receiveTransfer',
    keys: [key],
    pairs: await x.holdPairs(key),
    args: { transferId: c.transferId, ...(c.lines ? { lines: c.lines } : {}) },
  };
}

/** transfer.created: a record only, no pair. */
function createTransferCall(c: Cmd<'createTransfer'>, x: PlanContext): Plan {
  return {
    script: 'createTransfer',
    keys: [x.keys.transfer(c.transferId)],
    pairs: [],
    args: {
      transferId: c.transferId,
      fromLocationId: c.fromLocationId,
      toLocationId: c.toLocationId,
      lines: c.lines,
    },
  };
}

/** transfer.cancelled: a record only, no pair. */
function cancelTransferCall(c: Cmd<'cancelTransfer'>, x: PlanContext): Plan {
  return {
    script: 'cancelTransfer',
    keys: [x.keys.transfer(c.transferId)],
    pairs: [],
    args: { transferId: c.transferId, reason: c.reason },
  };
}

/** location.upserted: the locations hash. */
function upsertLocationCall(c: Cmd<'upsertLocation'>, x: PlanContext): Plan {
  return {
    script: 'upsertLocation',
    keys: [x.keys.locations],
    pairs: [],
    args: {
      locationId: c.locationId,
      name: c.name,
      priority: c.priority,
      shipsTo: c.shipsTo,
    },
  };
}

/** location.bound / location.unbound: each SKU at the location. */
function bindLocationCall(c: Cmd<'bindLocation'>, x: PlanContext): Plan {
  const skus = [...new Set(c.skus)].sort(compareBytes);
  return {
    script: 'bindLocation',
    keys: [x.keys.locations, x.keys.bindings],
    pairs: skus.map((s) => pairOf(s, c.locationId)),
    args: { locationId: c.locationId, skus, bound: c.bound },
  };
}

/** kit.defined: the kits hash (the script checks every kit for kit-in-kit). */
function defineKitCall(c: Cmd<'defineKit'>, x: PlanContext): Plan {
  return {
    script: 'defineKit',
    keys: [x.keys.kits],
    pairs: [],
    args: {
      sku: c.sku,
      components: [...c.components]
        .sort((a, b) => compareBytes(a.sku, b.sku))
        .map((k) => ({ sku: k.sku, quantity: k.quantity })),
    },
  };
}

/** kit.removed: the kits hash. */
function removeKitCall(c: Cmd<'removeKit'>, x: PlanContext): Plan {
  return { script: 'removeKit', keys: [x.keys.kits], pairs: [], args: { sku: c.sku } };
}

const PLANNERS: { [O in Op]: Planner<O> } = {
  receiveStock: receiveStockCall,
  adjustStock: adjustStockCall,
  countStock: countStockCall,
  configureStock: configureStockCall,
  reserveCart: reserveCartCall,
  extendCart: extendCartCall,
  configureTenant: configureTenantCall,
  requeueWaiting: requeueWaitingCall,
  releaseCart: releaseCartCall,
  placeOrder: placeOrderCall,
  commitOrder: commitOrderCall,
  releaseOrder: releaseOrderCall,
  fulfilShipment: fulfilShipmentCall,
  updateOrder: updateOrderCall,
  voidShipment: voidShipmentCall,
  returnStock: returnStockCall,
  shipTransfer: shipTransferCall,
  receiveTransfer: receiveTransferCall,
  createTransfer: createTransferCall,
  cancelTransfer: cancelTransferCall,
  upsertLocation: upsertLocationCall,
  bindLocation: bindLocationCall,
  defineKit: defineKitCall,
  removeKit: removeKitCall,
};

function linePairs(lines: { sku: string; locationId: string }[]): string[] {
  return [...new Set(lines.map((l) => pairOf(l.sku, l.locationId)))];
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}
