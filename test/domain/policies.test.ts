/**
 * Selling ahead of stock in the pure model: backorders and pre-orders within their limits,
 * refused beyond them, waiting units filled first in line first as stock arrives, released,
 * shipped and taken over by orders. No services needed.
 */
import { describe, expect, it } from 'vitest';
import { InventoryModel, pairOf, type ModelPayload } from '../../src/domain/model.js';
import { checkInvariants, checkStep, viewOfModel } from '../../src/domain/invariants.js';
import { announce } from '../../src/domain/announcements.js';
import type { Command, OutboxPayload } from '../../src/domain/types.js';

const NOW = 1_800_000_000_000;
const TTL = 60 * 60 * 1000;
const T = 'default';
const P = pairOf('A', 'main');

function world() {
  const model = new InventoryModel();
  let n = 0;
  const apply = (c: Command, now = NOW): ModelPayload => {
    const before = viewOfModel(model, T, now);
    const id = `e${++n}`;
    const r = model.apply({ tenant: T, source: '/t', id, type: c.op, occurredAt: 'x' }, c, now);
    if (r.status !== 'applied') throw new Error(`not applied: ${JSON.stringify(r)}`);
    expect(checkInvariants(model, now)).toEqual([]);
    expect(checkStep(before, viewOfModel(model, T, now), now)).toEqual([]);
    return r.payload;
  };
  const fig = () => model.figures('A', 'main');
  const line = (kind: 'cart' | 'order', id: string) => model.hold(kind, id, T, NOW)?.lines.get(P);
  const queue = () => (model.waits(T)[P] ?? []).map(([m]) => m);
  return { model, apply, fig, line, queue };
}

const receive = (quantity: number): Command => ({
  op: 'receiveStock',
  sku: 'A',
  locationId: 'main',
  quantity,
});
const add = (cartId: string, quantity: number): Command => ({
  op: 'reserveCart',
  cartId,
  sku: 'A',
  locationId: 'main',
  quantity,
  ttlMs: TTL,
});
const policy = (
  p: 'deny' | 'backorder' | 'preorder',
  policyLimit: number,
  preorderUntil?: number | null,
): Command => ({
  op: 'configureStock',
  sku: 'A',
  locationId: 'main',
  policy: p,
  policyLimit,
  ...(preorderUntil !== undefined ? { preorderUntil } : {}),
});
const order = (orderId: string, quantity: number, cartId?: string): Command => ({
  op: 'placeOrder',
  orderId,
  ...(cartId ? { cartId } : {}),
  lines: [{ sku: 'A', locationId: 'main', quantity }],
});

const mv = (kind: string, ref: string, d: Record<string, number>, referenceType = 'cart') => ({
  sku: 'A',
  locationId: 'main',
  kind,
  onHand: 0,
  reserved: 0,
  committed: 0,
  unavailable: 0,
  incoming: 0,
  referenceType,
  referenceId: ref,
  reason: '',
  ...d,
});

const envelope = (p: ModelPayload): OutboxPayload => ({
  tenant: T,
  source: '/t',
  id: 'x',
  type: 'test',
  occurredAt: 'x',
  epoch: 1,
  ...p,
});

describe('policies in the model', () => {
  it('configure reports the policy and deny removes it', () => {
    const w = world();
    expect(w.apply(policy('preorder', 3, NOW + 5)).config).toEqual([
      {
        sku: 'A',
        locationId: 'main',
        reorderLevel: null,
        reorderQuantity: null,
        policy: 'preorder',
        policyLimit: 3,
        preorderUntil: NOW + 5,
      },
    ]);
    expect(w.apply(policy('deny', 0, null)).config[0]).toMatchObject({
      policy: 'deny',
      policyLimit: 0,
      preorderUntil: null,
    });
    expect(w.fig()).toEqual({
      onHand: 0,
      reserved: 0,
      committed: 0,
      unavailable: 0,
      incoming: 0,
      backordered: 0,
      preordered: 0,
      policyLimit: 0,
    });
  });

  it('backorders what is not available, within the limit, and refuses beyond it', () => {
    const w = world();
    w.apply(receive(2));
    w.apply(policy('backorder', 3));
    const p = w.apply(add('c1', 4));
    // the last units on hand went: out of stock, though the policy still lets units wait
    expect(p.outcome).toEqual({
      result: 'applied',
      availability: [
        { sku: 'A', locationId: 'main', available: 0, inStock: false },
        // its only location: the SKU's total too
        { sku: 'A', available: 0, inStock: false },
      ],
    });
    expect(p.movements).toEqual([
      mv('reserved', 'c1', { reserved: 2 }),
      mv('backordered', 'c1', { backordered: 2 }),
    ]);
    expect(p.holds[0]!.lines).toEqual([{ sku: 'A', locationId: 'main', held: 2, backordered: 2 }]);
    expect(w.fig()).toMatchObject({ reserved: 2, backordered: 2, preordered: 0 });
    expect(w.model.available('A', 'main')).toBe(0);
    // one more may wait, not two
    const r = w.apply(add('c2', 2));
    expect(r.outcome).toEqual({
      result: 'rejected',
      reason: 'insufficient-stock',
      short: [{ sku: 'A', locationId: 'main', requested: 2, available: 1 }],
      referenceType: 'cart',
      referenceId: 'c2',
    });
    expect(r.movements).toEqual([]);
    w.apply(add('c2', 1));
    expect(w.fig()).toMatchObject({ backordered: 3 });
    expect(w.queue()).toEqual(['cart:c1', 'cart:c2']);
    // a lower limit leaves what waits, and takes no more
    w.apply(policy('backorder', 1));
    expect(w.apply(add('c3', 1)).outcome.result).toBe('rejected');
    expect(w.fig()).toMatchObject({ backordered: 3 });
  });

  it('pre-orders until preorderUntil, not from it', () => {
    const w = world();
    w.apply(policy('preorder', 5, NOW + 1000));
    const p = w.apply(add('c1', 2), NOW + 999);
    expect(p.movements).toEqual([mv('preordered', 'c1', { preordered: 2 })]);
    expect(p.holds[0]!.lines).toEqual([{ sku: 'A', locationId: 'main', held: 0, preordered: 2 }]);
    const r = w.apply(add('c2', 1), NOW + 1000);
    expect(r.outcome.short).toEqual([{ sku: 'A', locationId: 'main', requested: 1, available: 0 }]);
    // null: no end
    w.apply(policy('preorder', 5, null));
    expect(w.apply(add('c2', 1), NOW + 10_000).outcome.result).toBe('applied');
    expect(w.fig()).toMatchObject({ preordered: 3, backordered: 0 });
  });

  it('fills waiting holds first in line first when stock arrives', () => {
    const w = world();
    w.apply(policy('backorder', 10));
    w.apply(add('c1', 2));
    w.apply(add('c2', 3));
    const p = w.apply(receive(4));
    expect(p.movements).toEqual([
      mv('received', 'e4', { onHand: 4 }, 'receipt'),
      mv('filled', 'c1', { reserved: 2, backordered: -2 }),
      mv('filled', 'c2', { reserved: 2, backordered: -2 }),
    ]);
    expect(p.outcome.filled).toEqual([
      {
        referenceType: 'cart',
        referenceId: 'c1',
        sku: 'A',
        locationId: 'main',
        quantity: 2,
        backordered: 2,
        preordered: 0,
      },
      {
        referenceType: 'cart',
        referenceId: 'c2',
        sku: 'A',
        locationId: 'main',
        quantity: 2,
        backordered: 2,
        preordered: 0,
      },
    ]);
    expect(p.holds.map((h) => [h.id, h.version, h.lines])).toEqual([
      ['c1', 2, [{ sku: 'A', locationId: 'main', held: 2 }]],
      ['c2', 2, [{ sku: 'A', locationId: 'main', held: 2, backordered: 1 }]],
    ]);
    expect(w.queue()).toEqual(['cart:c2']);
    expect(w.fig()).toMatchObject({ onHand: 4, reserved: 4, backordered: 1 });
    const a = announce(envelope(p), 'T').filter((x) => x.type === 'inventory.filled');
    expect(a.map((x) => x.data)).toEqual([
      expect.objectContaining({ referenceId: 'c1', cartId: 'c1', quantity: 2, backordered: 2 }),
      expect.objectContaining({ referenceId: 'c2', cartId: 'c2', quantity: 2, preordered: 0 }),
    ]);
  });

  it('fills backordered units before pre-ordered ones of a line', () => {
    const w = world();
    w.apply(policy('backorder', 2));
    w.apply(add('c1', 2));
    w.apply(policy('preorder', 2));
    w.apply(add('c1', 2));
    expect(w.line('cart', 'c1')).toMatchObject({ held: 0, backordered: 2, preordered: 2 });
    const p = w.apply(receive(3));
    expect(p.movements[1]).toEqual(
      mv('filled', 'c1', { reserved: 3, backordered: -2, preordered: -1 }),
    );
    expect(w.line('cart', 'c1')).toMatchObject({ held: 3, backordered: 0, preordered: 1 });
  });

  it('releases waiting units first, and a release of held units fills others', () => {
    const w = world();
    w.apply(receive(2));
    w.apply(policy('backorder', 5));
    w.apply(add('c1', 4));
    const p = w.apply({ op: 'releaseCart', mode: 'remove', cartId: 'c1', sku: 'A', quantity: 3 });
    expect(p.movements).toEqual([mv('released', 'c1', { reserved: -1, backordered: -2 })]);
    expect(w.queue()).toEqual([]);
    w.apply(add('c2', 3));
    expect(w.line('cart', 'c2')).toMatchObject({ held: 1, backordered: 2 });
    const c = w.apply({ op: 'releaseCart', mode: 'clear', cartId: 'c1' });
    expect(c.movements).toEqual([
      mv('released', 'c1', { reserved: -1 }),
      mv('filled', 'c2', { reserved: 1, backordered: -1 }),
    ]);
    expect(c.holds.map((h) => [h.id, h.state])).toEqual([
      ['c1', 'released'],
      ['c2', 'open'],
    ]);
    // expiry releases waiting units too
    const e = w.apply({ op: 'releaseCart', mode: 'expire', cartId: 'c2', expiresAt: NOW + TTL });
    expect(e.movements).toEqual([mv('expired', 'c2', { reserved: -2, backordered: -1 })]);
    expect(w.fig()).toMatchObject({ reserved: 0, backordered: 0 });
  });

  it('ships held units first, then waiting ones', () => {
    const w = world();
    w.apply(receive(1));
    w.apply(policy('backorder', 5));
    w.apply(order('o1', 3));
    expect(w.line('order', 'o1')).toMatchObject({ held: 1, backordered: 2, ordered: 3 });
    const p = w.apply({
      op: 'fulfilShipment',
      shipmentId: 's1',
      orderId: 'o1',
      lines: [{ sku: 'A', locationId: 'main', quantity: 3 }],
    });
    expect(p.movements).toEqual([
      mv('shipped', 'o1', { onHand: -3, reserved: -1, backordered: -2 }, 'order'),
    ]);
    expect(p.holds[0]).toMatchObject({ state: 'fulfilled' });
    expect(p.outcome.shortage).toEqual([{ sku: 'A', locationId: 'main', available: -2 }]);
    expect(w.queue()).toEqual([]);
  });

  it('an order takes over its cart’s waiting units, and the cart’s place', () => {
    const w = world();
    w.apply(policy('backorder', 10));
    w.apply(add('c1', 2));
    w.apply(add('c2', 1));
    const placeC2 = w.model.waits(T)[P]![1]![1];
    const p = w.apply(order('o2', 1, 'c2'));
    expect(p.movements).toEqual([]);
    expect(w.model.waits(T)[P]).toEqual([
      ['cart:c1', 1],
      ['order:o2', placeC2],
    ]);
    // o1 takes c1's two and waits for one more, in c1's place
    const q = w.apply(order('o1', 3, 'c1'));
    expect(q.movements).toEqual([mv('backordered', 'o1', { backordered: 1 }, 'order')]);
    expect(w.queue()).toEqual(['order:o1', 'order:o2']);
    expect(w.line('order', 'o1')).toMatchObject({ held: 0, backordered: 3 });
    const a = announce(envelope(q), 'T').find((x) => x.type === 'inventory.reserved');
    expect(a?.data.lines).toEqual([{ sku: 'A', locationId: 'main', quantity: 3, backordered: 3 }]);
    // paid: the fill commits
    w.apply({ op: 'commitOrder', orderId: 'o1', paymentId: 'p1' });
    const r = w.apply(receive(4));
    expect(r.movements.slice(1)).toEqual([
      mv('filled', 'o1', { reserved: 3, committed: 3, backordered: -3 }, 'order'),
      mv('filled', 'o2', { reserved: 1, backordered: -1 }, 'order'),
    ]);
    expect(w.fig()).toMatchObject({ reserved: 4, committed: 3, backordered: 0 });
  });

  it('an order that takes fewer than its cart waits for releases the cart’s waiting first', () => {
    const w = world();
    w.apply(receive(1));
    w.apply(policy('preorder', 10));
    w.apply(add('c1', 4));
    const p = w.apply(order('o1', 2, 'c1'));
    expect(p.movements).toEqual([
      { ...mv('released', 'c1', { preordered: -2 }), reason: 'not-ordered' },
    ]);
    expect(w.line('order', 'o1')).toMatchObject({ held: 1, preordered: 1 });
  });

  it('payment.succeeded reserving now lets the rest wait, committing the backed part', () => {
    const w = world();
    w.apply(receive(1));
    w.apply(policy('backorder', 5));
    const p = w.apply({
      op: 'commitOrder',
      orderId: 'o1',
      paymentId: 'p1',
      lines: [{ sku: 'A', locationId: 'main', quantity: 3 }],
    });
    expect(p.movements).toEqual([
      mv('reserved', 'o1', { reserved: 1 }, 'order'),
      mv('committed', 'o1', { committed: 1 }, 'order'),
      mv('backordered', 'o1', { backordered: 2 }, 'order'),
    ]);
    const a = announce(envelope(p), 'T').find((x) => x.type === 'inventory.reserved');
    expect(a?.data.lines).toEqual([{ sku: 'A', locationId: 'main', quantity: 3, backordered: 2 }]);
    const c = w.apply({ op: 'releaseOrder', mode: 'cancel', orderId: 'o1' });
    expect(c.movements).toEqual([
      {
        ...mv('released', 'o1', { reserved: -1, committed: -1, backordered: -2 }, 'order'),
        reason: 'cancelled',
      },
    ]);
  });

  it('an order placed after a failed payment releases waiting units too', () => {
    const w = world();
    w.apply(policy('backorder', 5));
    w.apply({ op: 'releaseOrder', mode: 'payfail', orderId: 'o1', paymentId: 'p1' });
    const p = w.apply(order('o1', 2));
    expect(p.movements).toEqual([
      mv('backordered', 'o1', { backordered: 2 }, 'order'),
      { ...mv('released', 'o1', { backordered: -2 }, 'order'), reason: 'payment-failed' },
    ]);
    expect(w.queue()).toEqual([]);
    expect(w.fig()).toMatchObject({ backordered: 0 });
  });

  it('announces the fills of other holds, not as their reservation', () => {
    const w = world();
    w.apply(receive(1));
    w.apply(policy('backorder', 10));
    w.apply({
      op: 'configureStock',
      sku: 'B',
      locationId: 'main',
      policy: 'backorder',
      policyLimit: 1,
    });
    w.apply(add('c1', 1));
    w.apply(order('o9', 2));
    const p = w.apply({
      op: 'placeOrder',
      orderId: 'o1',
      cartId: 'c1',
      lines: [{ sku: 'B', locationId: 'main', quantity: 1 }],
    });
    expect(p.holds.map((h) => [h.kind, h.id])).toEqual([
      ['cart', 'c1'],
      ['order', 'o1'],
      ['order', 'o9'],
    ]);
    const a = announce(envelope(p), 'T').map((x) => {
      const d = x.data as { referenceId?: string; lines?: unknown };
      return [x.type, d.referenceId, d.lines];
    });
    expect(a).toEqual([
      ['inventory.reserved', 'o1', [{ sku: 'B', locationId: 'main', quantity: 1, backordered: 1 }]],
      ['inventory.released', 'c1', [{ sku: 'A', locationId: 'main', quantity: 1 }]],
      ['inventory.filled', 'o9', undefined],
    ]);
    expect(announce(envelope(p), 'T')[2]!.data).toEqual({
      causationId: 'x',
      causationSource: '/t',
      causationType: 'test',
      referenceType: 'order',
      referenceId: 'o9',
      orderId: 'o9',
      sku: 'A',
      locationId: 'main',
      quantity: 1,
      backordered: 1,
      preordered: 0,
    });
  });

  it('deny is the default: nothing waits', () => {
    const w = world();
    const r = w.apply(add('c1', 1));
    expect(r.outcome.result).toBe('rejected');
    expect(r.outcome.short).toEqual([{ sku: 'A', locationId: 'main', requested: 1, available: 0 }]);
  });
});
