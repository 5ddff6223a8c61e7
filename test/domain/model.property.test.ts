/**
 * The pure model and the Lua engine are the same state machine: random event sequences,
 * applied to both, give the same result, movements, holds, alerts, figures and wait queues
 * after every step, and the invariants of docs/events.md hold in both (waiting units
 * only ever grow within their pair's policy).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { pairOf, TenantKeys } from '../../src/engine/keys.js';
import { compareBytes } from '../../src/domain/pairs.js';
import type { ApplyResult, Engine } from '../../src/engine/engine.js';
import { InventoryModel, type HoldState, type ModelResult } from '../../src/domain/model.js';
import {
  checkInvariants,
  checkStep,
  checkView,
  viewOfModel,
  type InventoryView,
} from '../../src/domain/invariants.js';
import type { Command, EventMeta, HoldKind, StockRecord } from '../../src/domain/types.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import {
  compareEntryIds,
  DEDUP_TTL_SECONDS,
  readView,
  readWaits,
  testEngine,
  type HoldRead,
} from '../support/engine-harness.js';
import { checkFastPaths, FAST_PATH_SCRIPTS, type FastPathCounts } from '../support/fast-paths.js';

const NOW = 1_800_000_000_000;
const TTL = 60 * 60 * 1000;
const RUNS = Number(process.env.PROPERTY_RUNS ?? 80);
const SEED =
  process.env.PROPERTY_SEED === undefined ? undefined : Number(process.env.PROPERTY_SEED);
const MAX_STEPS = 60;

// Byte order differs from a naive locale order here: 'Sku-B' < 'sku-a' < 'sku-a.2'.
const SKUS = ['sku-a', 'Sku-B', 'sku-a.2'] as const;
const LOCS = ['main', 'north'] as const;
const CARTS = ['c1', 'c2', 'c3'] as const;
const ORDERS = ['o1', 'o2', 'o3'] as const;
const TRANSFERS = ['t1', 't2'] as const;
const PAIRS = SKUS.flatMap((s) => LOCS.map((l) => pairOf(s, l)));
/** Compared after every step: lines naming no location outside a network go to `default`. */
const VIEW_PAIRS = [...PAIRS, ...SKUS.map((s) => pairOf(s, 'default'))];
/** Kit SKUs: a kit undefined at the time is a plain SKU, which may get stock and holds. */
const KITS = ['kit-x', 'kit-y'] as const;
const KIT_PAIRS = KITS.flatMap((s) => [...LOCS, 'default'].map((l) => pairOf(s, l)));
const HOLDS: { kind: HoldKind; id: string }[] = [
  ...CARTS.map((id) => ({ kind: 'cart' as const, id })),
  ...ORDERS.map((id) => ({ kind: 'order' as const, id })),
  ...TRANSFERS.map((id) => ({ kind: 'transfer' as const, id })),
];

const sku = fc.constantFrom(...SKUS);
/** Kits of the SKUs above (kit.defined, domain/kits.ts): lines name them now and then. */
const kitSku = fc.constantFrom(...KITS);
/** A line's SKU: a kit one time in six (a kit not defined at the time is a SKU like another) */
const lineSku = fc.oneof({ weight: 5, arbitrary: sku }, { weight: 1, arbitrary: kitSku });
const defineKit = fc
  .record({
    sku: kitSku,
    components: fc.subarray([...SKUS], { minLength: 1 }),
    quantities: fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 3, maxLength: 3 }),
  })
  .map((c) =>
    clean({
      op: 'defineKit',
      sku: c.sku,
      components: [...c.components]
        .sort(compareBytes)
        .map((s, i) => ({ sku: s, quantity: c.quantities[i]! })),
    }),
  );
const removeKit = kitSku.map((s) => clean({ op: 'removeKit', sku: s }));
const loc = fc.constantFrom(...LOCS);
const qty = fc.integer({ min: 1, max: 5 });
const cartId = fc.constantFrom(...CARTS);
const orderId = fc.constantFrom(...ORDERS);
const transferId = fc.constantFrom(...TRANSFERS);
/** shipment ids are per order: a few, so some are shipped twice and cancelled twice */
const shipmentId = fc.constantFrom('s1', 's2', 's3');
const voidShipment = fc
  .record({ shipmentId, orderId })
  .map((c) => clean({ op: 'voidShipment', ...c }));
const line = fc.record({ sku: lineSku, locationId: loc, quantity: qty });
/** order.updated: the order's whole new lines, some naming no location */
const updateOrder = (
  located: fc.Arbitrary<{ sku: string; locationId: string; quantity: number }>,
) =>
  fc
    .record({
      orderId,
      lines: fc.array(located, { maxLength: 3 }),
      unlocated: fc.array(fc.record({ sku: lineSku, quantity: qty }), { maxLength: 2 }),
    })
    .filter((c) => c.lines.length + c.unlocated.length > 0)
    .map((c) =>
      clean({
        op: 'updateOrder',
        orderId: c.orderId,
        lines: c.lines,
        ...(c.unlocated.length ? { unlocated: c.unlocated } : {}),
      }),
    );
const lines = (max: number) => fc.array(line, { minLength: 1, maxLength: max });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
/**
 * A cart event's CloudEvents `time`, when it has one: close together, so that additions come
 * after removals that are later by time (as with several workers) as often as not.
 */
const at = maybe(fc.integer({ min: NOW - 4, max: NOW + 4 }));
/** Drops undefined fields, as a JSON event would not have them. */
const clean = (o: Record<string, unknown>): Command =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Command;

const skuQty = fc.record({ sku: lineSku, quantity: qty });
const destination = fc.option(
  fc.record({
    country: fc.constantFrom('US', 'CA'),
    region: fc.option(fc.constantFrom('CA', 'NY'), { nil: undefined }),
  }),
  { nil: undefined },
);

/** Locations, bindings, routed carts and orders, transfers planned, cancelled, partly received. */
const networkCommand: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc
      .record({
        locationId: loc,
        priority: fc.integer({ min: 0, max: 3 }),
        shipsTo: fc.subarray(['US', 'US-CA', 'CA']),
      })
      .map((c) => clean({ op: 'upsertLocation', ...c, name: c.locationId })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        locationId: fc.constantFrom(...LOCS, 'ghost'),
        skus: fc.subarray([...SKUS], { minLength: 1 }),
        bound: fc.integer({ min: 0, max: 3 }).map((n) => n > 0),
      })
      .map((c) => clean({ op: 'bindLocation', ...c })),
  },
  {
    weight: 4,
    arbitrary: fc
      .record({ cartId, sku: lineSku, quantity: qty, at })
      .map((c) => clean({ op: 'reserveCart', ...c, ttlMs: TTL })),
  },
  { weight: 1, arbitrary: defineKit },
  {
    weight: 4,
    arbitrary: fc
      .record({
        orderId,
        cartId: maybe(cartId),
        at,
        lines: fc.array(line, { maxLength: 2 }),
        routed: fc.array(skuQty, { minLength: 1, maxLength: 3 }),
        destination,
      })
      .map((c) =>
        clean({ op: 'placeOrder', ...c, destination: c.destination && clean(c.destination) }),
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        transferId,
        forward: fc.boolean(),
        lines: fc.array(fc.record({ sku, quantity: qty }), { minLength: 1, maxLength: 3 }),
      })
      .map(({ transferId: id, forward, lines: l }) =>
        clean({
          op: 'createTransfer',
          transferId: id,
          fromLocationId: forward ? LOCS[0] : LOCS[1],
          toLocationId: forward ? LOCS[1] : LOCS[0],
          lines: l,
        }),
      ),
  },
  {
    weight: 1,
    arbitrary: transferId.map((id) => clean({ op: 'cancelTransfer', transferId: id })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        shipmentId,
        orderId,
        lines: fc.array(line, { maxLength: 1 }),
        unlocated: fc.array(skuQty, { minLength: 1, maxLength: 2 }),
      })
      .map((c) => clean({ op: 'fulfilShipment', ...c })),
  },
  { weight: 1, arbitrary: voidShipment },
  { weight: 2, arbitrary: updateOrder(line) },
  {
    weight: 1,
    arbitrary: fc
      .record({
        transferId,
        lines: fc.array(fc.record({ sku, quantity: qty }), { minLength: 1, maxLength: 2 }),
      })
      .map((c) => clean({ op: 'receiveTransfer', ...c })),
  },
);

/**
 * Selling ahead of stock at a pair: a policy with a small limit, a pre-order end around NOW
 * (the engine's clock: NOW itself already ends pre-orders), sometimes removed.
 */
const policyCommand: fc.Arbitrary<Command> = fc
  .record({
    sku,
    locationId: loc,
    policy: fc.constantFrom('deny' as const, 'backorder' as const, 'preorder' as const),
    policyLimit: maybe(fc.integer({ min: 0, max: 4 })),
    preorderUntil: fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constant(null) },
      { weight: 3, arbitrary: fc.constantFrom(NOW - 1, NOW, NOW + 1, NOW + TTL) },
    ),
  })
  .map((c) => clean({ op: 'configureStock', ...c }));

const cartAdd: fc.Arbitrary<Command> = fc
  .record({ cartId, sku: lineSku, locationId: loc, quantity: qty, at })
  .map((c) => clean({ op: 'reserveCart', ...c, ttlMs: TTL }));
const receive: fc.Arbitrary<Command> = fc
  .record({ sku, locationId: loc, quantity: qty })
  .map((c) => clean({ op: 'receiveStock', ...c }));

const baseCommand: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: cartAdd },
  {
    weight: 2,
    arbitrary: fc
      .record({
        cartId,
        // kits more often: a cart holding a kit's components is rarer than one holding a SKU
        sku: fc.oneof({ weight: 2, arbitrary: sku }, { weight: 1, arbitrary: kitSku }),
        quantity: maybe(qty),
        at,
      })
      .map((c) => clean({ op: 'releaseCart', mode: 'remove', ...c })),
  },
  { weight: 1, arbitrary: defineKit },
  { weight: 2, arbitrary: removeKit },
  {
    weight: 1,
    arbitrary: fc
      .record({ cartId, at })
      .map((c) => clean({ op: 'releaseCart', mode: 'clear', ...c })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ cartId, expiresAt: fc.constantFrom(NOW + TTL, NOW + TTL - 1, NOW + 2 * TTL) })
      .map(({ cartId: id, expiresAt }) =>
        clean({ op: 'releaseCart', mode: 'expire', cartId: id, expiresAt }),
      ),
  },
  {
    // cart.checkout-started: longer than the cart TTL (kept by a later cart.added), or shorter
    weight: 1,
    arbitrary: fc
      .record({
        cartId,
        ttlMs: fc.constantFrom(2 * TTL, TTL - 1),
        ttlFromEvent: maybe(fc.constant(true)),
      })
      .map((c) => clean({ op: 'extendCart', ...c })),
  },
  {
    // tenant.configured: the cart and checkout TTLs (shorter or longer than the defaults; null
    // clears), at one of three times, so that some arrive after a later one
    weight: 1,
    arbitrary: fc
      .record({
        at: fc.constantFrom(NOW - 2000, NOW - 1000, NOW),
        cartTtlSeconds: maybe(fc.constantFrom(null, TTL / 2000, (3 * TTL) / 1000)),
        checkoutTtlSeconds: maybe(fc.constantFrom(null, TTL / 2000, (3 * TTL) / 1000)),
        defaultReorderLevel: maybe(fc.constantFrom(null, 2)),
      })
      .filter(
        (c) =>
          c.cartTtlSeconds !== undefined ||
          c.checkoutTtlSeconds !== undefined ||
          c.defaultReorderLevel !== undefined,
      )
      .map((c) => clean({ op: 'configureTenant', ...c })),
  },
  {
    weight: 4,
    arbitrary: fc
      .record({ orderId, cartId: maybe(cartId), lines: lines(3), at })
      .map((c) => clean({ op: 'placeOrder', ...c })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        orderId,
        paymentId: fc.constantFrom('p1', 'p2'),
        lines: fc.oneof(fc.constant(undefined), lines(2)),
      })
      .map((c) => clean({ op: 'commitOrder', ...c })),
  },
  {
    weight: 2,
    arbitrary: orderId.map((id) =>
      clean({ op: 'releaseOrder', mode: 'payfail', orderId: id, paymentId: 'p1' }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ orderId, reason: maybe(fc.constant('customer')) })
      .map((c) => clean({ op: 'releaseOrder', mode: 'cancel', ...c })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ shipmentId, orderId, lines: lines(2) })
      .map((c) => clean({ op: 'fulfilShipment', ...c })),
  },
  { weight: 2, arbitrary: voidShipment },
  { weight: 3, arbitrary: updateOrder(line) },
  {
    weight: 1,
    arbitrary: fc
      .record({
        rmaId: fc.constant('r1'),
        lines: fc.array(
          fc.record({
            sku: lineSku,
            locationId: loc,
            quantity: qty,
            disposition: fc.constantFrom('restock' as const, 'quarantine' as const),
          }),
          { minLength: 1, maxLength: 2 },
        ),
      })
      .map((c) => clean({ op: 'returnStock', ...c })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        transferId,
        forward: fc.boolean(),
        lines: fc.array(fc.record({ sku, quantity: qty }), { minLength: 1, maxLength: 3 }),
      })
      .map(({ transferId: id, forward, lines: l }) =>
        clean({
          op: 'shipTransfer',
          transferId: id,
          fromLocationId: forward ? LOCS[0] : LOCS[1],
          toLocationId: forward ? LOCS[1] : LOCS[0],
          lines: l,
        }),
      ),
  },
  {
    weight: 2,
    arbitrary: transferId.map((id) => clean({ op: 'receiveTransfer', transferId: id })),
  },
  { weight: 1, arbitrary: receive },
  {
    // a kit has no stock of its own: refused (kit-sku) while it is defined
    weight: 1,
    arbitrary: fc
      .record({ sku: kitSku, locationId: loc, quantity: qty })
      .map((c) => clean({ op: 'receiveStock', ...c })),
  },
  { weight: 1, arbitrary: policyCommand },
  {
    weight: 1,
    arbitrary: fc
      .record({
        sku,
        locationId: loc,
        delta: fc.integer({ min: -6, max: 5 }).map((d) => (d >= 0 ? d + 1 : d)),
      })
      .map((c) => clean({ op: 'adjustStock', ...c, reason: 'damage' })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ sku, locationId: loc, onHand: fc.integer({ min: 0, max: 12 }) })
      .map((c) => clean({ op: 'countStock', ...c })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        sku,
        locationId: loc,
        reorderLevel: maybe(fc.integer({ min: 0, max: 6 })),
        reorderQuantity: maybe(fc.integer({ min: 0, max: 20 })),
      })
      .map((c) => clean({ op: 'configureStock', ...c })),
  },
);

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: baseCommand },
  { weight: 1, arbitrary: networkCommand },
);

/** A step: the command, and sometimes the id of an earlier event (a duplicate delivery). */
const dupOf = fc.oneof(
  { weight: 12, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.nat(1000) },
);
const step = fc.record({ command, dupOf });

/**
 * An order's common life, three steps in a row: placed (from a cart or not), paid, shipped
 * whole or in part. Random steps seldom meet a paid order holding what a shipment names: this
 * is what takes the fast paths of commitOrder and fulfilShipment (test/support/fast-paths.ts).
 */
const lifecycle = fc
  .record({ orderId, cartId: maybe(cartId), lines: lines(2), shipmentId, part: fc.boolean() })
  .map(({ orderId: o, cartId: c, lines: ls, shipmentId: sid, part }) =>
    [
      clean({ op: 'placeOrder', orderId: o, cartId: c, lines: ls }),
      clean({ op: 'commitOrder', orderId: o, paymentId: 'p1' }),
      clean({
        op: 'fulfilShipment',
        orderId: o,
        shipmentId: sid,
        lines: part ? [{ ...ls[0]!, quantity: 1 }] : ls,
      }),
    ].map((command) => ({ command, dupOf: null })),
  );
/**
 * A kit's common life: defined, added to a cart (at a location, or routed) and partly taken
 * out, ordered from the cart (a line naming the kit, with or without a location), edited, paid,
 * shipped in part, returned. Random steps seldom meet a cart or order holding a kit's components.
 */
const kitLife = fc
  .record({
    kit: defineKit,
    cartId,
    orderId,
    locationId: maybe(loc),
    n: fc.integer({ min: 1, max: 3 }),
    removed: maybe(fc.integer({ min: 1, max: 2 })),
    edit: fc.integer({ min: 1, max: 3 }),
    shipmentId,
  })
  .map(({ kit, cartId: c, orderId: o, locationId, n, removed, edit, shipmentId: sid }) => {
    const k = (kit as Extract<Command, { op: 'defineKit' }>).sku;
    const at = locationId ? { locationId } : {};
    const lines = (quantity: number) =>
      locationId ? { lines: [{ sku: k, locationId, quantity }] } : { lines: [] };
    const routed = (quantity: number) => (locationId ? {} : { routed: [{ sku: k, quantity }] });
    const unlocated = (quantity: number) =>
      locationId ? {} : { unlocated: [{ sku: k, quantity }] };
    const shipLoc = locationId ?? 'main';
    return [
      kit,
      clean({ op: 'reserveCart', cartId: c, sku: k, quantity: n + 1, ttlMs: TTL, ...at }),
      clean({ op: 'releaseCart', mode: 'remove', cartId: c, sku: k, quantity: removed }),
      clean({ op: 'placeOrder', orderId: o, cartId: c, ...lines(n), ...routed(n) }),
      clean({ op: 'updateOrder', orderId: o, ...lines(edit), ...unlocated(edit) }),
      clean({ op: 'commitOrder', orderId: o, paymentId: 'p1' }),
      clean({
        op: 'fulfilShipment',
        orderId: o,
        shipmentId: sid,
        lines: [{ sku: k, locationId: shipLoc, quantity: 1 }],
      }),
      clean({
        op: 'returnStock',
        rmaId: 'r1',
        orderId: o,
        lines: [{ sku: k, locationId: shipLoc, quantity: 1, disposition: 'restock' }],
      }),
    ].map((command) => ({ command, dupOf: null }));
  });
/** A transfer shipped, then received (random steps seldom receive what shipped). */
const transferLife = fc
  .record({
    transferId,
    forward: fc.boolean(),
    lines: fc.array(fc.record({ sku, quantity: qty }), { minLength: 1, maxLength: 2 }),
  })
  .map(({ transferId: id, forward, lines: l }) =>
    [
      clean({
        op: 'shipTransfer',
        transferId: id,
        fromLocationId: forward ? LOCS[0] : LOCS[1],
        toLocationId: forward ? LOCS[1] : LOCS[0],
        lines: l,
      }),
      clean({ op: 'receiveTransfer', transferId: id }),
    ].map((command) => ({ command, dupOf: null })),
  );
/** Random steps, a few of them orders', kits' and transfers' lifecycles. */
const steps = fc
  .array(
    fc.oneof(
      { weight: 12, arbitrary: step.map((x) => [x]) },
      { weight: 1, arbitrary: lifecycle },
      { weight: 1, arbitrary: kitLife },
      { weight: 1, arbitrary: transferLife },
    ),
    { minLength: 1, maxLength: MAX_STEPS, size: 'max' },
  )
  .map((xs) => xs.flat().slice(0, MAX_STEPS));

/**
 * Selling ahead of stock, hard: more carts, orders and shipments, and stock arriving to fill
 * them, mostly at two pairs so that they meet.
 */
const hotSku = fc.constantFrom('sku-a', 'Sku-B');
const hotLine = fc.record({ sku: hotSku, locationId: fc.constant('main'), quantity: qty });
const hotLines = fc.array(hotLine, { minLength: 1, maxLength: 2 });
const sellingStep = fc.record({
  command: fc.oneof(
    { weight: 3, arbitrary: baseCommand },
    { weight: 1, arbitrary: networkCommand },
    {
      weight: 2,
      arbitrary: fc
        .record({ cartId, line: hotLine })
        .map(({ cartId: id, line: l }) =>
          clean({ op: 'reserveCart', cartId: id, ...l, ttlMs: TTL }),
        ),
    },
    {
      weight: 2,
      arbitrary: hotLine.map((l) => clean({ op: 'receiveStock', ...l })),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({ orderId, cartId, lines: hotLines, at })
        .map((c) => clean({ op: 'placeOrder', ...c })),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({ orderId, paymentId: fc.constant('p1') })
        .map((c) => clean({ op: 'commitOrder', ...c })),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({ shipmentId, orderId, lines: hotLines })
        .map((c) => clean({ op: 'fulfilShipment', ...c })),
    },
    { weight: 1, arbitrary: voidShipment },
    { weight: 1, arbitrary: updateOrder(hotLine) },
    {
      weight: 1,
      arbitrary: fc
        .record({ cartId, sku: hotSku, quantity: maybe(qty), at })
        .map((c) => clean({ op: 'releaseCart', mode: 'remove', ...c })),
    },
    {
      weight: 1,
      arbitrary: cartId.map((id) =>
        clean({ op: 'releaseCart', mode: 'expire', cartId: id, expiresAt: NOW + TTL }),
      ),
    },
    {
      // the reconciliation's repair of a queue, on queues that never drift: it changes nothing
      weight: 1,
      arbitrary: fc
        .record({
          sku: hotSku,
          members: fc.array(
            fc.oneof(
              cartId.map((id) => `cart:${id}`),
              orderId.map((id) => `order:${id}`),
            ),
            { maxLength: 3 },
          ),
        })
        .map((c) => clean({ op: 'requeueWaiting', ...c, locationId: 'main' })),
    },
  ),
  dupOf,
});

/**
 * How many consecutive steps go to the engine together, window after window (see agree): one
 * run in four alone throughout (every script call alone), the others mostly in windows.
 */
const windows = fc.oneof(
  { weight: 1, arbitrary: fc.constant([] as number[]) },
  {
    weight: 3,
    arbitrary: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 10, maxLength: 80 }),
  },
);

/** Stock at every pair; `low` (runs that sell ahead of stock): little or none, so holds wait. */
const preludeOf = (low: boolean): Command[] =>
  PAIRS.flatMap((p, i) => {
    const [s, l] = p.split('\x1f') as [string, string];
    const quantity = low ? i % 3 : 6 + (i % 3);
    return quantity > 0 ? [{ op: 'receiveStock' as const, sku: s, locationId: l, quantity }] : [];
  });

/** Half the runs start with both kits defined (more are defined and removed as they go). */
const kitPrelude: Command[] = [
  {
    op: 'defineKit',
    sku: 'kit-x',
    components: [
      { sku: 'Sku-B', quantity: 2 },
      { sku: 'sku-a', quantity: 1 },
    ],
  },
  { op: 'defineKit', sku: 'kit-y', components: [{ sku: 'sku-a.2', quantity: 1 }] },
];

/** Half the runs start as a network: both locations, every SKU bound at each. */
const networkPrelude: Command[] = [
  { op: 'upsertLocation', locationId: 'main', name: 'Main', priority: 1, shipsTo: ['US'] },
  {
    op: 'upsertLocation',
    locationId: 'north',
    name: 'North',
    priority: 0,
    shipsTo: ['US-CA', 'CA'],
  },
  ...LOCS.map((l): Command => ({
    op: 'bindLocation',
    locationId: l,
    skus: [...SKUS],
    bound: true,
  })),
];

/** Policies to start with: at most pairs, holds may wait from the start. */
const somePolicies = fc
  .tuple(
    ...PAIRS.map((p) => {
      const [s, l] = p.split('\x1f') as [string, string];
      return fc.oneof(
        { weight: 1, arbitrary: fc.constant([] as Command[]) },
        {
          weight: 4,
          arbitrary: fc
            .record({
              policy: fc.constantFrom('backorder' as const, 'preorder' as const),
              policyLimit: fc.integer({ min: 1, max: 4 }),
              preorderUntil: fc.constantFrom(undefined, NOW + TTL),
            })
            .map((c) => [clean({ op: 'configureStock', sku: s, locationId: l, ...c })]),
        },
      );
    }),
  )
  .map((cs) => cs.flat());

/**
 * A run: the steps after the prelude, policies to start with (`selling`), and whether the
 * prelude stocks the pairs `low`. One run in four sells ahead of stock hard: low stock,
 * policies, and steps that make holds wait and stock fill them.
 */
const runs = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      steps,
      selling: fc.oneof(
        { weight: 1, arbitrary: fc.constant([] as Command[]) },
        { weight: 2, arbitrary: somePolicies },
      ),
      low: fc.constant(false),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      steps: fc.array(sellingStep, { minLength: 1, maxLength: MAX_STEPS, size: 'max' }),
      selling: somePolicies,
      low: fc.constant(true),
    }),
  },
);

/** What both sides return, without the Redis stream ids and envelope fields. */
function comparable(r: ApplyResult | ModelResult) {
  if (r.status === 'applied') {
    const { outcome, movements, holds, config, network, settings } = r.payload;
    return {
      status: r.status,
      outcome,
      movements,
      holds,
      config,
      network: network ?? [],
      settings,
    };
  }
  return r.status === 'duplicate' ? { status: r.status } : r;
}

/** A hold in one shape, whether read from its Redis hash or from the model. */
function holdFromRedis(h: HoldRead) {
  const f = h.fields;
  if (Object.keys(f).length === 0) return undefined;
  const lines: Record<string, [number, number, number, number, number]> = {};
  const shipments: Record<string, string> = {};
  for (const [k, v] of Object.entries(f)) {
    if (k.startsWith('x:')) shipments[k.slice(2)] = v;
    const i = ['h:', 'o:', 's:', 'b:', 'p:'].indexOf(k.slice(0, 2));
    if (i < 0) continue;
    const l = (lines[k.slice(2)] ??= [0, 0, 0, 0, 0]);
    l[i] = Number(v);
  }
  return {
    state: f.st,
    expiresAt: f.exp === undefined ? undefined : Number(f.exp),
    link: f.lk,
    paid: f.c === '1',
    paymentId: f.pay,
    from: f.from,
    to: f.to,
    version: Number(f.v),
    lines,
    shipments,
  };
}

function holdFromModel(h: HoldState | undefined) {
  if (!h) return undefined;
  const lines: Record<string, [number, number, number, number, number]> = {};
  for (const [p, l] of h.lines)
    lines[p] = [l.held, l.ordered, l.shipped, l.backordered, l.preordered];
  return {
    state: h.state,
    expiresAt: h.expiresAt,
    link: h.link,
    paid: h.paid === true,
    paymentId: h.paymentId,
    from: h.from,
    to: h.to,
    version: h.version,
    lines,
    shipments: Object.fromEntries(h.shipments ?? []),
  };
}

const prefix = uniqueName('model');
let redis: Redis;
let engine: Engine;
let run = 0;
/** calls the scripts' fast paths took, each checked against the generic path */
let fastPaths: FastPathCounts;
const stats = { runs: 0, steps: 0, windows: 0, results: {} as Record<string, number> };
const count = (key: string) => (stats.results[key] = (stats.results[key] ?? 0) + 1);

beforeAll(async () => {
  redis = testRedis();
  engine = testEngine(redis, prefix, () => NOW);
  fastPaths = await checkFastPaths(redis);
});

afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

/** Figures and settings in one shape (`plim` is written as 0 when a configure leaves it unset). */
const record = (r: StockRecord) => ({ ...r, policyLimit: r.policyLimit ?? 0 });

/** The views before the step (model, Redis), for the step invariants. */
interface Before {
  model: InventoryView;
  redis: InventoryView;
}

async function compareState(
  model: InventoryModel,
  k: TenantKeys,
  where: string,
  before: Before | undefined,
): Promise<Before> {
  const view = await readView(redis, k, [...VIEW_PAIRS, ...KIT_PAIRS], HOLDS);
  const fromRedis = Object.fromEntries([...view.stocks].map(([p, f]) => [p, record(f)]));
  const fromModel = Object.fromEntries(
    [...VIEW_PAIRS, ...KIT_PAIRS].map((p) => {
      const [s, l] = p.split('\x1f') as [string, string];
      return [p, record(model.figures(s, l, k.tenant))];
    }),
  );
  expect(fromRedis, `figures ${where}`).toEqual(fromModel);
  for (const h of view.raw) {
    expect(holdFromRedis(h), `${h.kind} ${h.id} ${where}`).toEqual(
      holdFromModel(model.hold(h.kind, h.id, k.tenant, NOW)),
    );
  }
  expect(await readWaits(redis, k, [...VIEW_PAIRS, ...KIT_PAIRS]), `wait queues ${where}`).toEqual(
    model.waits(k.tenant),
  );
  // the SKUs' totals: Redis's counts of in-stock locations, kept on crossings only
  const counts = Object.fromEntries(
    Object.entries(await redis.hgetall(k.inStock)).map(([sku, n]) => [sku, Number(n)]),
  );
  expect(counts, `in-stock counts ${where}`).toEqual(model.inStockCounts(k.tenant));
  expect(checkInvariants(model, NOW), `model invariants ${where}`).toEqual([]);
  expect(checkView(view), `Redis invariants ${where}`).toEqual([]);
  const after = { model: viewOfModel(model, k.tenant, NOW), redis: view };
  if (before) {
    expect(checkStep(before.model, after.model, NOW), `model step ${where}`).toEqual([]);
    expect(checkStep(before.redis, after.redis, NOW), `Redis step ${where}`).toEqual([]);
  }
  return after;
}

/** Counts which paths a step reached (the run's statistics, checked at the end). */
function tally(c: Command, got: ApplyResult): void {
  const routedOrder =
    (c.op === 'placeOrder' && c.routed) || (c.op === 'reserveCart' && c.locationId === undefined)
      ? '(routed)'
      : '';
  count(
    got.status === 'applied' ? `${c.op}${routedOrder}:${got.payload.outcome.result}` : got.status,
  );
  if (got.status === 'applied' && got.payload.kits) {
    count(`kit ${c.op}:${got.payload.outcome.result}`);
    if (c.op === 'placeOrder' && c.routed?.some((l) => l.sku.startsWith('kit-')))
      count(`kit placeOrder(routed):${got.payload.outcome.result}`);
  }
  if (got.status === 'applied' && got.payload.outcome.reason === 'kit-sku') count('kit-sku');
  if (c.op === 'updateOrder') {
    count(
      got.status === 'applied'
        ? `updateOrder:${got.payload.outcome.reason ?? got.payload.outcome.result}`
        : `updateOrder:${got.status}`,
    );
    if (got.status === 'applied' && got.payload.movements.some((m) => m.kind === 'released'))
      count('updateOrder:shrank');
    if (got.status === 'applied' && got.payload.movements.some((m) => m.kind === 'reserved'))
      count('updateOrder:grew');
    if (got.status === 'applied' && got.payload.movements.some((m) => m.kind === 'committed'))
      count('updateOrder:grew paid');
  }
  if (got.status === 'applied') {
    const waited = got.payload.movements.find(
      (m) => m.kind === 'backordered' || m.kind === 'preordered',
    );
    if (waited) count(`${c.op}:${waited.kind}`);
    if (waited) count(waited.kind);
    if (got.payload.outcome.filled) count(`${c.op}:filled`);
    if (got.payload.outcome.filled) count('filled');
    if (
      c.op === 'reserveCart' &&
      (got.payload.outcome.reason === 'removed-later' ||
        (c.quantity > 0 &&
          got.payload.outcome.result === 'applied' &&
          got.payload.movements.reduce(
            (n, m) => n + m.reserved + (m.backordered ?? 0) + (m.preordered ?? 0),
            0,
          ) < c.quantity))
    )
      count('cut by a later removal');
    // crossings of zero (inventory.availability-changed), each way
    for (const l of got.payload.outcome.availability ?? [])
      count(
        `${l.locationId === undefined ? 'total ' : ''}${l.inStock ? 'back in stock' : 'out of stock'}`,
      );
    // paths of waiting units: released, shipped, filled into a paid order, taken over
    for (const m of got.payload.movements) {
      if (!m.backordered && !m.preordered) continue;
      if (m.kind === 'released' || m.kind === 'expired' || m.kind === 'shipped')
        count(`waiting ${m.kind}`);
      if (m.kind === 'filled' && m.committed > 0) count('waiting filled paid');
    }
    if (
      c.op === 'placeOrder' &&
      got.payload.holds.some(
        (h) => h.kind === 'cart' && h.state === 'converted' && h.version > 1,
      ) &&
      got.payload.holds.some(
        (h) => h.kind === 'order' && h.lines.some((l) => l.backordered || l.preordered),
      )
    )
      count('order with waiting from a cart');
  }
}

/**
 * Commands that change how another event is checked before it moves anything (bindings, kits,
 * locations, settings): a step of one runs alone, as a duplicate does. In a window, an event that
 * changes nothing (not yet) leaves no outbox entry to tell whether Redis ran it before or after
 * its neighbours, and its reason depends on these (an unbound line is refused before the order's
 * state is read), so the model could not be applied in Redis's order.
 */
const CONFIG_OPS = new Set<Command['op']>([
  'bindLocation',
  'upsertLocation',
  'defineKit',
  'removeKit',
  'configureStock',
  'configureTenant',
]);

/** A step's holds (the cart, order or transfer it names): one window applies each at most once. */
function holdsOf(c: Command): string[] {
  const out: string[] = [];
  const r = c as Partial<Record<'cartId' | 'orderId' | 'transferId', string>>;
  if (r.cartId !== undefined) out.push(`cart:${r.cartId}`);
  if (r.orderId !== undefined) out.push(`order:${r.orderId}`);
  if (r.transferId !== undefined) out.push(`transfer:${r.transferId}`);
  if (c.op === 'requeueWaiting') out.push(...c.members);
  return out;
}

/**
 * Applies the steps to the engine and to the model, as a new tenant, comparing every step.
 * `windows` groups consecutive steps (up to each size in turn; 1 once they run out) that go to
 * the engine together, as the deliveries of one socket read do: in the same turn, so that
 * they share batched script calls (src/engine/script-batch.ts). A window never holds a
 * duplicate or a configuration step (CONFIG_OPS) beside another, nor two steps of one cart,
 * order or transfer (the worker applies those one at a time); Redis may apply a window's events
 * in another order than queued (an event its batch did not run goes again), so the model applies
 * them in the order their outbox entries say.
 */
async function agree(
  all: { command: Command; dupOf: number | null }[],
  windows: number[] = [],
): Promise<void> {
  const tenant = `p${++run}`;
  const k = new TenantKeys(prefix, tenant);
  const model = new InventoryModel();
  const ids: string[] = [];
  let before: Before | undefined;
  let w = 0;
  for (let i = 0; i < all.length;) {
    const size = windows[w++] ?? 1;
    const taken = new Set<string>();
    const window: { i: number; meta: EventMeta; command: Command }[] = [];
    for (; i < all.length && window.length < size; i++) {
      const s = all[i]!;
      const holds = holdsOf(s.command);
      const alone = s.dupOf !== null || CONFIG_OPS.has(s.command.op);
      if (window.length > 0 && (alone || holds.some((h) => taken.has(h)))) break;
      for (const h of holds) taken.add(h);
      const id = s.dupOf !== null && i > 0 ? ids[s.dupOf % i]! : `e${i}`;
      ids.push(id);
      const meta: EventMeta = {
        tenant,
        source: '/prop',
        id,
        type: s.command.op,
        occurredAt: '2026-11-23T10:15:00Z',
      };
      window.push({ i, meta, command: s.command });
      if (alone) {
        i++;
        break;
      }
    }
    // the fast paths are checked on calls that run alone only
    fastPaths.checking = window.length === 1;
    const results = await Promise.all(window.map((e) => engine.apply(e.meta, e.command)));
    fastPaths.checking = true;
    // in the order Redis applied them: what changed nothing (not yet) first, as queued
    const order = window
      .map((e, j) => ({ ...e, got: results[j]! }))
      .sort((a, b) =>
        a.got.status === 'applied' && b.got.status === 'applied'
          ? compareEntryIds(a.got.entryId, b.got.entryId)
          : (a.got.status === 'applied' ? 1 : 0) - (b.got.status === 'applied' ? 1 : 0),
      );
    if (window.length > 1) stats.windows++;
    let where = '';
    for (const { i: at, meta, command, got } of order) {
      const want = model.apply(meta, command, NOW, DEDUP_TTL_SECONDS);
      where = `at step ${at} (${meta.id}: ${JSON.stringify(command)})${window.length > 1 ? ` in a window of ${window.length}` : ''}`;
      expect(comparable(got), where).toEqual(comparable(want));
      tally(command, got);
      stats.steps++;
    }
    // the step invariants hold for one event; across a window only the state is compared
    before = await compareState(model, k, where, window.length === 1 ? before : undefined);
  }
}

describe('model ≡ engine', () => {
  it(
    `${RUNS} random sequences of up to ${MAX_STEPS} events agree step by step`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          runs,
          fc.boolean(),
          fc.boolean(),
          windows,
          async (r, networked, kitted, sizes) => {
            const { steps, selling, low } = r;
            const prelude = [...preludeOf(low), ...(kitted ? kitPrelude : [])];
            const start = [...(networked ? [...networkPrelude, ...prelude] : prelude), ...selling];
            await agree([...start.map((command) => ({ command, dupOf: null })), ...steps], sizes);
            stats.runs++;
          },
        ),
        // PROPERTY_SEED reproduces a failed run: the seed its report printed
        { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
      );
      // the sequences reach the interesting paths, not only refusals
      if (process.env.PROPERTY_STATS) console.info(stats.results);
      for (const k of [
        'reserveCart:applied',
        'placeOrder:applied',
        'commitOrder:applied',
        'fulfilShipment:applied',
        'voidShipment:applied',
        'voidShipment:ignored',
        'updateOrder:applied',
        'updateOrder:grew',
        'updateOrder:grew paid',
        'updateOrder:shrank',
        'updateOrder:insufficient-stock',
        'updateOrder:below-shipped',
        'updateOrder:order-cancelled',
        'updateOrder:not-yet',
        'duplicate',
        'reserveCart(routed):applied',
        'placeOrder(routed):applied',
        'placeOrder(routed):rejected',
        'bindLocation:applied',
        'receiveTransfer:applied',
        'reserveCart:backordered',
        'backordered',
        'preordered',
        'filled',
        'waiting released',
        'back in stock',
        'out of stock',
        'reserveCart:ignored',
        'cut by a later removal',
        'total back in stock',
        'total out of stock',
        'kit reserveCart:applied',
        'kit reserveCart:rejected',
        'kit releaseCart:applied',
        'kit placeOrder:applied',
        'kit placeOrder(routed):applied',
        'kit fulfilShipment:applied',
        'kit updateOrder:applied',
        'kit returnStock:applied',
        'defineKit:applied',
        'removeKit:applied',
        'kit-sku',
      ]) {
        expect(stats.results[k] ?? 0, k).toBeGreaterThan(0);
      }
      // and the scripts' fast paths, each call of them checked against the generic path
      for (const name of FAST_PATH_SCRIPTS)
        expect(fastPaths.fast[name] ?? 0, `${name} fast path`).toBeGreaterThan(0);
      expect(fastPaths.mismatches).toEqual([]);
      // and the batched path: windows of several events, which shared script calls
      expect(stats.windows, 'windows of several events').toBeGreaterThan(0);
      expect(engine.batches.events, 'events in batched script calls').toBeGreaterThan(0);
      console.info(
        `model ≡ engine: ${stats.runs} runs, ${stats.steps} steps, ${stats.windows} windows;`,
        `${engine.batches.events} events in ${engine.batches.calls} batched script calls,`,
        `${engine.batches.notRun} of them sent again`,
        stats.results,
      );
      console.info(
        'fast paths taken (checked against the generic path)',
        fastPaths.fast,
        'not taken',
        fastPaths.other,
      );
    },
    Math.max(60_000, RUNS * 1_000),
  );

  // Paths of selling ahead of stock that random sequences reach rarely, step by step too.
  const A = 'sku-a';
  const B = 'Sku-B';
  const cfg = (
    sku: string,
    locationId: string,
    policy: 'deny' | 'backorder' | 'preorder',
    policyLimit: number,
    preorderUntil?: number | null,
  ): Command =>
    clean({ op: 'configureStock', sku, locationId, policy, policyLimit, preorderUntil });
  const put = (sku: string, locationId: string, quantity: number): Command => ({
    op: 'receiveStock',
    sku,
    locationId,
    quantity,
  });
  const add = (cartId: string, sku: string, locationId: string, quantity: number): Command => ({
    op: 'reserveCart',
    cartId,
    sku,
    locationId,
    quantity,
    ttlMs: TTL,
  });
  const scenarios: Record<string, Command[]> = {
    'an unlocated shipment ships the units an order waits for where it waits': [
      ...networkPrelude,
      put(A, 'main', 2),
      cfg(A, 'north', 'backorder', 5),
      {
        op: 'placeOrder',
        orderId: 'o1',
        lines: [
          { sku: A, locationId: 'main', quantity: 2 },
          { sku: A, locationId: 'north', quantity: 3 },
        ],
      },
      {
        op: 'fulfilShipment',
        shipmentId: 's1',
        orderId: 'o1',
        lines: [],
        unlocated: [{ sku: A, quantity: 5 }],
      },
    ],
    'a location where holds wait is not unbound': [
      ...networkPrelude,
      cfg(A, 'north', 'backorder', 2),
      add('c1', A, 'north', 2),
      { op: 'bindLocation', locationId: 'north', skus: [A], bound: false },
    ],
    'an order takes its cart’s place in the queue; fills go in queue order': [
      cfg(A, 'main', 'backorder', 10),
      add('c1', A, 'main', 2),
      add('c2', A, 'main', 2),
      add('c3', A, 'main', 2),
      {
        op: 'placeOrder',
        orderId: 'o2',
        cartId: 'c2',
        lines: [{ sku: A, locationId: 'main', quantity: 3 }],
      },
      put(A, 'main', 6),
    ],
    'one event fills a hold at two pairs (two snapshots)': [
      cfg(A, 'main', 'preorder', 4, NOW + 1),
      cfg(B, 'main', 'backorder', 4),
      add('c1', A, 'main', 2),
      add('c1', B, 'main', 3),
      {
        op: 'returnStock',
        rmaId: 'r1',
        lines: [
          { sku: B, locationId: 'main', quantity: 2, disposition: 'restock' },
          { sku: A, locationId: 'main', quantity: 1, disposition: 'restock' },
        ],
      },
    ],
    'pre-orders end at preorderUntil': [
      cfg(A, 'main', 'preorder', 4, NOW),
      add('c1', A, 'main', 1),
      cfg(A, 'main', 'preorder', 4, NOW + 1),
      add('c1', A, 'main', 1),
      cfg(A, 'main', 'preorder', 1, null),
      add('c2', A, 'main', 1),
    ],
    'a paid order placed late releases its cart’s waiting units': [
      cfg(A, 'main', 'preorder', 5),
      add('c1', A, 'main', 2),
      {
        op: 'commitOrder',
        orderId: 'o1',
        paymentId: 'p1',
        lines: [{ sku: A, locationId: 'main', quantity: 2 }],
      },
      {
        op: 'placeOrder',
        orderId: 'o1',
        cartId: 'c1',
        lines: [{ sku: A, locationId: 'main', quantity: 2 }],
      },
      put(A, 'main', 1),
    ],
    'a prepaid order commits what is backed, and its fills': [
      put(A, 'main', 1),
      { op: 'commitOrder', orderId: 'o1', paymentId: 'p1' },
      cfg(A, 'main', 'backorder', 3),
      add('c1', A, 'main', 3),
      {
        op: 'placeOrder',
        orderId: 'o1',
        cartId: 'c1',
        lines: [{ sku: A, locationId: 'main', quantity: 4 }],
      },
      { op: 'countStock', sku: A, locationId: 'main', onHand: 0 },
      { op: 'countStock', sku: A, locationId: 'main', onHand: 3 },
      { op: 'adjustStock', sku: A, locationId: 'main', delta: 2, reason: 'found' },
    ],
    'stock arriving by transfer fills; releases fill others': [
      put(A, 'north', 4),
      cfg(A, 'main', 'backorder', 4),
      add('c1', A, 'main', 2),
      cfg(A, 'north', 'preorder', 2),
      add('c2', A, 'north', 4),
      add('c3', A, 'north', 1),
      {
        op: 'placeOrder',
        orderId: 'o1',
        lines: [{ sku: A, locationId: 'main', quantity: 1 }],
      },
      { op: 'releaseCart', mode: 'remove', cartId: 'c2', sku: A, quantity: 1 },
      put(A, 'north', 1),
      {
        op: 'shipTransfer',
        transferId: 't1',
        fromLocationId: 'north',
        toLocationId: 'main',
        lines: [{ sku: A, quantity: 1 }],
      },
      { op: 'receiveTransfer', transferId: 't1' },
      { op: 'releaseOrder', mode: 'payfail', orderId: 'o1', paymentId: 'p1' },
      { op: 'releaseCart', mode: 'expire', cartId: 'c1', expiresAt: NOW + TTL },
    ],
  };
  for (const [name, commands] of Object.entries(scenarios)) {
    it(name, async () => {
      await agree(commands.map((command) => ({ command, dupOf: null })));
    });
  }
});
