/**
 * Event streams for the fault scenarios, reproducible from a seed: a mixed commerce stream
 * (carts, orders, payments, shipments, returns, transfers, stock movements) whose final
 * figures do not depend on the order in which different carts and orders are applied (stock
 * is abundant, counts only touch pairs of their own), and poison messages of every kind the
 * worker must dead-letter.
 */
import { MAIN_QUEUE } from '../../../src/broker/topology.js';

export const SOURCE = '/faults';
const TIME = '2026-11-23T10:15:00.000Z';

/** One AMQP message as published. */
export interface Message {
  exchange: string;
  routingKey: string;
  body: Buffer;
  messageId: string;
  /** poison: the `x-error-reason` it must be dead-lettered with */
  poison?: RegExp;
}

export interface Ev {
  id: string;
  type: string;
  tenant: string;
  data: Record<string, unknown>;
}

/** The event as published, at the time every event of the set-up and the scenarios shares. */
export const toMessage = (e: Ev): Message => messageAt(e, TIME);

/** The event as published, with `time` as its CloudEvents time. */
export const messageAt = (e: Ev, time: string): Message => ({
  exchange: 'commerce.events',
  routingKey: e.type,
  messageId: e.id,
  body: Buffer.from(
    JSON.stringify({
      specversion: '1.0',
      id: e.id,
      source: SOURCE,
      type: e.type,
      time,
      tenant: e.tenant,
      data: e.data,
    }),
  ),
});

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    chance: (p: number) => next() < p,
  };
}
export type Rng = ReturnType<typeof rng>;

/** Poison messages: malformed JSON, an unknown type, invalid data (see test/e2e/bad-input). */
export function poison(tenant: string, n: number, r: Rng): Message {
  const id = `poison-${n}`;
  switch (r.int(0, 2)) {
    case 0:
      return {
        exchange: 'commerce.events',
        routingKey: 'cart.added',
        messageId: id,
        body: Buffer.from(`{"specversion":"1.0","id":"${id}", this is not json`),
        poison: /^malformed: body is not JSON/,
      };
    case 1: {
      // no binding routes an unknown type: it is sent straight to the worker's queue
      const m = toMessage({ id, type: 'cart.exploded', tenant, data: { cartId: 'c' } });
      return {
        ...m,
        exchange: '',
        routingKey: MAIN_QUEUE,
        poison: /^unknown-type: unknown event type "cart.exploded"/,
      };
    }
    default:
      return {
        ...toMessage({
          id,
          type: 'cart.added',
          tenant,
          data: { cartId: `pc-${n}`, sku: 'sku-0', quantity: -3 },
        }),
        poison: /^invalid: invalid cart.added data: quantity/,
      };
  }
}

export interface MixedOptions {
  tenants: readonly string[];
  /** events in the stream (setup not counted, poison included) */
  events: number;
  seed: number;
  /** share of poison messages, e.g. 0.01 */
  poisonRate?: number;
  skus?: number;
}

const LOCATIONS = ['default', 'north'] as const;
const ABUNDANT = 1_000_000;

/** Stock for every SKU and location of the mixed stream: to publish and apply first. */
export function mixedSetup(o: MixedOptions): Ev[] {
  const out: Ev[] = [];
  for (const tenant of o.tenants)
    for (let s = 0; s < (o.skus ?? 40); s++)
      for (const locationId of LOCATIONS) {
        out.push({
          id: `setup-${s}-${locationId}`,
          type: 'stock.received',
          tenant,
          data: { sku: `sku-${s}`, locationId, quantity: ABUNDANT },
        });
        if (s % 5 === 0)
          out.push({
            id: `setup-cfg-${s}-${locationId}`,
            type: 'stock.configured',
            tenant,
            data: { sku: `sku-${s}`, locationId, reorderLevel: 10, reorderQuantity: 100 },
          });
      }
  return out;
}

type Story = Ev[];

/**
 * The mixed stream: stories (a cart, an order's life, a transfer) interleaved at random,
 * each story's events in their causal order, plus stock movements and poison.
 */
export function* mixedStream(o: MixedOptions): Generator<Message> {
  const r = rng(o.seed);
  const skus = o.skus ?? 40;
  const active: Story[] = [];
  let n = 0;
  let stories = 0;
  let poisons = 0;
  const id = (type: string) => `${type}-${o.seed}-${++n}`;
  // each event a millisecond after the one published before it, as a platform's clock would
  // stamp them: what a cart's removals are ordered by when workers overtake each other
  let published = 0;
  const timed = (e: Ev) => messageAt(e, new Date(Date.parse(TIME) + ++published).toISOString());
  const line = () => ({
    sku: `sku-${r.int(0, skus - 1)}`,
    quantity: r.int(1, 3),
    locationId: r.pick(LOCATIONS),
  });

  const story = (tenant: string): Story => {
    const k = ++stories;
    const ev = (type: string, data: Record<string, unknown>): Ev => ({
      id: id(type),
      type,
      tenant,
      data,
    });
    const kind = r.int(0, 9);
    if (kind === 0) {
      const lines = [{ sku: `sku-${r.int(0, skus - 1)}`, quantity: r.int(1, 5) }];
      return [
        ev('transfer.shipped', {
          transferId: `t-${k}`,
          fromLocationId: 'default',
          toLocationId: 'north',
          lines,
        }),
        ev('transfer.received', { transferId: `t-${k}` }),
      ];
    }
    const cartId = `c-${o.seed}-${k}`;
    const orderId = `o-${o.seed}-${k}`;
    const cartLines = Array.from({ length: r.int(kind <= 3 ? 1 : 0, 3) }, line);
    const s: Story = cartLines.map((l) => ev('cart.added', { cartId, ...l }));
    if (kind <= 3) {
      // abandoned or emptied cart
      const end = r.int(0, 2);
      if (end === 0) s.push(ev('cart.cleared', { cartId }));
      if (end === 1)
        s.push(
          ev('cart.removed', {
            cartId,
            sku: cartLines[0]!.sku,
            ...(r.chance(0.5) ? { quantity: 1 } : {}),
          }),
        );
      return s;
    }
    const lines = [...cartLines, ...(cartLines.length === 0 || r.chance(0.3) ? [line()] : [])];
    s.push(ev('order.placed', { orderId, ...(cartLines.length ? { cartId } : {}), lines }));
    const end = r.int(0, 9);
    if (end === 0) s.push(ev('payment.failed', { orderId, paymentId: `p-${k}` }));
    else if (end === 1) s.push(ev('order.cancelled', { orderId, reason: 'customer' }));
    else {
      s.push(ev('payment.succeeded', { orderId, paymentId: `p-${k}` }));
      if (end === 2) {
        s.push(ev('shipment.created', { shipmentId: `s-${k}`, orderId, lines: [lines[0]] }));
        s.push(ev('order.cancelled', { orderId }));
      } else if (end <= 8) {
        s.push(ev('shipment.created', { shipmentId: `s-${k}`, orderId, lines }));
        if (end === 8)
          s.push(
            ev('rma.passed', {
              rmaId: `r-${k}`,
              orderId,
              lines: [
                { ...lines[0]!, quantity: 1, disposition: r.pick(['restock', 'quarantine']) },
              ],
            }),
          );
      }
    }
    return s;
  };

  const single = (tenant: string): Ev => {
    const kind = r.int(0, 2);
    const l = line();
    if (kind === 0)
      return {
        id: id('stock.received'),
        type: 'stock.received',
        tenant,
        data: { sku: l.sku, quantity: r.int(1, 50), locationId: l.locationId },
      };
    if (kind === 1)
      return {
        id: id('stock.adjusted'),
        type: 'stock.adjusted',
        tenant,
        data: {
          sku: l.sku,
          delta: r.chance(0.5) ? r.int(1, 10) : -r.int(1, 10),
          reason: 'damage',
          locationId: l.locationId,
        },
      };
    // a count only ever touches a pair of its own: counts do not commute with movements
    const c = id('stock.counted');
    return {
      id: c,
      type: 'stock.counted',
      tenant,
      data: { sku: `cnt-${c}`, onHand: r.int(0, 20), locationId: 'default' },
    };
  };

  for (let out = 0; out < o.events; out++) {
    const tenant = r.pick(o.tenants);
    if (o.poisonRate && r.chance(o.poisonRate)) {
      yield poison(tenant, ++poisons + o.seed * 1_000_000, r);
      continue;
    }
    const left = o.events - out;
    if (r.chance(0.05)) {
      yield timed(single(tenant));
      continue;
    }
    // start stories while there is room for them to finish before the end
    const pending = active.reduce((a, s) => a + s.length, 0);
    if (active.length < 60 && pending + 12 < left && r.chance(0.3)) active.push(story(tenant));
    if (active.length === 0) {
      yield timed(single(tenant));
      continue;
    }
    const i = r.int(0, active.length - 1);
    const s = active[i]!;
    yield timed(s.shift()!);
    if (s.length === 0) active.splice(i, 1);
  }
  // whatever is left of open stories (never more than a few dozen events)
  for (const s of active) for (const e of s) yield timed(e);
}
