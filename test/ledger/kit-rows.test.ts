/**
 * Kits in the ledger: the rows of an event whose lines named a kit are its components'
 * movements, each naming the kit (`kit`) and how many of its units the kit's lines came to
 * (`kit_qty`); units of the same SKU named on their own are not counted as the kit's.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Command, EventMeta } from '../../src/domain/types.js';
import { createHarness, type Harness, toWrite } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('ledger_kits');
});
afterAll(async () => {
  await h?.close();
});

const T = 'kits';
let n = 0;
const meta = (): EventMeta => ({
  tenant: T,
  source: '/shop',
  id: `e${++n}`,
  type: 'test',
  occurredAt: '2026-12-02T10:15:00.000Z',
});

async function run(c: Command): Promise<string> {
  const m = meta();
  const w = toWrite(await h.engine.apply(m, c));
  if (!w) throw new Error(`nothing to write for ${JSON.stringify(c)}`);
  expect(await h.writer.write(w.payload, w.entryId)).toBe('committed');
  return m.id;
}

async function rows(eventId: string) {
  return (await h
    .knex('inventory_ledger')
    .where({ tenant: T, event_id: eventId })
    .orderBy('line_no')
    .select('sku', 'movement', 'qty', 'kit', 'kit_qty')) as {
    sku: string;
    movement: string;
    qty: number;
    kit: string | null;
    kit_qty: number | null;
  }[];
}

it('names the kit and its units on the rows of its components', async () => {
  await run({ op: 'receiveStock', sku: 'mug', locationId: 'default', quantity: 20 });
  await run({ op: 'receiveStock', sku: 'tea', locationId: 'default', quantity: 20 });
  await run({
    op: 'defineKit',
    sku: 'gift',
    components: [
      { sku: 'mug', quantity: 2 },
      { sku: 'tea', quantity: 1 },
    ],
  });
  const added = await run({
    op: 'reserveCart',
    cartId: 'c1',
    sku: 'gift',
    quantity: 2,
    ttlMs: 60_000,
  });
  expect(await rows(added)).toEqual([
    { sku: 'mug', movement: 'reserved', qty: 4, kit: 'gift', kit_qty: 4 },
    { sku: 'tea', movement: 'reserved', qty: 2, kit: 'gift', kit_qty: 2 },
  ]);
  // a kit and the same SKU alone in one order: one row, the kit's part counted
  const placed = await run({
    op: 'placeOrder',
    orderId: 'o1',
    lines: [
      { sku: 'gift', locationId: 'default', quantity: 1 },
      { sku: 'mug', locationId: 'default', quantity: 3 },
    ],
  });
  expect(await rows(placed)).toEqual([
    { sku: 'mug', movement: 'reserved', qty: 5, kit: 'gift', kit_qty: 2 },
    { sku: 'tea', movement: 'reserved', qty: 1, kit: 'gift', kit_qty: 1 },
  ]);
  await run({ op: 'commitOrder', orderId: 'o1', paymentId: 'p1' });
  const shipped = await run({
    op: 'fulfilShipment',
    shipmentId: 's1',
    orderId: 'o1',
    lines: [{ sku: 'gift', locationId: 'default', quantity: 1 }],
  });
  expect(await rows(shipped)).toEqual([
    { sku: 'mug', movement: 'shipped', qty: -2, kit: 'gift', kit_qty: 2 },
    { sku: 'tea', movement: 'shipped', qty: -1, kit: 'gift', kit_qty: 1 },
  ]);
  // an event with no kit writes no kit
  const alone = await run({ op: 'receiveStock', sku: 'mug', locationId: 'default', quantity: 1 });
  expect(await rows(alone)).toEqual([
    { sku: 'mug', movement: 'received', qty: 1, kit: null, kit_qty: null },
  ]);
});
