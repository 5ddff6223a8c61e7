import { describe, expect, it } from 'vitest';
import { flashSale, HOT_SKU, MIX_SKUS, realisticMix } from './workloads.js';

describe('bench workloads', () => {
  it('flash sale: n cart.added on the hot SKU, each in its own cart, stock for all', () => {
    const w = flashSale(1000, 'r');
    expect(w.events).toHaveLength(1000);
    expect(w.proportions).toEqual({ 'cart.added': 1000 });
    expect(new Set(w.events.map((e) => e.data.sku))).toEqual(new Set([HOT_SKU]));
    expect(new Set(w.events.map((e) => e.data.cartId)).size).toBe(1000);
    expect(w.seed[0]!.data.quantity).toBeGreaterThanOrEqual(1000);
  });

  it('mix: the stated proportions, the same on every run, each shopper in order', () => {
    const a = realisticMix(38_000, 'r');
    expect(a.events).toHaveLength(38_000);
    expect(realisticMix(38_000, 'r').events).toEqual(a.events);
    expect(a.seed).toHaveLength(MIX_SKUS);
    const share = (t: string) => (a.proportions[t] ?? 0) / a.events.length;
    expect(share('cart.added')).toBeCloseTo(20 / 38, 2);
    expect(share('order.placed')).toBeCloseTo(6 / 38, 2);
    expect(share('payment.succeeded')).toBeCloseTo(6 / 38, 2);
    expect(share('shipment.created')).toBeCloseTo(5 / 38, 2);
    expect(share('rma.passed')).toBeCloseTo(1 / 38, 2);
    expect(new Set(a.events.map((e) => e.id)).size).toBe(a.events.length);
    // a shopper's steps are published in the order they happen
    const at = new Map(a.events.map((e, i) => [e.id, i]));
    const order = ['add0', 'add1', 'ord', 'pay', 'ship', 'rma'];
    for (const e of a.events.filter((x) => x.type === 'rma.passed')) {
      const s = e.id.slice(0, e.id.lastIndexOf('-'));
      const steps = order.map((k) => at.get(`${s}-${k}`)!);
      expect(steps).toEqual([...steps].sort((x, y) => x - y));
    }
    // ordered lines reference the 10,000 SKUs
    const skus = new Set(a.events.filter((e) => e.type === 'cart.added').map((e) => e.data.sku));
    expect(skus.size).toBeGreaterThan(5000);
  });
});
