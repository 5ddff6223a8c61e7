/**
 * The pure model and the Lua engine are the same state machine: random event sequences,
 * applied to both, give the same result, movements, holds, alerts and figures after every
 * step, and the invariants of ../shared/EVENTS.md hold in both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { pairOf, TenantKeys } from '../../src/engine/keys.js';
import type { ApplyResult, Engine } from '../../src/engine/engine.js';
import { InventoryModel, type HoldState, type ModelResult } from '../../src/domain/model.js';
import { checkInvariants, checkView } from '../../src/domain/invariants.js';
import type { Command, EventMeta, HoldKind } from '../../src/domain/types.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import {
  DEDUP_TTL_SECONDS,
  readView,
  testEngine,
  type HoldRead,
} from '../support/engineHarness.js';

const NOW = 1_800_000_000_000;
const TTL = 60 * 60 * 1000;
const RUNS = Number(process.env.PROPERTY_RUNS ?? 60);
const MAX_STEPS = 60;

// Byte order differs from a naive locale order here: 'Sku-B' < 'sku-a' < 'sku-a.2'.
const SKUS = ['sku-a', 'Sku-B', 'sku-a.2'] as const;
const LOCS = ['main', 'north'] as const;
const CARTS = ['c1', 'c2', 'c3'] as const;
const ORDERS = ['o1', 'o2', 'o3'] as const;
const TRANSFERS = ['t1', 't2'] as const;
const PAIRS = SKUS.flatMap((s) => LOCS.map((l) => pairOf(s, l)));
const HOLDS: { kind: HoldKind; id: string }[] = [
  ...CARTS.map((id) => ({ kind: 'cart' as const, id })),
  ...ORDERS.map((id) => ({ kind: 'order' as const, id })),
  ...TRANSFERS.map((id) => ({ kind: 'transfer' as const, id })),
];

const sku = fc.constantFrom(...SKUS);
const loc = fc.constantFrom(...LOCS);
const qty = fc.integer({ min: 1, max: 5 });
const cartId = fc.constantFrom(...CARTS);
const orderId = fc.constantFrom(...ORDERS);
const transferId = fc.constantFrom(...TRANSFERS);
const line = fc.record({ sku, locationId: loc, quantity: qty });
const lines = (max: number) => fc.array(line, { minLength: 1, maxLength: max });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
/** Drops undefined fields, as a JSON event would not have them. */
const clean = (o: Record<string, unknown>): Command =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Command;

const skuQty = fc.record({ sku, quantity: qty });
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
      .map((c) => clean({ op: 'locationUpsert', ...c, name: c.locationId })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        locationId: fc.constantFrom(...LOCS, 'ghost'),
        skus: fc.subarray([...SKUS], { minLength: 1 }),
        bound: fc.integer({ min: 0, max: 3 }).map((n) => n > 0),
      })
      .map((c) => clean({ op: 'locationBind', ...c })),
  },
  {
    weight: 4,
    arbitrary: fc
      .record({ cartId, sku, quantity: qty })
      .map((c) => clean({ op: 'cartRoute', ...c, ttlMs: TTL })),
  },
  {
    weight: 4,
    arbitrary: fc
      .record({
        orderId,
        cartId: maybe(cartId),
        lines: fc.array(line, { maxLength: 2 }),
        routed: fc.array(skuQty, { minLength: 1, maxLength: 3 }),
        destination,
      })
      .map((c) =>
        clean({ op: 'orderPlace', ...c, destination: c.destination && clean(c.destination) }),
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        transferId,
        forward: fc.boolean(),
        lines: fc.array(skuQty, { minLength: 1, maxLength: 3 }),
      })
      .map(({ transferId: id, forward, lines: l }) =>
        clean({
          op: 'transferCreate',
          transferId: id,
          fromLocationId: forward ? LOCS[0] : LOCS[1],
          toLocationId: forward ? LOCS[1] : LOCS[0],
          lines: l,
        }),
      ),
  },
  {
    weight: 1,
    arbitrary: transferId.map((id) => clean({ op: 'transferCancel', transferId: id })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        shipmentId: fc.constantFrom('s1', 's2'),
        orderId,
        lines: fc.array(line, { maxLength: 1 }),
        unlocated: fc.array(skuQty, { minLength: 1, maxLength: 2 }),
      })
      .map((c) => clean({ op: 'ship', ...c })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ transferId, lines: fc.array(skuQty, { minLength: 1, maxLength: 2 }) })
      .map((c) => clean({ op: 'transferReceive', ...c })),
  },
);

const baseCommand: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({ cartId, sku, locationId: loc, quantity: qty })
      .map((c) => clean({ op: 'cartAdd', ...c, ttlMs: TTL })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ cartId, sku, quantity: maybe(qty) })
      .map((c) => clean({ op: 'cartRemove', ...c })),
  },
  { weight: 1, arbitrary: cartId.map((id) => clean({ op: 'cartClear', cartId: id })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ cartId, due: fc.boolean() })
      .map(({ cartId: id, due }) =>
        clean({ op: 'cartExpire', cartId: id, expiresAt: due ? NOW + TTL : NOW + TTL - 1 }),
      ),
  },
  {
    weight: 4,
    arbitrary: fc
      .record({ orderId, cartId: maybe(cartId), lines: lines(3) })
      .map((c) => clean({ op: 'orderPlace', ...c })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        orderId,
        paymentId: fc.constantFrom('p1', 'p2'),
        lines: fc.oneof(fc.constant(undefined), lines(2)),
      })
      .map((c) => clean({ op: 'paymentSucceed', ...c })),
  },
  {
    weight: 2,
    arbitrary: orderId.map((id) => clean({ op: 'paymentFail', orderId: id, paymentId: 'p1' })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ orderId, reason: maybe(fc.constant('customer')) })
      .map((c) => clean({ op: 'orderCancel', ...c })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ shipmentId: fc.constantFrom('s1', 's2'), orderId, lines: lines(2) })
      .map((c) => clean({ op: 'ship', ...c })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        rmaId: fc.constant('r1'),
        lines: fc.array(
          fc.record({
            sku,
            locationId: loc,
            quantity: qty,
            disposition: fc.constantFrom('restock' as const, 'quarantine' as const),
          }),
          { minLength: 1, maxLength: 2 },
        ),
      })
      .map((c) => clean({ op: 'return', ...c })),
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
          op: 'transferShip',
          transferId: id,
          fromLocationId: forward ? LOCS[0] : LOCS[1],
          toLocationId: forward ? LOCS[1] : LOCS[0],
          lines: l,
        }),
      ),
  },
  {
    weight: 1,
    arbitrary: transferId.map((id) => clean({ op: 'transferReceive', transferId: id })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ sku, locationId: loc, quantity: qty })
      .map((c) => clean({ op: 'receive', ...c })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        sku,
        locationId: loc,
        delta: fc.integer({ min: -6, max: 5 }).map((d) => (d >= 0 ? d + 1 : d)),
      })
      .map((c) => clean({ op: 'adjust', ...c, reason: 'damage' })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ sku, locationId: loc, onHand: fc.integer({ min: 0, max: 12 }) })
      .map((c) => clean({ op: 'count', ...c })),
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
      .map((c) => clean({ op: 'configure', ...c })),
  },
);

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: baseCommand },
  { weight: 1, arbitrary: networkCommand },
);

/** A step: the command, and sometimes the id of an earlier event (a duplicate delivery). */
const step = fc.record({
  command,
  dupOf: fc.oneof(
    { weight: 12, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.nat(1000) },
  ),
});

const prelude: Command[] = PAIRS.map((p, i) => {
  const [s, l] = p.split('\x1f') as [string, string];
  return { op: 'receive', sku: s, locationId: l, quantity: 6 + (i % 3) };
});

/** Half the runs start as a network: both locations, every SKU bound at each. */
const networkPrelude: Command[] = [
  { op: 'locationUpsert', locationId: 'main', name: 'Main', priority: 1, shipsTo: ['US'] },
  {
    op: 'locationUpsert',
    locationId: 'north',
    name: 'North',
    priority: 0,
    shipsTo: ['US-CA', 'CA'],
  },
  ...LOCS.map((l): Command => ({
    op: 'locationBind',
    locationId: l,
    skus: [...SKUS],
    bound: true,
  })),
];

/** What both sides return, without the Redis stream ids and envelope fields. */
function comparable(r: ApplyResult | ModelResult) {
  if (r.status === 'applied') {
    const { outcome, movements, holds, config, network } = r.payload;
    return { status: r.status, outcome, movements, holds, config, network: network ?? [] };
  }
  return r.status === 'duplicate' ? { status: r.status } : r;
}

/** A hold in one shape, whether read from its Redis hash or from the model. */
function holdFromRedis(h: HoldRead) {
  const f = h.fields;
  if (Object.keys(f).length === 0) return undefined;
  const lines: Record<string, [number, number, number]> = {};
  for (const [k, v] of Object.entries(f)) {
    const i = ['h:', 'o:', 's:'].indexOf(k.slice(0, 2));
    if (i < 0) continue;
    const l = (lines[k.slice(2)] ??= [0, 0, 0]);
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
  };
}

function holdFromModel(h: HoldState | undefined) {
  if (!h) return undefined;
  const lines: Record<string, [number, number, number]> = {};
  for (const [p, l] of h.lines) lines[p] = [l.held, l.ordered, l.shipped];
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
  };
}

const prefix = uniqueName('model');
let redis: Redis;
let engine: Engine;
let run = 0;
const stats = { runs: 0, steps: 0, results: {} as Record<string, number> };

beforeAll(() => {
  redis = testRedis();
  engine = testEngine(redis, prefix, () => NOW);
});

afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

async function compareState(model: InventoryModel, k: TenantKeys, where: string): Promise<void> {
  const view = await readView(redis, k, PAIRS, HOLDS);
  const fromRedis = Object.fromEntries([...view.stocks].map(([p, f]) => [p, f]));
  const fromModel = Object.fromEntries(
    PAIRS.map((p) => {
      const [s, l] = p.split('\x1f') as [string, string];
      const { onHand, reserved, committed, unavailable, incoming } = model.figures(s, l, k.tenant);
      return [p, { onHand, reserved, committed, unavailable, incoming }];
    }),
  );
  expect(fromRedis, `figures ${where}`).toEqual(fromModel);
  for (const h of view.raw) {
    expect(holdFromRedis(h), `${h.kind} ${h.id} ${where}`).toEqual(
      holdFromModel(model.hold(h.kind, h.id, k.tenant, NOW)),
    );
  }
  expect(checkInvariants(model, NOW), `model invariants ${where}`).toEqual([]);
  expect(checkView(view), `Redis invariants ${where}`).toEqual([]);
}

describe('model ≡ engine', () => {
  it(
    `${RUNS} random sequences of up to ${MAX_STEPS} events agree step by step`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(step, { minLength: 1, maxLength: MAX_STEPS, size: 'max' }),
          fc.boolean(),
          async (steps, networked) => {
            const tenant = `p${++run}`;
            const k = new TenantKeys(prefix, tenant);
            const model = new InventoryModel();
            const ids: string[] = [];
            const start = networked ? [...networkPrelude, ...prelude] : prelude;
            const all = [...start.map((command) => ({ command, dupOf: null })), ...steps];
            for (const [i, s] of all.entries()) {
              const id = s.dupOf !== null && i > 0 ? ids[s.dupOf % i]! : `e${i}`;
              ids.push(id);
              const meta: EventMeta = {
                tenant,
                source: '/prop',
                id,
                type: s.command.op,
                occurredAt: '2026-11-23T10:15:00Z',
              };
              const got = await engine.apply(meta, s.command);
              const want = model.apply(meta, s.command, NOW, DEDUP_TTL_SECONDS);
              const where = `at step ${i} (${id}: ${JSON.stringify(s.command)})`;
              expect(comparable(got), where).toEqual(comparable(want));
              await compareState(model, k, where);
              const routedOrder =
                s.command.op === 'orderPlace' && s.command.routed ? '(routed)' : '';
              const key =
                got.status === 'applied'
                  ? `${s.command.op}${routedOrder}:${got.payload.outcome.result}`
                  : got.status;
              stats.results[key] = (stats.results[key] ?? 0) + 1;
              stats.steps++;
            }
            stats.runs++;
          },
        ),
        { numRuns: RUNS },
      );
      // the sequences reach the interesting paths, not only refusals
      for (const k of [
        'cartAdd:applied',
        'orderPlace:applied',
        'paymentSucceed:applied',
        'ship:applied',
        'duplicate',
        'cartRoute:applied',
        'orderPlace(routed):applied',
        'orderPlace(routed):rejected',
        'locationBind:applied',
        'transferReceive:applied',
      ]) {
        expect(stats.results[k] ?? 0, k).toBeGreaterThan(0);
      }
      console.info(`model ≡ engine: ${stats.runs} runs, ${stats.steps} steps`, stats.results);
    },
    Math.max(60_000, RUNS * 1_000),
  );
});
