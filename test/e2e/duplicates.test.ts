/**
 * `id` + `source` identify an event: the same pair delivered again has its effect once, however
 * late; announcements may repeat but carry the same ids. Tenants never see each other's stock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { D, E2E, fig, mv, SOURCE, type Ev } from './harness.js';

let x: E2E;

beforeAll(async () => {
  x = await E2E.start('e2e_dup');
});

afterAll(async () => {
  await x?.close();
});

const line = (sku: string, quantity: number) => ({ sku, locationId: D, quantity });
const processedCount = async (t: string) =>
  Number(
    (
      (await x.knex('processed_events').where({ tenant: t }).count({ n: '*' })) as { n: number }[]
    )[0]!.n,
  );

/** Every announcement of `e`: all the same ids as the first delivery's, between 1 and `max` of each. */
async function expectRepeatsOnly(e: Ev, types: string[], max: number): Promise<void> {
  await x.waitAnnouncements(e, types.length);
  await x.quiesce();
  const got = x.announcementsOf(e);
  const byId = new Map<string, string[]>();
  for (const a of got) byId.set(a.id, [...(byId.get(a.id) ?? []), a.type]);
  expect([...byId.keys()].sort()).toEqual(types.map((_, i) => `${SOURCE}#${e.id}#${i}`).sort());
  types.forEach((type, i) => {
    const seen = byId.get(`${SOURCE}#${e.id}#${i}`)!;
    expect(new Set(seen)).toEqual(new Set([type]));
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.length).toBeLessThanOrEqual(max);
  });
}

describe('duplicates', () => {
  it('a cart.added published three times reserves once', async () => {
    const t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }));
    const e = x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 2 });
    await x.publish(e, e, e);
    await x.waitProcessed([e]);
    await x.quiesce();
    await x.expectRows(e, [mv('A', 'reserved', 2, [0, 2], 'cart', 'c')]);
    expect(await x.level(t, 'A')).toEqual(fig(10, 2));
    expect(await processedCount(t)).toBe(2);
    await expectRepeatsOnly(e, ['inventory.reserved'], 3);
  });

  it('three copies each of an order, its payment and its shipment, interleaved: one effect each', async () => {
    const t = x.tenant();
    await x.run(
      x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }),
      x.ev(t, 'stock.received', { sku: 'B', quantity: 10 }),
    );
    const place = x.ev(t, 'order.placed', { orderId: 'o', lines: [line('A', 3), line('B', 1)] });
    const pay = x.ev(t, 'payment.succeeded', { orderId: 'o', paymentId: 'p' });
    const ship = x.ev(t, 'shipment.created', {
      shipmentId: 's',
      orderId: 'o',
      lines: [line('A', 3), line('B', 1)],
    });
    await x.publish(place, place, pay, place, ship, pay, ship, pay, ship);
    await x.waitProcessed([place, pay, ship]);
    await x.quiesce();
    await x.expectRows(place, [
      mv('A', 'reserved', 3, [0, 3], 'order', 'o'),
      mv('B', 'reserved', 1, [0, 1], 'order', 'o'),
    ]);
    await x.expectRows(pay, [
      mv('A', 'committed', 3, [0, 0, 3], 'order', 'o'),
      mv('B', 'committed', 1, [0, 0, 1], 'order', 'o'),
    ]);
    await x.expectRows(ship, [
      mv('A', 'shipped', -3, [-3, -3, -3], 'order', 'o'),
      mv('B', 'shipped', -1, [-1, -1, -1], 'order', 'o'),
    ]);
    expect(await x.levels(t)).toEqual({ 'A@default': fig(7), 'B@default': fig(9) });
    expect((await x.ledger(t)).length).toBe(2 + 6);
    await expectRepeatsOnly(ship, ['inventory.fulfilled'], 3);
    await expectRepeatsOnly(place, ['inventory.reserved'], 3);
  });

  it('copies published in parallel from three connections: one effect', async () => {
    const t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }));
    const e = x.ev(t, 'stock.adjusted', { sku: 'A', delta: -4, reason: 'damage' });
    await Promise.all([x.publish(e), x.publish(e), x.publish(e)]);
    await x.waitProcessed([e]);
    await x.quiesce();
    await x.expectRows(e, [mv('A', 'adjusted', -4, [-4], 'adjustment', e.id, 'damage')]);
    expect(await x.level(t, 'A')).toEqual(fig(6));
  });

  it('a duplicate arriving late, after other changes, changes nothing', async () => {
    const t = x.tenant();
    const first = x.ev(t, 'stock.received', { sku: 'A', quantity: 10 });
    await x.run(first);
    const later = Array.from({ length: 20 }, (_, i) =>
      x.ev(t, 'cart.added', { cartId: `c${i}`, sku: 'A', quantity: 1 }),
    );
    await x.run(...later);
    await x.run(x.ev(t, 'stock.counted', { sku: 'A', onHand: 50 }));
    expect(await x.level(t, 'A')).toEqual(fig(50, 10));
    const cartAgain = later[3]!;
    await x.publish(first, cartAgain);
    await x.quiesce();
    expect(await x.level(t, 'A')).toEqual(fig(50, 10));
    expect((await x.ledger(t)).length).toBe(1 + 10 + 1);
    expect(await processedCount(t)).toBe(22);
  });

  it('same id from another source is another event', async () => {
    const t = x.tenant();
    const a = x.ev(t, 'stock.received', { sku: 'A', quantity: 5 });
    const b: Ev = { ...a, source: '/warehouse' };
    await x.run(a, b);
    expect(await x.level(t, 'A')).toEqual(fig(10));
    expect((await x.ledger(t)).map((r) => r.eventId)).toEqual([a.id, a.id]);
  });
});

describe('tenants', () => {
  it('the same event in two tenants applies to each; stock of one is never available to the other', async () => {
    const acme = x.tenant('acme');
    const globex = x.tenant('globex');
    const rcv = x.ev(acme, 'stock.received', { sku: 'A', quantity: 5 });
    await x.run(rcv, { ...rcv, tenant: globex });
    expect(await x.level(acme, 'A')).toEqual(fig(5));
    expect(await x.level(globex, 'A')).toEqual(fig(5));

    await x.run(x.ev(acme, 'stock.received', { sku: 'ONLY-ACME', quantity: 5 }));
    const steal = x.ev(globex, 'cart.added', { cartId: 'c', sku: 'ONLY-ACME', quantity: 1 });
    await x.run(steal);
    expect(await x.outcome(steal)).toEqual({ result: 'rejected', reason: 'insufficient-stock' });
    const failed = await x.waitAnnouncements(steal, 1);
    expect(failed[0]!.tenant).toBe(globex);
    expect(failed[0]!.data.lines).toEqual([
      { sku: 'ONLY-ACME', locationId: D, requested: 1, available: 0 },
    ]);
    expect(await x.level(acme, 'ONLY-ACME')).toEqual(fig(5));
    expect(await x.level(globex, 'ONLY-ACME')).toBeUndefined();
  });

  it('events without a tenant belong to "default"', async () => {
    const e = x.ev('default', 'stock.received', { sku: 'NOTENANT', quantity: 3 });
    const noTenant = Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'tenant'));
    await x.publish(noTenant as Ev);
    await x.waitProcessed([e]);
    expect(await x.level('default', 'NOTENANT')).toEqual(fig(3));
  });
});

describe('after all of it', () => {
  it('ledger = stock_levels for every tenant, nothing queued or dead-lettered', async () => {
    await x.quiesce();
    const tenants = (await x.knex('stock_levels').distinct('tenant')) as { tenant: string }[];
    for (const { tenant } of tenants) await x.expectLedgerMatchesLevels(tenant);
    expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
  });
});
