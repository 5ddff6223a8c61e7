/**
 * What a shipment moved lives in its order's hold (x:<shipmentId>) and in reservations.shipments:
 * the reconciliation finds no drift in it, and a Redis rebuilt from MySQL after the shipment
 * undoes it exactly when the shipment is cancelled. Then the ledger still equals stock_levels.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Command } from '../../src/domain/types.js';
import { unlinkTenantKeys } from '../../src/ledger/tenant-keys.js';
import { createReconcileHarness, events, shape, type ReconcileHarness } from './harness.js';

let h: ReconcileHarness;
beforeAll(async () => {
  h = await createReconcileHarness('rec_voidship');
});
afterAll(async () => {
  await h?.close();
});

const D = 'default';
const line = (sku: string, quantity: number) => ({ sku, locationId: D, quantity });

async function stockRow(tenant: string, sku: string) {
  return (await h.s.knex('stock_levels').where({ tenant, sku, location_id: D }).first()) as {
    on_hand: number;
    reserved: number;
    committed: number;
  };
}

async function ledgerSum(tenant: string, sku: string) {
  const [r] = (await h.s.knex('inventory_ledger').where({ tenant, sku, location_id: D }).sum({
    on_hand: 'on_hand_delta',
    reserved: 'reserved_delta',
    committed: 'committed_delta',
  })) as {
    on_hand: string;
    reserved: string;
    committed: string;
  }[];
  return {
    on_hand: Number(r!.on_hand),
    reserved: Number(r!.reserved),
    committed: Number(r!.committed),
  };
}

test('shipped, reconciled, Redis rebuilt from MySQL, then cancelled: as before the shipment', async () => {
  const t = 'voided';
  const e = events(t);
  const run = (c: Command) => h.apply(e(c.op), c);
  await run({ op: 'receiveStock', sku: 'A', locationId: D, quantity: 10 });
  await run({ op: 'placeOrder', orderId: 'o1', lines: [line('A', 4)] });
  await run({ op: 'commitOrder', orderId: 'o1', paymentId: 'p1' });
  // two from the hold of four, and one beyond it in a second shipment
  await run({ op: 'fulfilShipment', shipmentId: 's1', orderId: 'o1', lines: [line('A', 2)] });
  await run({ op: 'fulfilShipment', shipmentId: 's2', orderId: 'o1', lines: [line('A', 3)] });
  const order = h.keys(t).order('o1');
  const before = await h.s.redis.hgetall(order);
  expect(Object.keys(before).filter((f) => f.startsWith('x:'))).toEqual(['x:s1', 'x:s2']);

  let r = await h.run({ tenant: t });
  expect(r.firstDrifts.map(shape)).toEqual([]);

  await unlinkTenantKeys(h.s.redis, h.keys(t)); // Redis restarted empty
  await h.s.loader.load(t);
  expect(await h.s.redis.hgetall(order)).toEqual(before);
  r = await h.run({ tenant: t });
  expect(r.firstDrifts.map(shape)).toEqual([]);

  await run({ op: 'voidShipment', shipmentId: 's2', orderId: 'o1' });
  // s2 took the last two held units and one beyond: two back held (committed), one available
  expect(await stockRow(t, 'A')).toMatchObject({ on_hand: 8, reserved: 2, committed: 2 });
  await unlinkTenantKeys(h.s.redis, h.keys(t));
  await h.s.loader.load(t);
  await run({ op: 'voidShipment', shipmentId: 's1', orderId: 'o1' });
  expect(await stockRow(t, 'A')).toMatchObject({ on_hand: 10, reserved: 4, committed: 4 });
  expect(await ledgerSum(t, 'A')).toEqual({ on_hand: 10, reserved: 4, committed: 4 });
  const after = await h.s.redis.hgetall(order);
  expect(after).toMatchObject({ st: 'paid', 'x:s1': 'c', 'x:s2': 'c' });
  const row = (await h.s
    .knex('reservations')
    .where({ tenant: t, ref_type: 'order', ref_id: 'o1' })
    .first()) as { state: string; shipments: string };
  expect(row.state).toBe('paid');
  expect(JSON.parse(row.shipments)).toEqual({ s1: 'c', s2: 'c' });
  r = await h.run({ tenant: t });
  expect(r.firstDrifts.map(shape)).toEqual([]);
  expect(r.status).toBe('clean');
});
