/**
 * The end-to-end workloads: the same CloudEvents for the pipe ceiling, the worker and the
 * row-locking baseline. Deterministic (a seeded generator), so every target sees the same
 * messages in the same order.
 */

export interface BenchEvent {
  type: string;
  id: string;
  data: Record<string, unknown>;
}

export interface Workload {
  name: 'flash' | 'mix';
  label: string;
  /** stock.received events that stock every SKU before the measured part */
  seed: BenchEvent[];
  /** the measured events, in publishing order */
  events: BenchEvent[];
  /** what the events are, by type (for the report) */
  proportions: Record<string, number>;
}

export const HOT_SKU = 'FLASH-HOT-1';
export const MIX_SKUS = 10_000;
/** Every SKU starts with this much: no reservation in the mix is ever refused for stock. */
const MIX_STOCK = 1_000_000;
/** Sessions whose events interleave: an order arrives about 2 x this many events after its cart. */
const WAVE = 200;
/**
 * Every event names its location (the one a tenant without a network has): the worker's
 * routing across locations is another feature, and the baseline has none.
 */
const LOCATION = 'default';

/** A small seeded generator (mulberry32): the same workload on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function countTypes(events: BenchEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) out[e.type] = (out[e.type] ?? 0) + 1;
  return out;
}

/**
 * Flash sale: `n` shoppers each put one unit of the same SKU in their own cart
 * (`cart.added` only). The SKU has stock for all of them, so no reservation is refused.
 */
export function flashSale(n: number, run: string): Workload {
  const events: BenchEvent[] = [];
  for (let i = 0; i < n; i++) {
    events.push({
      type: 'cart.added',
      id: `${run}-f${i}`,
      data: { cartId: `${run}-cart-${i}`, sku: HOT_SKU, quantity: 1, locationId: LOCATION },
    });
  }
  return {
    name: 'flash',
    label: 'flash sale: cart.added on one hot SKU',
    seed: [
      {
        type: 'stock.received',
        id: `${run}-seed-hot`,
        data: { sku: HOT_SKU, quantity: Math.max(n * 2, 1000), locationId: LOCATION },
      },
    ],
    events,
    proportions: countTypes(events),
  };
}

/**
 * A shop's mix over 10,000 SKUs (uniformly chosen), in sessions of ten shoppers: each adds
 * two lines to a cart (20 cart.added); six place an order from their cart (6 order.placed),
 * and pay (6 payment.succeeded); five of those orders ship (5 shipment.created); one of the
 * shipped orders comes back (1 rma.passed). 38 events per ten shoppers: carts 52.6%,
 * orders 15.8%, payments 15.8%, shipments 13.2%, returns 2.6%. Sessions interleave in waves
 * of 200 shoppers, so a shopper's next step arrives a few hundred events after the last.
 */
export function realisticMix(n: number, run: string): Workload {
  const rnd = random(6);
  const sku = () => `SKU-${Math.floor(rnd() * MIX_SKUS)}`;
  const seed: BenchEvent[] = [];
  for (let i = 0; i < MIX_SKUS; i++) {
    seed.push({
      type: 'stock.received',
      id: `${run}-seed-${i}`,
      data: { sku: `SKU-${i}`, quantity: MIX_STOCK, locationId: LOCATION },
    });
  }
  const events: BenchEvent[] = [];
  let shopper = 0;
  while (events.length < n) {
    const wave: BenchEvent[][] = [];
    for (let w = 0; w < WAVE; w++, shopper++) {
      const s = `${run}-s${shopper}`;
      const k = shopper % 10;
      const lines = [
        { sku: sku(), quantity: 1 + Math.floor(rnd() * 2), locationId: LOCATION },
        { sku: sku(), quantity: 1, locationId: LOCATION },
      ];
      if (lines[0]!.sku === lines[1]!.sku) lines.pop();
      const steps: BenchEvent[] = lines.map((l, j) => ({
        type: 'cart.added',
        id: `${s}-add${j}`,
        data: { cartId: `cart-${s}`, ...l },
      }));
      // a second line on the same SKU merged into one: add it again so carts stay at two adds
      if (steps.length === 1) {
        steps.push({ ...steps[0]!, id: `${s}-add1` });
        lines[0]!.quantity *= 2;
      }
      const order = `order-${s}`;
      if (k < 6) {
        steps.push({
          type: 'order.placed',
          id: `${s}-ord`,
          data: { orderId: order, cartId: `cart-${s}`, lines },
        });
        steps.push({
          type: 'payment.succeeded',
          id: `${s}-pay`,
          data: { orderId: order, paymentId: `pay-${s}` },
        });
      }
      if (k < 5) {
        steps.push({
          type: 'shipment.created',
          id: `${s}-ship`,
          data: { shipmentId: `ship-${s}`, orderId: order, lines },
        });
      }
      if (k === 0) {
        steps.push({
          type: 'rma.passed',
          id: `${s}-rma`,
          data: { rmaId: `rma-${s}`, orderId: order, lines: [{ ...lines[0]!, quantity: 1 }] },
        });
      }
      wave.push(steps);
    }
    for (let step = 0; ; step++) {
      const batch = wave.filter((steps) => steps.length > step).map((steps) => steps[step]!);
      if (batch.length === 0) break;
      events.push(...batch);
    }
  }
  events.length = n;
  return {
    name: 'mix',
    label: `realistic mix over ${MIX_SKUS.toLocaleString('en-US')} SKUs`,
    seed,
    events,
    proportions: countTypes(events),
  };
}
