/**
 * The operations of the model, one function per Lua script (src/lua/<name>-N+.lua), written
 * statement for statement in the same order so that movements, holds and alerts match.
 */
import {
  DEFAULT_LOCATION,
  TENANT_SETTINGS,
  type Command,
  type HoldKind,
  type Outcome,
  type ShortLine,
} from './types.js';
import { EventContext, holdLine, sumLines } from './model-context.js';
import { waitingOf, type HoldState } from './model-state.js';
import { compareBytes, pairOf, sortedKeys, splitPair } from './pairs.js';
import {
  CANCELLED_SHIPMENT,
  decodeShipment,
  encodeShipment,
  type ShipmentLine,
} from './shipment-record.js';
import { expandKits, kitLocations, type KitComponent } from './kits.js';
import {
  allocate,
  isNetwork,
  NETWORK_LOCATION,
  referenceOf,
  routeFor,
  stockedKitSkus,
  unstocked,
  updateFallback,
} from './network.js';

/** A precondition has not arrived: nothing is written, not even the event marker. */
export interface NotYet {
  notYet: string;
}

type Result = Outcome | NotYet;

type Cmd<O extends Command['op']> = Extract<Command, { op: O }>;

const applied = (reason?: string): Outcome => ({
  result: 'applied',
  ...(reason ? { reason } : {}),
});
const ignored = (reason: string): Outcome => ({ result: 'ignored', reason });
/** A refused reservation names every short line and the hold that was refused. */
const insufficient = (
  short: ShortLine[],
  referenceType: HoldKind,
  referenceId: string,
): Outcome => ({
  result: 'rejected',
  reason: 'insufficient-stock',
  short,
  referenceType,
  referenceId,
});

export function runCommand(ctx: EventContext, named: Command): Result {
  // lines naming kits become their components' (domain/kits.ts), as the planner does
  const { command: c, tags } = expandKits(named, ctx.net.kits);
  if (tags) ctx.kits = tags;
  // rejectEvent-3.lua: the planner refuses a kit SKU named as stock, then SKU-locations the
  // network does not stock
  if (stockedKitSkus(ctx.net.kits, c).length > 0)
    return { result: 'rejected', reason: 'kit-sku', ...referenceOf(c) };
  const refused = unstocked(ctx.net, c);
  if (refused.length > 0) {
    return {
      result: 'rejected',
      reason: 'location-not-stocked',
      unstocked: refused,
      ...referenceOf(c),
    };
  }
  switch (c.op) {
    case 'receiveStock':
      return receiveStock(ctx, c);
    case 'adjustStock':
      return adjustStock(ctx, c);
    case 'countStock':
      return countStock(ctx, c);
    case 'configureStock':
      return configureStock(ctx, c);
    case 'reserveCart':
      if (c.kit) return reserveKit(ctx, { ...c, kit: c.kit });
      if (c.locationId !== undefined) return reserveCart(ctx, { ...c, locationId: c.locationId });
      return isNetwork(ctx.net)
        ? routeCart(ctx, c)
        : reserveCart(ctx, { ...c, locationId: DEFAULT_LOCATION });
    case 'releaseCart':
      return c.mode === 'remove'
        ? releaseCart(ctx, c.cartId, 'remove', {
            sku: c.sku,
            quantity: c.quantity,
            at: c.at,
            kit: c.kit,
          })
        : c.mode === 'clear'
          ? releaseCart(ctx, c.cartId, 'clear', { at: c.at })
          : releaseCart(ctx, c.cartId, 'expire', { expiresAt: c.expiresAt });
    case 'extendCart':
      return extendCart(ctx, c);
    case 'configureTenant':
      return configureTenant(ctx, c);
    case 'requeueWaiting':
      return requeueWaiting(ctx, c);
    case 'placeOrder':
      return placeOrder(ctx, c);
    case 'commitOrder':
      return commitOrder(ctx, c);
    case 'releaseOrder':
      return c.mode === 'payfail'
        ? releaseOrder(ctx, c.orderId, 'payfail')
        : releaseOrder(ctx, c.orderId, 'cancel', c.reason);
    case 'fulfilShipment':
      return fulfilShipment(ctx, c);
    case 'updateOrder':
      return updateOrder(ctx, c);
    case 'voidShipment':
      return voidShipment(ctx, c);
    case 'returnStock':
      return returnStock(ctx, c);
    case 'shipTransfer':
      return shipTransfer(ctx, c);
    case 'receiveTransfer':
      return receiveTransfer(ctx, c);
    case 'createTransfer':
      return createTransfer(ctx, c);
    case 'cancelTransfer':
      return cancelTransfer(ctx, c);
    case 'upsertLocation':
      return upsertLocation(ctx, c);
    case 'bindLocation':
      return bindLocation(ctx, c);
    case 'defineKit':
      return defineKit(ctx, c);
    case 'removeKit':
      return removeKit(ctx, c);
  }
}

function receiveStock(ctx: EventContext, c: Cmd<'receiveStock'>): Result {
  const p = pairOf(c.sku, c.locationId);
  ctx.move(p, 'received', [c.quantity], 'receipt', c.reference ?? ctx.meta.id);
  return applied();
}

function adjustStock(ctx: EventContext, c: Cmd<'adjustStock'>): Result {
  const p = pairOf(c.sku, c.locationId);
  if (ctx.stock(p).onHand + c.delta < 0) return { result: 'rejected', reason: 'negative-on-hand' };
  ctx.move(p, 'adjusted', [c.delta], 'adjustment', ctx.meta.id, c.reason);
  return applied();
}

/** requeueWaiting-3+.lua: the named holds waiting at the pair unqueued join its queue. */
function requeueWaiting(ctx: EventContext, c: Cmd<'requeueWaiting'>): Result {
  const p = pairOf(c.sku, c.locationId);
  ctx.stock(p);
  for (const m of c.members) {
    const i = m.indexOf(':');
    const kind = m.slice(0, i);
    const id = m.slice(i + 1);
    if (kind !== 'cart' && kind !== 'order') continue;
    const l = ctx.loadHold(kind, id).lines.get(p);
    // enqueue leaves a hold that is queued already in its place
    if (l && waitingOf(l) > 0) ctx.enqueue(p, kind, id);
  }
  return applied();
}

function countStock(ctx: EventContext, c: Cmd<'countStock'>): Result {
  const p = pairOf(c.sku, c.locationId);
  ctx.move(p, 'counted', [c.onHand - ctx.stock(p).onHand], 'count', ctx.meta.id, 'count');
  return applied();
}

function configureStock(ctx: EventContext, c: Cmd<'configureStock'>): Result {
  const s = ctx.stock(pairOf(c.sku, c.locationId));
  if (c.reorderLevel !== undefined) s.reorderLevel = c.reorderLevel;
  if (c.reorderQuantity !== undefined) s.reorderQuantity = c.reorderQuantity;
  if (c.policy === 'deny') delete s.policy;
  else if (c.policy !== undefined) s.policy = c.policy;
  if (c.policyLimit !== undefined) s.policyLimit = c.policyLimit;
  if (c.preorderUntil === null) delete s.preorderUntil;
  else if (c.preorderUntil !== undefined) s.preorderUntil = c.preorderUntil;
  s.cfgDirty = true;
  ctx.config.push({
    sku: s.sku,
    locationId: s.locationId,
    reorderLevel: s.reorderLevel ?? null,
    reorderQuantity: s.reorderQuantity ?? null,
    policy: s.policy ?? 'deny',
    policyLimit: s.policyLimit ?? 0,
    preorderUntil: s.preorderUntil ?? null,
  });
  return applied();
}

/**
 * A cart's expiry after an addition: now + its TTL, unless it is open with a later one (a
 * checkout's, cart.checkout-started): an addition never shortens it.
 */
function slidExpiry(cart: HoldState, next: number): number {
  return cart.state === 'open' && cart.expiresAt !== undefined && cart.expiresAt > next
    ? cart.expiresAt
    : next;
}

/**
 * A timed addition that a removal or clearing of the cart applied already, but later by time,
 * took back (part of): what is cut from it, and how to write what that removal is still owed.
 */
function removedLater(
  ctx: EventContext,
  c: Cmd<'reserveCart'>,
): { cut: number; settle: () => void } | undefined {
  if (c.at === undefined) return undefined;
  const r = ctx.cartRemovals(c.cartId);
  if (r.clearedAt !== undefined && c.at < r.clearedAt) return { cut: c.quantity, settle: () => {} };
  const s = r.skus.get(c.sku);
  if (!s || !(c.at < s.at)) return undefined;
  if (s.units === 'all') return { cut: c.quantity, settle: () => {} };
  const cut = Math.min(c.quantity, s.units);
  const owed = s.units - cut;
  return {
    cut,
    settle: () => {
      if (owed > 0) r.skus.set(c.sku, { at: s.at, units: owed });
      else r.skus.delete(c.sku);
    },
  };
}

/** Timed removals and clearings remember what they did not find (releaseCart-5+.lua). */
function rememberRemoval(
  ctx: EventContext,
  cartId: string,
  mode: 'remove' | 'clear' | 'expire',
  a: { sku?: string; at?: number | undefined },
  unfound: number | 'all',
): void {
  if (a.at === undefined || mode === 'expire') return;
  const r = ctx.cartRemovals(cartId);
  if (mode === 'clear') {
    if (r.clearedAt === undefined || r.clearedAt < a.at) r.clearedAt = a.at;
    return;
  }
  if (unfound !== 'all' && unfound <= 0) return;
  const was = r.skus.get(a.sku!);
  const at = was && was.at > a.at ? was.at : a.at;
  const units = !was
    ? unfound
    : was.units === 'all' || unfound === 'all'
      ? 'all'
      : was.units + unfound;
  r.skus.set(a.sku!, { at, units });
}

/**
 * What every cart.added does first (reserveCart-5+.lua's generic path): the cart, unless it
 * became an order; the addition less what a removal later by time took back (`later`), ignored
 * when that is all of it.
 */
function cartAddition<C extends Cmd<'reserveCart'>>(
  ctx: EventContext,
  c0: C,
): { outcome: Outcome } | { cart: HoldState; c: C; later: ReturnType<typeof removedLater> } {
  const cart = ctx.loadHold('cart', c0.cartId);
  const later = removedLater(ctx, c0);
  if (cart.state === 'converted') return { outcome: ignored('cart-converted') };
  const c = later ? { ...c0, quantity: c0.quantity - later.cut } : c0;
  if (later && c.quantity === 0) {
    later.settle();
    return { outcome: ignored('removed-later') };
  }
  return { cart, c, later };
}

function reserveCart(ctx: EventContext, c0: Cmd<'reserveCart'> & { locationId: string }): Result {
  const add = cartAddition(ctx, c0);
  if ('outcome' in add) return add.outcome;
  const { cart, c, later } = add;
  const p = pairOf(c.sku, c.locationId);
  // what is available is held; beyond it the pair's policy may let the rest wait
  const sup = ctx.supply(p, c.quantity);
  if (sup.short) {
    const s = ctx.stock(p);
    const short = {
      sku: s.sku,
      locationId: s.locationId,
      requested: c.quantity,
      available: sup.can!,
    };
    return insufficient([short], 'cart', c.cartId);
  }
  ctx.move(p, 'reserved', [0, sup.backed], 'cart', c.cartId);
  holdLine(cart, p).held += sup.backed;
  if (sup.rest > 0) ctx.wait(cart, 'cart', c.cartId, p, sup.rest, sup.backing!);
  cart.expiresAt = slidExpiry(cart, ctx.now + cartTtlMs(ctx, c));
  cart.state = 'open';
  ctx.saveHold('cart', c.cartId, cart);
  later?.settle();
  return applied();
}

/**
 * reserveCart-5+.lua with a kit: `quantity` x its quantity of every component at the first
 * location (kitLocations) where all of them are available, stock on hand only; else nothing.
 */
function reserveKit(ctx: EventContext, c0: Cmd<'reserveCart'> & { kit: KitComponent[] }): Result {
  const add = cartAddition(ctx, c0);
  if ('outcome' in add) return add.outcome;
  const { cart, c, later } = add;
  let chosen: string | undefined;
  let short: ShortLine[] | undefined;
  for (const loc of kitLocations(ctx.net, c.kit, c.locationId)) {
    const miss: ShortLine[] = [];
    for (const k of c.kit) {
      const s = ctx.stock(pairOf(k.sku, loc));
      const av = s.onHand - s.reserved - s.unavailable;
      const want = c.quantity * k.quantity;
      if (av < want)
        miss.push({ sku: k.sku, locationId: loc, requested: want, available: Math.max(av, 0) });
    }
    if (miss.length === 0) {
      chosen = loc;
      break;
    }
    short ??= miss;
  }
  if (chosen === undefined) {
    // no location stocks every component: each is short everywhere
    short ??= c.kit.map((k) => ({
      sku: k.sku,
      locationId: NETWORK_LOCATION,
      requested: c.quantity * k.quantity,
      available: 0,
    }));
    return insufficient(short, 'cart', c.cartId);
  }
  for (const k of c.kit) {
    const p = pairOf(k.sku, chosen);
    ctx.move(p, 'reserved', [0, c.quantity * k.quantity], 'cart', c.cartId);
    holdLine(cart, p).held += c.quantity * k.quantity;
  }
  cart.expiresAt = slidExpiry(cart, ctx.now + cartTtlMs(ctx, c));
  cart.state = 'open';
  ctx.saveHold('cart', c.cartId, cart);
  later?.settle();
  return applied();
}

/** The tenant's cart TTL (tenant.configured), else the environment's the command carries. */
function cartTtlMs(ctx: EventContext, c: Cmd<'reserveCart'>): number {
  const s = ctx.settings.cartTtlSeconds;
  return s !== null ? s * 1000 : c.ttlMs;
}

/**
 * configureTenant-3.lua: each setting named is set (null clears it) unless an event with a
 * later time set it; ignored/older-settings when none was.
 */
function configureTenant(ctx: EventContext, c: Cmd<'configureTenant'>): Result {
  const s = ctx.settings;
  for (const name of TENANT_SETTINGS) {
    const v = c[name];
    if (v === undefined) continue;
    const at = s.setAt[name];
    if (at !== undefined && at > c.at) continue;
    s[name] = v;
    s.setAt[name] = c.at;
    ctx.settingsChanged = true;
  }
  return ctx.settingsChanged ? applied() : ignored('older-settings');
}

/** extendCart-5.lua: an open cart lasts at least `ttlMs` from now; never shortened. */
function extendCart(ctx: EventContext, c: Cmd<'extendCart'>): Result {
  const cart = ctx.loadHold('cart', c.cartId);
  if (cart.state !== 'open')
    return ignored(cart.state === 'converted' ? 'cart-converted' : 'no-cart-hold');
  // the event's TTL, else the tenant's (tenant.configured), else the environment's
  const tenantTtl = ctx.settings.checkoutTtlSeconds;
  const ttlMs = !c.ttlFromEvent && tenantTtl !== null ? tenantTtl * 1000 : c.ttlMs;
  const until = ctx.now + ttlMs;
  if (cart.expiresAt !== undefined && cart.expiresAt >= until) return ignored('expires-later');
  cart.expiresAt = until;
  ctx.saveHold('cart', c.cartId, cart);
  return applied();
}

/** reserveCart-5+.lua with a route: the SKU is allocated across the network's locations. */
function routeCart(ctx: EventContext, c0: Cmd<'reserveCart'>): Result {
  const add = cartAddition(ctx, c0);
  if ('outcome' in add) return add.outcome;
  const { cart, c, later } = add;
  const route = routeFor(ctx.net, [c.sku]);
  const { alloc, short } = allocate(route, new Map([[c.sku, c.quantity]]), (p) => {
    const s = ctx.stock(p);
    return s.onHand - s.reserved - s.unavailable;
  });
  if (short.length) return insufficient(short, 'cart', c.cartId);
  for (const p of sortedKeys(alloc)) {
    ctx.move(p, 'reserved', [0, alloc.get(p)!], 'cart', c.cartId);
    holdLine(cart, p).held += alloc.get(p)!;
  }
  cart.expiresAt = slidExpiry(cart, ctx.now + cartTtlMs(ctx, c));
  cart.state = 'open';
  ctx.saveHold('cart', c.cartId, cart);
  later?.settle();
  return applied();
}

function releaseCart(
  ctx: EventContext,
  cartId: string,
  mode: 'remove' | 'clear' | 'expire',
  a: {
    sku?: string;
    quantity?: number | undefined;
    expiresAt?: number;
    at?: number | undefined;
    kit?: KitComponent[] | undefined;
  },
): Result {
  const cart = ctx.loadHold('cart', cartId);
  const held = sortedKeys(cart.lines);
  if (cart.state !== 'open') {
    rememberRemoval(ctx, cartId, mode, a, a.quantity ?? 'all');
    return ignored('no-cart-hold');
  }
  if (mode === 'expire' && cart.expiresAt !== a.expiresAt) return ignored('cart-refreshed');
  const kind = mode === 'expire' ? 'expired' : 'released';
  let left = a.quantity;
  // a kit: units to release by component SKU (no quantity: every whole kit the cart holds)
  let takes: Map<string, number> | undefined;
  if (a.kit) {
    const units = (sku: string) =>
      held
        .filter((p) => splitPair(p).sku === sku)
        .reduce((n, p) => n + cart.lines.get(p)!.held + waitingOf(cart.lines.get(p)!), 0);
    const n = a.quantity ?? Math.min(...a.kit.map((k) => Math.floor(units(k.sku) / k.quantity)));
    takes = new Map(a.kit.map((k) => [k.sku, n * k.quantity]));
  }
  let moved = false;
  for (const p of held) {
    const l = cart.lines.get(p)!;
    const sku = splitPair(p).sku;
    let lim = takes ? takes.get(sku) : left;
    if (mode !== 'remove' || (takes ? lim !== undefined : sku === a.sku)) {
      let q = l.held + waitingOf(l);
      if (lim !== undefined) {
        q = Math.min(q, lim);
        lim -= q;
        if (takes) takes.set(sku, lim);
        else left = lim;
      }
      if (q > 0) {
        // waiting units go first: what is backed by stock stays held longest
        const [wb, wp] = ctx.unwait(l, 'cart', cartId, p, q);
        const fromHeld = q - wb - wp;
        ctx.move(p, kind, [0, -fromHeld, 0, 0, 0, -wb, -wp], 'cart', cartId);
        l.held -= fromHeld;
        moved = true;
      }
    }
  }
  // a kit's units not found count in kits: the most any component still lacks
  if (takes && a.quantity !== undefined)
    left = Math.max(0, ...a.kit!.map((k) => Math.ceil(takes.get(k.sku)! / k.quantity)));
  rememberRemoval(ctx, cartId, mode, a, a.quantity !== undefined ? left! : 'all');
  if (!moved) return ignored('nothing-held');
  if (held.some((p) => cart.lines.get(p)!.held + waitingOf(cart.lines.get(p)!) > 0)) {
    ctx.saveHold('cart', cartId, cart);
  } else {
    cart.state = mode === 'expire' ? 'expired' : 'released';
    ctx.saveHold('cart', cartId, cart, { drop: true });
  }
  return applied();
}

function placeOrder(ctx: EventContext, c: Cmd<'placeOrder'>): Result {
  const order = ctx.loadHold('order', c.orderId);
  const cart = ctx.loadHold('cart', c.cartId);
  const prior = order.state;
  if (prior !== undefined && prior !== 'prepaid' && prior !== 'payfailed') {
    const why = prior === 'cancelled' ? 'order-cancelled' : 'order-exists';
    if (cart.state !== 'open') {
      rememberTakeover(ctx, c, cart);
      return ignored(why);
    }
    // the payment, cancellation or shipment came first; the cart still became this order
    convertCart(ctx, cart, c.cartId!, c.orderId, why);
    return applied(why);
  }
  const cartOpen = cart.state === 'open';
  const routing = isNetwork(ctx.net);
  const lines = routing
    ? c.lines
    : [...c.lines, ...(c.routed ?? []).map((l) => ({ ...l, locationId: DEFAULT_LOCATION }))];
  const need = sumLines(lines);
  // what the cart has at a pair, held or waiting: the order takes it over (held first)
  const cartHas = (p: string) => {
    const l = cartOpen ? cart.lines.get(p) : undefined;
    return l ? l.held + waitingOf(l) : 0;
  };
  const take = new Map<string, number>();
  for (const [p, q] of need) take.set(p, Math.min(cartHas(p), q));
  const routed = routing ? (c.routed ?? []) : [];
  if (routed.length > 0) {
    const want = new Map<string, number>();
    for (const l of routed) want.set(l.sku, (want.get(l.sku) ?? 0) + l.quantity);
    // routed demand uses stock on hand only: the cart's held units, not its waiting ones
    const cartHeld = (p: string) => (cartOpen ? (cart.lines.get(p)?.held ?? 0) : 0);
    const route = {
      ...routeFor(
        ctx.net,
        routed.map((l) => l.sku),
        c.destination,
      ),
      ...(c.kitGroups ? { groups: c.kitGroups } : {}),
    };
    const { alloc, short } = allocate(route, want, (p) => {
      const s = ctx.stock(p);
      return s.onHand - s.reserved - s.unavailable + cartHeld(p) - (need.get(p) ?? 0);
    });
    if (short.length) return insufficient(short, 'order', c.orderId);
    for (const [p, q] of alloc) {
      need.set(p, (need.get(p) ?? 0) + q);
      take.set(p, Math.min(cartHas(p), need.get(p)!));
    }
  }
  // beyond what the cart gives, what is available; beyond that what the policy lets wait
  const { supplies, short } = ctx.supplyLines(need, take);
  if (short.length) return insufficient(short, 'order', c.orderId);
  const needPairs = sortedKeys(need);
  for (const p of needPairs) {
    const sup = supplies.get(p)!;
    ctx.move(p, 'reserved', [0, sup.backed], 'order', c.orderId);
    const l = holdLine(order, p);
    l.ordered = need.get(p)!;
    l.held += sup.backed;
    const t = take.get(p)!;
    if (t > 0) {
      // the cart's units become the order's: held first, then waiting (the order takes the
      // cart's place in the queue)
      const cl = cart.lines.get(p)!;
      const th = Math.min(cl.held, t);
      cl.held -= th;
      l.held += th;
      if (t > th) {
        const place = ctx.placeOf(p, 'cart', c.cartId!);
        const [tb, tp] = ctx.unwait(cl, 'cart', c.cartId!, p, t - th);
        l.backordered += tb;
        l.preordered += tp;
        ctx.enqueue(p, 'order', c.orderId, place);
      }
    }
    if (sup.rest > 0) ctx.wait(order, 'order', c.orderId, p, sup.rest, sup.backing!);
  }
  if (cartOpen) {
    // what the order did not take over is released
    convertCart(ctx, cart, c.cartId!, c.orderId, 'not-ordered');
    order.link = c.cartId!;
  } else {
    rememberTakeover(ctx, c, cart);
  }
  order.state = 'placed';
  if (prior !== undefined) settleEarlyPayment(ctx, order, c.orderId, needPairs, prior);
  ctx.saveHold('order', c.orderId, order);
  return applied();
}

/**
 * A timed order whose cart is not open yet overtook the cart's additions: the cart remembers
 * its time as a clearing, so that they are not held when they come (placeOrder-6+.lua).
 */
function rememberTakeover(ctx: EventContext, c: Cmd<'placeOrder'>, cart: HoldState): void {
  if (c.at === undefined || c.cartId === undefined) return;
  if (cart.state === 'open' || cart.state === 'converted') return;
  const r = ctx.cartRemovals(c.cartId);
  if (r.clearedAt === undefined || r.clearedAt < c.at) r.clearedAt = c.at;
}

/** The cart becomes the order: every unit it still has, held or waiting, is released. */
function convertCart(
  ctx: EventContext,
  cart: HoldState,
  cartId: string,
  orderId: string,
  reason: string,
): void {
  for (const p of sortedKeys(cart.lines)) {
    const l = cart.lines.get(p)!;
    const [wb, wp] = ctx.unwait(l, 'cart', cartId, p, waitingOf(l));
    ctx.move(p, 'released', [0, -l.held, 0, 0, 0, -wb, -wp], 'cart', cartId, reason);
    l.held = 0;
  }
  cart.state = 'converted';
  cart.link = orderId;
  delete cart.expiresAt;
  ctx.saveHold('cart', cartId, cart, { keep: true });
}

/**
 * A payment that came before its order: a success commits what the new order holds (waiting
 * units are committed as they are filled); a failure releases all of it.
 */
function settleEarlyPayment(
  ctx: EventContext,
  order: HoldState,
  orderId: string,
  pairs: string[],
  prior: 'prepaid' | 'payfailed',
): void {
  if (prior === 'prepaid') {
    for (const p of pairs)
      ctx.move(p, 'committed', [0, 0, order.lines.get(p)!.held], 'order', orderId);
    order.state = 'paid';
    return;
  }
  for (const p of pairs) {
    const l = order.lines.get(p)!;
    const [wb, wp] = ctx.unwait(l, 'order', orderId, p, waitingOf(l));
    ctx.move(p, 'released', [0, -l.held, 0, 0, 0, -wb, -wp], 'order', orderId, 'payment-failed');
    l.held = 0;
  }
  order.state = 'released';
}

function commitOrder(ctx: EventContext, c: Cmd<'commitOrder'>): Result {
  const order = ctx.loadHold('order', c.orderId);
  if (order.paid) return ignored('already-committed');
  if (order.state === 'cancelled') return ignored('order-cancelled');
  order.paid = true;
  order.paymentId = c.paymentId;
  if (order.state === 'placed') {
    for (const p of sortedKeys(order.lines)) {
      ctx.move(p, 'committed', [0, 0, order.lines.get(p)!.held], 'order', c.orderId);
    }
    order.state = 'paid';
  } else if (order.state !== 'fulfilled') {
    // no hold (unknown, payfailed or released): reserve now if the lines are known
    let need = new Map<string, number>();
    if (c.lines !== undefined && c.lines.length > 0) {
      need = sumLines(c.lines);
    } else {
      for (const [p, l] of order.lines) if (l.ordered > 0) need.set(p, l.ordered);
    }
    // units already shipped (payment.failed after a partial shipment) are not held again
    for (const p of sortedKeys(need)) {
      const shipped = order.lines.get(p)?.shipped ?? 0;
      if (shipped > 0) {
        if (need.get(p)! > shipped) need.set(p, need.get(p)! - shipped);
        else need.delete(p);
      }
    }
    const needPairs = sortedKeys(need);
    if (needPairs.length === 0 && order.state === 'released') {
      // placed, released, and every unit shipped since: only the payment is recorded
      order.state = 'fulfilled';
      ctx.saveHold('order', c.orderId, order);
      return applied();
    }
    if (needPairs.length === 0) {
      order.state = 'prepaid';
      ctx.saveHold('order', c.orderId, order);
      return applied('awaiting-order');
    }
    // what is available, and beyond it what the pair's policy lets wait
    const { supplies, short } = ctx.supplyLines(need);
    if (short.length) return insufficient(short, 'order', c.orderId);
    for (const p of needPairs) {
      const q = need.get(p)!;
      const sup = supplies.get(p)!;
      ctx.move(p, 'reserved', [0, sup.backed], 'order', c.orderId);
      ctx.move(p, 'committed', [0, 0, sup.backed], 'order', c.orderId);
      const l = holdLine(order, p);
      l.held = sup.backed;
      if (l.ordered === 0) l.ordered = q;
      // beyond what is available, waiting: committed as it is filled
      if (sup.rest > 0) ctx.wait(order, 'order', c.orderId, p, sup.rest, sup.backing!);
    }
    order.state = 'paid';
  }
  ctx.saveHold('order', c.orderId, order);
  return applied();
}

function releaseOrder(
  ctx: EventContext,
  orderId: string,
  mode: 'payfail' | 'cancel',
  reason?: string,
): Result {
  const order = ctx.loadHold('order', orderId);
  const st = order.state;
  if (mode === 'payfail') {
    if (order.paid) return ignored('already-committed');
    if (st === undefined) {
      order.state = 'payfailed';
      ctx.saveHold('order', orderId, order, { keep: true });
      return applied('awaiting-order');
    }
    if (st !== 'placed') return ignored('nothing-held');
  } else if (st === 'cancelled') {
    return ignored('order-cancelled');
  }
  const paid = order.paid === true;
  const why = mode === 'payfail' ? 'payment-failed' : (reason ?? 'cancelled');
  for (const p of sortedKeys(order.lines)) {
    const l = order.lines.get(p)!;
    if (l.held + waitingOf(l) > 0) {
      const [wb, wp] = ctx.unwait(l, 'order', orderId, p, waitingOf(l));
      ctx.move(
        p,
        'released',
        [0, -l.held, paid ? -l.held : 0, 0, 0, -wb, -wp],
        'order',
        orderId,
        why,
      );
      l.held = 0;
    }
  }
  if (mode === 'payfail') {
    order.state = 'released';
    ctx.saveHold('order', orderId, order);
  } else {
    order.state = 'cancelled';
    ctx.saveHold('order', orderId, order, { keep: true });
  }
  return applied();
}

function fulfilShipment(ctx: EventContext, c: Cmd<'fulfilShipment'>): Result {
  const order = ctx.loadHold('order', c.orderId);
  // a shipment id names one shipment of the order: shipped (or cancelled) once
  if (order.shipments?.has(c.shipmentId)) return ignored('shipment-exists');
  const paid = order.paid === true;
  const ship = sumLines(c.lines);
  if (c.unlocated?.length) {
    const ps = sortedKeys(order.lines);
    const want = new Map<string, number>();
    for (const l of c.unlocated) want.set(l.sku, (want.get(l.sku) ?? 0) + l.quantity);
    for (const sku of [...want.keys()].sort(compareBytes)) {
      let rem = want.get(sku)!;
      let first: string | undefined;
      for (const p of ps) {
        if (splitPair(p).sku !== sku) continue;
        first ??= p;
        // what the order has there, held or waiting
        const l = order.lines.get(p)!;
        const t = Math.min(Math.max(l.held + waitingOf(l) - (ship.get(p) ?? 0), 0), rem);
        if (t > 0) {
          ship.set(p, (ship.get(p) ?? 0) + t);
          rem -= t;
        }
      }
      if (rem > 0) {
        const p = first ?? pairOf(sku, DEFAULT_LOCATION);
        ship.set(p, (ship.get(p) ?? 0) + rem);
      }
    }
  }
  const record = new Map<string, ShipmentLine>();
  for (const p of sortedKeys(ship)) {
    const q = ship.get(p)!;
    const l = holdLine(order, p);
    const fromHold = Math.min(q, l.held);
    // beyond the held units, the waiting ones: they were physically there after all
    const [wb, wp] = ctx.unwait(l, 'order', c.orderId, p, q - fromHold);
    const owed = fromHold + wb + wp;
    record.set(p, { held: owed, beyond: q - owed });
    ctx.move(
      p,
      'shipped',
      [-q, -fromHold, paid ? -fromHold : 0, 0, 0, -wb, -wp],
      'order',
      c.orderId,
    );
    l.held -= fromHold;
    l.shipped += q;
  }
  const holding = [...order.lines.values()].some((l) => l.held + waitingOf(l) > 0);
  const st = order.state;
  if (st === undefined || st === 'prepaid' || st === 'payfailed') {
    // shipped before order.placed reached us: a later order.placed must not hold again
    order.state = 'fulfilled';
  } else if (!holding && (st === 'placed' || st === 'paid')) {
    order.state = 'fulfilled';
  }
  (order.shipments ??= new Map()).set(c.shipmentId, encodeShipment(record));
  // a cancelled order keeps the expiry releaseOrder gave it
  ctx.saveHold('order', c.orderId, order, { keep: order.state === 'cancelled' });
  return applied();
}

/**
 * updateOrder-5+.lua: order.updated, the order's complete new lines. The hold at each pair
 * becomes the new quantity less what shipped there: what grows is reserved (all or nothing;
 * beyond what is available, what the pair's policy lets wait; committed when the order is
 * paid), what shrinks is released (waiting units first; reason `order-updated`). A line below
 * what shipped is refused (`below-shipped`). Before order.placed: not yet (retried); after
 * order.cancelled: ignored. A released order (payment failed) records the new lines only.
 * New lines equal to the order's (a late duplicate): ignored (`unchanged`).
 */
function updateOrder(ctx: EventContext, c: Cmd<'updateOrder'>): Result {
  const order = ctx.loadHold('order', c.orderId);
  const st = order.state;
  if (st === 'cancelled') return ignored('order-cancelled');
  if (st === undefined || st === 'prepaid' || st === 'payfailed') {
    return { notYet: 'order-not-placed' };
  }
  const want = sumLines(c.lines);
  const had = sortedKeys(order.lines);
  for (const l of c.unlocated ?? []) {
    const p =
      had.find((q) => splitPair(q).sku === l.sku) ?? pairOf(l.sku, updateFallback(ctx.net, l.sku));
    want.set(p, (want.get(p) ?? 0) + l.quantity);
  }
  const all = sortedKeys(new Map([...order.lines, ...want].map(([p]) => [p, 0])));
  let changed = false;
  for (const p of all) {
    const l = order.lines.get(p);
    const q = want.get(p) ?? 0;
    if (q < (l?.shipped ?? 0)) return { result: 'rejected', reason: 'below-shipped' };
    if (q !== (l?.ordered ?? 0)) changed = true;
  }
  const holding = st === 'placed' || st === 'paid' || st === 'fulfilled';
  // the hold each pair grows to (need), beyond what it has (credit)
  const need = new Map<string, number>();
  const credit = new Map<string, number>();
  for (const p of all) {
    const l = order.lines.get(p);
    const cur = l ? l.held + waitingOf(l) : 0;
    const target = (want.get(p) ?? 0) - (l?.shipped ?? 0);
    if (holding && target !== cur) changed = true;
    if (holding && target > cur) {
      need.set(p, target);
      credit.set(p, cur);
    }
  }
  if (!changed) return ignored('unchanged');
  const { supplies, short } = ctx.supplyLines(need, credit);
  if (short.length) return insufficient(short, 'order', c.orderId);
  const paid = order.paid === true;
  for (const p of all) {
    const l = holdLine(order, p);
    if (holding) {
      const cur = l.held + waitingOf(l);
      const target = (want.get(p) ?? 0) - l.shipped;
      if (target > cur) {
        const sup = supplies.get(p)!;
        ctx.move(p, 'reserved', [0, sup.backed], 'order', c.orderId);
        if (paid) ctx.move(p, 'committed', [0, 0, sup.backed], 'order', c.orderId);
        l.held += sup.backed;
        if (sup.rest > 0) ctx.wait(order, 'order', c.orderId, p, sup.rest, sup.backing!);
      } else if (target < cur) {
        const [wb, wp] = ctx.unwait(l, 'order', c.orderId, p, cur - target);
        const dh = cur - target - wb - wp;
        ctx.move(
          p,
          'released',
          [0, -dh, paid ? -dh : 0, 0, 0, -wb, -wp],
          'order',
          c.orderId,
          'order-updated',
        );
        l.held -= dh;
      }
    }
    l.ordered = want.get(p) ?? 0;
  }
  if (holding) {
    const holds = [...order.lines.values()].some((l) => l.held + waitingOf(l) > 0);
    order.state = holds ? (paid ? 'paid' : 'placed') : 'fulfilled';
  }
  ctx.saveHold('order', c.orderId, order);
  return holding ? applied() : applied('order-released');
}

/**
 * voidShipment-4+.lua: a shipment voided before it left. Its units come back on hand; those the
 * order was owed go back into its hold (committed when paid) while the order still holds
 * (placed, paid or fulfilled), else they become available. Each pair is a `shipped` movement
 * with the signs turned (reason `shipment-cancelled`), so units sold net out.
 */
function voidShipment(ctx: EventContext, c: Cmd<'voidShipment'>): Result {
  const order = ctx.loadHold('order', c.orderId);
  const text = order.shipments?.get(c.shipmentId);
  if (text === undefined) return ignored('unknown-shipment');
  const record = decodeShipment(text);
  if (!record) return ignored('shipment-cancelled');
  const paid = order.paid === true;
  const st = order.state;
  const holding = st === 'placed' || st === 'paid' || st === 'fulfilled';
  for (const p of sortedKeys(record)) {
    const { held, beyond } = record.get(p)!;
    const back = holding ? held : 0;
    const l = holdLine(order, p);
    ctx.move(
      p,
      'shipped',
      [held + beyond, back, paid ? back : 0],
      'order',
      c.orderId,
      'shipment-cancelled',
    );
    l.held += back;
    l.shipped -= held + beyond;
  }
  if (st === 'fulfilled' && [...order.lines.values()].some((l) => l.held > 0))
    order.state = paid ? 'paid' : 'placed';
  order.shipments!.set(c.shipmentId, CANCELLED_SHIPMENT);
  ctx.saveHold('order', c.orderId, order, { keep: st === 'cancelled' });
  return applied();
}

function returnStock(ctx: EventContext, c: Cmd<'returnStock'>): Result {
  // lines in the order given, not sorted: the script walks them so
  for (const l of c.lines) {
    const p = pairOf(l.sku, l.locationId);
    const q = l.quantity;
    if (l.disposition === 'quarantine')
      ctx.move(p, 'returned', [q, 0, 0, q], 'rma', c.rmaId, 'quarantine');
    else ctx.move(p, 'returned', [q], 'rma', c.rmaId, 'restock');
  }
  return applied();
}

function shipTransfer(ctx: EventContext, c: Cmd<'shipTransfer'>): Result {
  const tr = ctx.loadHold('transfer', c.transferId);
  if (tr.version > 0 && tr.state !== 'created')
    return ignored(tr.state === 'cancelled' ? 'transfer-cancelled' : 'transfer-exists');
  if (tr.version > 0 && (tr.from !== c.fromLocationId || tr.to !== c.toLocationId)) {
    return {
      result: 'rejected',
      reason: 'transfer-mismatch',
      referenceType: 'transfer',
      referenceId: c.transferId,
    };
  }
  const qty = new Map<string, number>();
  for (const l of c.lines) qty.set(l.sku, (qty.get(l.sku) ?? 0) + l.quantity);
  const out = new Map([...qty].map(([sku, q]) => [pairOf(sku, c.fromLocationId), q]));
  const short = ctx.shortLines(out);
  if (short.length) return insufficient(short, 'transfer', c.transferId);
  for (const l of tr.lines.values()) l.ordered = 0;
  for (const sku of sortedKeys(qty)) {
    const q = qty.get(sku)!;
    ctx.move(pairOf(sku, c.fromLocationId), 'transfer_out', [-q], 'transfer', c.transferId);
    const to = pairOf(sku, c.toLocationId);
    ctx.move(to, 'transfer_in_transit', [0, 0, 0, 0, q], 'transfer', c.transferId);
    const l = holdLine(tr, to);
    l.held = q;
    l.ordered = q;
  }
  tr.state = 'shipped';
  tr.from = c.fromLocationId;
  tr.to = c.toLocationId;
  ctx.saveHold('transfer', c.transferId, tr);
  return applied();
}

function receiveTransfer(ctx: EventContext, c: Cmd<'receiveTransfer'>): Result {
  const tr = ctx.loadHold('transfer', c.transferId);
  if (tr.version === 0 || tr.state === 'created') return { notYet: 'transfer-not-shipped' };
  if (tr.state === 'received') return ignored('transfer-received');
  if (tr.state === 'cancelled') return ignored('transfer-cancelled');
  const take = new Map<string, number>();
  if (c.lines) {
    const qty = new Map<string, number>();
    for (const l of c.lines) qty.set(l.sku, (qty.get(l.sku) ?? 0) + l.quantity);
    for (const sku of sortedKeys(qty)) {
      const p = pairOf(sku, tr.to!);
      const l = tr.lines.get(p);
      if (!l || l.held < qty.get(sku)!) {
        return {
          result: 'rejected',
          reason: 'exceeds-in-transit',
          referenceType: 'transfer',
          referenceId: c.transferId,
        };
      }
      take.set(p, qty.get(sku)!);
    }
  } else {
    for (const [p, l] of tr.lines) take.set(p, l.held);
  }
  let left = 0;
  for (const p of sortedKeys(tr.lines)) {
    const l = tr.lines.get(p)!;
    const q = take.get(p) ?? 0;
    ctx.move(p, 'transfer_received', [q, 0, 0, 0, -q], 'transfer', c.transferId);
    l.held -= q;
    l.shipped += q;
    left += l.held;
  }
  tr.state = left > 0 ? 'receiving' : 'received';
  ctx.saveHold('transfer', c.transferId, tr);
  return applied();
}

function createTransfer(ctx: EventContext, c: Cmd<'createTransfer'>): Result {
  const tr = ctx.loadHold('transfer', c.transferId);
  if (tr.version > 0) return ignored('transfer-exists');
  const qty = new Map<string, number>();
  for (const l of c.lines) qty.set(l.sku, (qty.get(l.sku) ?? 0) + l.quantity);
  for (const sku of sortedKeys(qty))
    holdLine(tr, pairOf(sku, c.toLocationId)).ordered = qty.get(sku)!;
  tr.state = 'created';
  tr.from = c.fromLocationId;
  tr.to = c.toLocationId;
  ctx.saveHold('transfer', c.transferId, tr);
  return applied();
}

function cancelTransfer(ctx: EventContext, c: Cmd<'cancelTransfer'>): Result {
  const tr = ctx.loadHold('transfer', c.transferId);
  if (tr.state === 'cancelled') return ignored('transfer-cancelled');
  const existed = tr.version > 0;
  if (existed && tr.state !== 'created') {
    return {
      result: 'rejected',
      reason: 'transfer-shipped',
      referenceType: 'transfer',
      referenceId: c.transferId,
    };
  }
  tr.state = 'cancelled';
  ctx.saveHold('transfer', c.transferId, tr);
  return applied(existed ? undefined : 'cancelled-before-created');
}

function upsertLocation(ctx: EventContext, c: Cmd<'upsertLocation'>): Result {
  const def = { locationId: c.locationId, name: c.name, priority: c.priority, shipsTo: c.shipsTo };
  ctx.net.locations.set(c.locationId, def);
  ctx.network.push({ kind: 'location', ...def });
  return applied();
}

function bindLocation(ctx: EventContext, c: Cmd<'bindLocation'>): Result {
  if (!ctx.net.locations.has(c.locationId))
    return { result: 'rejected', reason: 'unknown-location' };
  const skus = [...new Set(c.skus)].sort(compareBytes);
  if (!c.bound) {
    let busy = false;
    for (const sku of skus) {
      const s = ctx.stock(pairOf(sku, c.locationId));
      if (
        s.onHand !== 0 ||
        s.reserved !== 0 ||
        s.unavailable !== 0 ||
        s.incoming !== 0 ||
        s.backordered !== 0 ||
        s.preordered !== 0
      )
        busy = true;
    }
    if (busy) return { result: 'rejected', reason: 'location-has-stock' };
  }
  for (const sku of skus) {
    const p = pairOf(sku, c.locationId);
    if (c.bound) ctx.net.bound.add(p);
    else ctx.net.bound.delete(p);
    ctx.network.push({ kind: 'binding', sku, locationId: c.locationId, bound: c.bound });
  }
  return applied();
}

/** defineKit-4.lua: no kit inside a kit; an identical definition changes nothing. */
function defineKit(ctx: EventContext, c: Cmd<'defineKit'>): Result {
  const kits = ctx.net.kits;
  if (c.components.some((k) => kits.has(k.sku)))
    return { result: 'rejected', reason: 'kit-in-kit' };
  for (const [sku, comps] of kits)
    if (sku !== c.sku && comps.some((k) => k.sku === c.sku))
      return { result: 'rejected', reason: 'kit-in-kit' };
  const components = [...c.components]
    .sort((a, b) => compareBytes(a.sku, b.sku))
    .map((k) => ({ sku: k.sku, quantity: k.quantity }));
  const before = kits.get(c.sku);
  if (
    before &&
    before.length === components.length &&
    before.every((k, i) => k.sku === components[i]!.sku && k.quantity === components[i]!.quantity)
  )
    return ignored('unchanged');
  kits.set(c.sku, components);
  ctx.network.push({ kind: 'kit', sku: c.sku, components });
  return applied();
}

/** removeKit-4.lua */
function removeKit(ctx: EventContext, c: Cmd<'removeKit'>): Result {
  if (!ctx.net.kits.delete(c.sku)) return ignored('unknown-kit');
  ctx.network.push({ kind: 'kit', sku: c.sku, components: null });
  return applied();
}
