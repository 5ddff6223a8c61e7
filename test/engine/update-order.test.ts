/**
 * order.updated (updateOrder-5+.lua), the paths the e2e test does not take, step by step on the
 * engine and the model, which must agree: lines naming no location in a network (where the order
 * has the SKU, else its first bound location); growth beyond stock under a backorder policy and
 * its refusal past the limit; a fulfilled order growing holds again; a released order records the
 * lines only and a later payment reserves them; before order.placed nothing is written.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { TenantKeys } from '../../src/engine/keys.js';
import type { Engine } from '../../src/engine/engine.js';
import type { Command } from '../../src/domain/types.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { readFigures, testEngine, twinTenant } from '../support/engine-harness.js';

const NOW = 1_800_000_000_000;
const D = 'default';
let redis: Redis;
let engine: Engine;
const prefix = uniqueName('updorder');

beforeAll(() => {
  redis = testRedis();
  engine = testEngine(redis, prefix, () => NOW);
});

afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

let tenants = 0;
function tenant() {
  const name = `u${++tenants}`;
  const k = new TenantKeys(prefix, name);
  const { step, run } = twinTenant(engine, name, NOW);
  return {
    step,
    run,
    fig: (sku: string, loc = D) => readFigures(redis, k, sku, loc),
    hold: async (id: string) => (await redis.hgetall(k.order(id))) as Record<string, string>,
  };
}

const receive = (sku: string, quantity: number, locationId = D): Command => ({
  op: 'receiveStock',
  sku,
  locationId,
  quantity,
});
const line = (sku: string, quantity: number, locationId = D) => ({ sku, locationId, quantity });
const place = (orderId: string, ...lines: ReturnType<typeof line>[]): Command => ({
  op: 'placeOrder',
  orderId,
  lines,
});
const update = (
  orderId: string,
  lines: ReturnType<typeof line>[],
  unlocated?: { sku: string; quantity: number }[],
): Command => ({ op: 'updateOrder', orderId, lines, ...(unlocated ? { unlocated } : {}) });
const placed = (p: { holds: { kind: string; lines: unknown[] }[] }) =>
  p.holds.find((h) => h.kind === 'order');

it('in a network, unlocated lines go where the order has the SKU, else to its first bound location', async () => {
  const t = tenant();
  await t.run({ op: 'upsertLocation', locationId: 'main', name: 'M', priority: 1, shipsTo: [] });
  await t.run({ op: 'upsertLocation', locationId: 'north', name: 'N', priority: 0, shipsTo: [] });
  await t.run({ op: 'bindLocation', locationId: 'main', skus: ['A', 'B'], bound: true });
  await t.run({ op: 'bindLocation', locationId: 'north', skus: ['B'], bound: true });
  await t.run(receive('A', 10, 'main'));
  await t.run(receive('B', 10, 'main'));
  await t.run(receive('B', 10, 'north'));
  // the order holds B at main (named); an unlocated B stays there, an unlocated A goes to main
  // (the only location bound to A)
  await t.run(place('o1', line('B', 1, 'main')));
  const p = await t.run(
    update(
      'o1',
      [],
      [
        { sku: 'B', quantity: 3 },
        { sku: 'A', quantity: 2 },
      ],
    ),
  );
  expect(p.outcome).toEqual({ result: 'applied' });
  expect(p.movements.map((m) => [m.kind, m.sku, m.locationId, m.reserved])).toEqual([
    ['reserved', 'A', 'main', 2],
    ['reserved', 'B', 'main', 2],
  ]);
  // a new order's unlocated B goes to north (priority 0 before main)
  await t.run(place('o2', line('A', 1, 'main')));
  const q = await t.run(update('o2', [line('A', 1, 'main')], [{ sku: 'B', quantity: 1 }]));
  expect(q.movements.map((m) => [m.kind, m.sku, m.locationId])).toEqual([
    ['reserved', 'B', 'north'],
  ]);
  // a named location the network does not stock is refused as for order.placed
  const r = await t.run(update('o2', [line('A', 1, 'north')]));
  expect(r.outcome).toMatchObject({ result: 'rejected', reason: 'location-not-stocked' });
});

it('growth beyond stock waits under a backorder policy; past its limit the whole edit is refused', async () => {
  const t = tenant();
  await t.run(receive('A', 3));
  await t.run(receive('B', 10));
  await t.run({
    op: 'configureStock',
    sku: 'A',
    locationId: D,
    policy: 'backorder',
    policyLimit: 2,
  });
  await t.run(place('o1', line('A', 1), line('B', 1)));
  const refused = await t.run(update('o1', [line('A', 6), line('B', 4)]));
  expect(refused.outcome).toEqual({
    result: 'rejected',
    reason: 'insufficient-stock',
    short: [{ sku: 'A', locationId: D, requested: 6, available: 5 }],
    referenceType: 'order',
    referenceId: 'o1',
  });
  expect(refused.movements).toEqual([]);
  const p = await t.run(update('o1', [line('A', 5), line('B', 4)]));
  expect(p.movements.map((m) => [m.kind, m.sku, m.reserved, m.backordered ?? 0])).toEqual([
    ['reserved', 'A', 2, 0],
    ['backordered', 'A', 0, 2],
    ['reserved', 'B', 3, 0],
  ]);
  expect(await t.fig('A')).toMatchObject({ onHand: 3, reserved: 3, backordered: 2 });
  // shrinking lets the waiting units go first
  const s = await t.run(update('o1', [line('A', 4), line('B', 4)]));
  expect(s.movements).toMatchObject([
    { kind: 'released', sku: 'A', reserved: 0, backordered: -1, reason: 'order-updated' },
  ]);
});

it('a fulfilled order that grows holds again; shrunk to what shipped it is fulfilled', async () => {
  const t = tenant();
  await t.run(receive('A', 10));
  await t.run(place('o1', line('A', 2)));
  await t.run({ op: 'commitOrder', orderId: 'o1', paymentId: 'p1' });
  await t.run({ op: 'fulfilShipment', shipmentId: 's1', orderId: 'o1', lines: [line('A', 2)] });
  expect((await t.hold('o1')).st).toBe('fulfilled');
  const grow = await t.run(update('o1', [line('A', 5)]));
  expect(placed(grow)).toMatchObject({ state: 'paid' });
  expect(await t.fig('A')).toMatchObject({ onHand: 8, reserved: 3, committed: 3 });
  const back = await t.run(update('o1', [line('A', 2)]));
  expect(placed(back)).toMatchObject({ state: 'fulfilled' });
  expect(await t.fig('A')).toMatchObject({ onHand: 8, reserved: 0, committed: 0 });
});

it('a released order records the new lines only; a later payment reserves them', async () => {
  const t = tenant();
  await t.run(receive('A', 10));
  await t.run(place('o1', line('A', 2)));
  await t.run({ op: 'releaseOrder', mode: 'payfail', orderId: 'o1', paymentId: 'p0' });
  const p = await t.run(update('o1', [line('A', 4)]));
  expect(p.outcome).toEqual({ result: 'applied', reason: 'order-released' });
  expect(p.movements).toEqual([]);
  await t.run({ op: 'commitOrder', orderId: 'o1', paymentId: 'p1' });
  expect(await t.fig('A')).toMatchObject({ reserved: 4, committed: 4 });
});

it('before order.placed nothing is written; the same event applies once the order is in', async () => {
  const t = tenant();
  await t.run(receive('A', 10));
  const early = update('o1', [line('A', 3)]);
  expect(await t.step(early, 'edit')).toEqual({ status: 'not-yet', reason: 'order-not-placed' });
  expect(await t.hold('o1')).toEqual({});
  await t.run(place('o1', line('A', 1)));
  const got = await t.step(early, 'edit');
  expect(got.status).toBe('applied');
  expect(await t.fig('A')).toMatchObject({ reserved: 3 });
  // the same lines again: ignored, nothing written to the hold
  const v = (await t.hold('o1')).v;
  const again = await t.run(update('o1', [line('A', 3)]));
  expect(again.outcome).toEqual({ result: 'ignored', reason: 'unchanged' });
  expect((await t.hold('o1')).v).toBe(v);
});
