/**
 * shipment.cancelled (voidShipment-4+.lua): the shipment's units come back on hand and into the
 * order's hold as they were (committed when paid); units shipped beyond the hold come back on
 * hand only; an order cancelled in between gets nothing back; an unknown shipment and a second
 * cancellation change nothing. A shipment id is shipped once per order. The model agrees.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { TenantKeys } from '../../src/engine/keys.js';
import type { Engine } from '../../src/engine/engine.js';
import type { Command, HoldSnapshot } from '../../src/domain/types.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';
import { readFigures, testEngine, twinTenant } from '../support/engine-harness.js';

const NOW = 1_800_000_000_000;
const D = 'default';
let redis: Redis;
let engine: Engine;
const prefix = uniqueName('voidship');

beforeAll(() => {
  redis = testRedis();
  engine = testEngine(redis, prefix, () => NOW);
});

afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

let tenants = 0;
/** A fresh tenant; every step runs on the engine and the model, which must agree. */
function tenant() {
  const name = `v${++tenants}`;
  const k = new TenantKeys(prefix, name);
  const { run } = twinTenant(engine, name, NOW);
  return {
    run,
    fig: (sku: string) => readFigures(redis, k, sku, D),
    hold: async (id: string) => (await redis.hgetall(k.order(id))) as Record<string, string>,
  };
}

const receive = (sku: string, quantity: number): Command => ({
  op: 'receiveStock',
  sku,
  locationId: D,
  quantity,
});
const line = (sku: string, quantity: number) => ({ sku, locationId: D, quantity });
const place = (
  orderId: string,
  ...lines: { sku: string; locationId: string; quantity: number }[]
) => ({ op: 'placeOrder', orderId, lines }) as Command;
const pay = (orderId: string): Command => ({
  op: 'commitOrder',
  orderId,
  paymentId: `p-${orderId}`,
});
const ship = (
  shipmentId: string,
  orderId: string,
  ...lines: ReturnType<typeof line>[]
): Command => ({
  op: 'fulfilShipment',
  shipmentId,
  orderId,
  lines,
});
const cancelShipment = (shipmentId: string, orderId: string): Command => ({
  op: 'voidShipment',
  shipmentId,
  orderId,
});
const held = (h: HoldSnapshot | undefined) => h?.lines.map((l) => [l.sku, l.held, l.shipped]);

it('a paid order fully shipped: the units come back held and committed, the order paid again', async () => {
  const t = tenant();
  await t.run(receive('A', 10));
  await t.run(place('o1', line('A', 4)));
  await t.run(pay('o1'));
  await t.run(ship('s1', 'o1', line('A', 4)));
  expect(await t.fig('A')).toMatchObject({ onHand: 6, reserved: 0, committed: 0 });
  const p = await t.run(cancelShipment('s1', 'o1'));
  expect(p.outcome).toEqual({ result: 'applied' });
  expect(p.movements).toMatchObject([
    { kind: 'shipped', onHand: 4, reserved: 4, committed: 4, reason: 'shipment-cancelled' },
  ]);
  expect(await t.fig('A')).toMatchObject({ onHand: 10, reserved: 4, committed: 4, available: 6 });
  expect(p.holds[0]).toMatchObject({ state: 'paid', paid: true });
  expect(held(p.holds[0])).toEqual([['A', 4, 0]]);
  expect((await t.hold('o1'))['x:s1']).toBe('c');
});

it('an unpaid order, partly shipped: only the shipped units come back, held not committed', async () => {
  const t = tenant();
  await t.run(receive('A', 10));
  await t.run(receive('B', 10));
  await t.run(place('o1', line('A', 3), line('B', 2)));
  await t.run(ship('s1', 'o1', line('A', 1)));
  await t.run(ship('s2', 'o1', line('A', 2), line('B', 2)));
  const p = await t.run(cancelShipment('s1', 'o1'));
  expect(p.holds[0]).toMatchObject({ state: 'placed' });
  expect(held(p.holds[0])).toEqual([
    ['A', 1, 2],
    ['B', 0, 2],
  ]);
  expect(await t.fig('A')).toMatchObject({ onHand: 8, reserved: 1, committed: 0 });
  expect(await t.fig('B')).toMatchObject({ onHand: 8, reserved: 0 });
});

it('units shipped beyond the hold come back on hand only', async () => {
  const t = tenant();
  await t.run(receive('A', 10));
  await t.run(place('o1', line('A', 2)));
  await t.run(pay('o1'));
  await t.run(ship('s1', 'o1', line('A', 5)));
  expect(await t.fig('A')).toMatchObject({ onHand: 5, reserved: 0, committed: 0 });
  const p = await t.run(cancelShipment('s1', 'o1'));
  expect(p.movements).toMatchObject([{ kind: 'shipped', onHand: 5, reserved: 2, committed: 2 }]);
  expect(await t.fig('A')).toMatchObject({ onHand: 10, reserved: 2, committed: 2, available: 8 });
  expect(p.holds[0]).toMatchObject({ state: 'paid' });
});

it('an order cancelled in between: the units become available', async () => {
  const t = tenant();
  await t.run(receive('A', 10));
  await t.run(place('o1', line('A', 4)));
  await t.run(pay('o1'));
  await t.run(ship('s1', 'o1', line('A', 3)));
  await t.run({ op: 'releaseOrder', orderId: 'o1', mode: 'cancel', reason: 'customer' });
  expect(await t.fig('A')).toMatchObject({ onHand: 7, reserved: 0, committed: 0 });
  const p = await t.run(cancelShipment('s1', 'o1'));
  expect(p.movements).toMatchObject([{ kind: 'shipped', onHand: 3, reserved: 0, committed: 0 }]);
  expect(await t.fig('A')).toMatchObject({ onHand: 10, reserved: 0, available: 10 });
  expect(p.holds[0]).toMatchObject({ state: 'cancelled' });
  // the cancelled order's key keeps its expiry
  expect(await redis.ttl(new TenantKeys(prefix, `v${tenants}`).order('o1'))).toBeGreaterThan(0);
});

it('an unknown shipment, a second cancellation and a reused shipment id change nothing', async () => {
  const t = tenant();
  await t.run(receive('A', 10));
  await t.run(place('o1', line('A', 2)));
  let p = await t.run(cancelShipment('nope', 'o1'));
  expect(p.outcome).toEqual({ result: 'ignored', reason: 'unknown-shipment' });
  expect(p.movements).toEqual([]);
  p = await t.run(cancelShipment('s1', 'o-unknown'));
  expect(p.outcome).toEqual({ result: 'ignored', reason: 'unknown-shipment' });
  await t.run(ship('s1', 'o1', line('A', 2)));
  p = await t.run(ship('s1', 'o1', line('A', 2)));
  expect(p.outcome).toEqual({ result: 'ignored', reason: 'shipment-exists' });
  await t.run(cancelShipment('s1', 'o1'));
  const before = await t.fig('A');
  p = await t.run(cancelShipment('s1', 'o1'));
  expect(p.outcome).toEqual({ result: 'ignored', reason: 'shipment-cancelled' });
  expect(p.movements).toEqual([]);
  expect(await t.fig('A')).toEqual(before);
  // a cancelled shipment's id is not shipped again either
  p = await t.run(ship('s1', 'o1', line('A', 1)));
  expect(p.outcome).toEqual({ result: 'ignored', reason: 'shipment-exists' });
});

it('waiting units that shipped come back held: the order was owed them', async () => {
  const t = tenant();
  await t.run(receive('A', 1));
  await t.run({
    op: 'configureStock',
    sku: 'A',
    locationId: D,
    policy: 'backorder',
    policyLimit: 5,
  });
  await t.run(place('o1', line('A', 3)));
  expect(await t.fig('A')).toMatchObject({ onHand: 1, reserved: 1, backordered: 2 });
  // the warehouse had the units after all: all three ship
  await t.run(ship('s1', 'o1', line('A', 3)));
  expect(await t.fig('A')).toMatchObject({ onHand: -2, reserved: 0, backordered: 0 });
  const p = await t.run(cancelShipment('s1', 'o1'));
  expect(held(p.holds[0])).toEqual([['A', 3, 0]]);
  // availability never drops on a cancellation: on hand and reserved grow alike
  expect(await t.fig('A')).toMatchObject({ onHand: 1, reserved: 3, backordered: 0, available: -2 });
});
