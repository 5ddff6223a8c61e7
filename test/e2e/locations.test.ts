/**
 * Locations, bindings, routing and transfers end to end: published events, the BI tables
 * (`locations`, `location_skus`, `reservations`), announcements naming each line's location,
 * and a tenant reloaded from MySQL after Redis lost it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropRedisPrefix, testRedis } from '../support/isolation.js';
import { E2E, fig, type Ev } from './harness.js';

let x: E2E;

beforeAll(async () => {
  x = await E2E.start('e2e_locations');
});

afterAll(async () => {
  await x?.close();
});

async function network(t: string): Promise<void> {
  await x.run(
    x.ev(t, 'location.upserted', {
      locationId: 'sf',
      name: 'SF store',
      priority: 1,
      shipsTo: ['us-ca'],
    }),
    x.ev(t, 'location.upserted', {
      locationId: 'wh',
      name: 'Warehouse',
      priority: 2,
      shipsTo: ['US'],
    }),
  );
  await x.run(
    x.ev(t, 'location.bound', { locationId: 'sf', skus: ['A'] }),
    x.ev(t, 'location.bound', { locationId: 'wh', skus: ['A', 'B'] }),
  );
  await x.run(
    x.ev(t, 'stock.received', { sku: 'A', quantity: 2, locationId: 'sf' }),
    x.ev(t, 'stock.received', { sku: 'A', quantity: 10, locationId: 'wh' }),
    x.ev(t, 'stock.received', { sku: 'B', quantity: 10, locationId: 'wh' }),
  );
}

const reservedOf = (e: Ev) =>
  x
    .announcementsOf(e)
    .filter((a) => a.type === 'inventory.reserved')
    .map((a) => a.data.lines);

describe('locations end to end', () => {
  it('locations and bindings are events, visible to BI; unbound locations are refused', async () => {
    const t = x.tenant();
    await network(t);
    expect(
      await x
        .knex('locations')
        .where({ tenant: t })
        .orderBy('location_id')
        .select('location_id', 'name', 'priority', 'ships_to'),
    ).toEqual([
      { location_id: 'sf', name: 'SF store', priority: 1, ships_to: '["US-CA"]' },
      { location_id: 'wh', name: 'Warehouse', priority: 2, ships_to: '["US"]' },
    ]);
    expect(
      await x
        .knex('location_skus')
        .where({ tenant: t })
        .orderBy(['sku', 'location_id'])
        .select('sku', 'location_id', 'bound'),
    ).toEqual([
      { sku: 'A', location_id: 'sf', bound: 1 },
      { sku: 'A', location_id: 'wh', bound: 1 },
      { sku: 'B', location_id: 'wh', bound: 1 },
    ]);
    const bad = x.ev(t, 'stock.received', { sku: 'B', quantity: 5, locationId: 'sf' });
    const badCart = x.ev(t, 'cart.added', {
      cartId: 'c9',
      sku: 'B',
      quantity: 1,
      locationId: 'sf',
    });
    await x.run(bad, badCart);
    expect(await x.outcome(bad)).toEqual({ result: 'rejected', reason: 'location-not-stocked' });
    const failed = await x.waitAnnouncements(badCart, 1);
    expect(failed[0]).toMatchObject({
      type: 'inventory.reservation-failed',
      data: { reason: 'location-not-stocked', referenceType: 'cart', referenceId: 'c9' },
    });
    expect(await x.level(t, 'B', 'sf')).toBeUndefined();
  });

  it('order.placed is routed towards its shipping address; inventory.reserved names each location', async () => {
    const t = x.tenant();
    await network(t);
    const ca = x.ev(t, 'order.placed', {
      orderId: 'o1',
      lines: [{ sku: 'A', quantity: 2 }],
      shippingAddress: { country: 'us', region: 'ca' },
    });
    const ny = x.ev(t, 'order.placed', {
      orderId: 'o2',
      lines: [
        { sku: 'A', quantity: 1 },
        { sku: 'B', quantity: 1 },
      ],
      shippingAddress: { country: 'US', region: 'NY' },
    });
    const forced = x.ev(t, 'order.placed', {
      orderId: 'o3',
      fulfillFromLocationId: 'wh',
      lines: [{ sku: 'A', quantity: 1 }],
      shippingAddress: { country: 'US', region: 'CA' },
    });
    await x.run(ca, ny, forced);
    await x.waitAnnouncements(forced, 1);
    expect(reservedOf(ca)).toEqual([[{ sku: 'A', locationId: 'sf', quantity: 2 }]]);
    expect(reservedOf(ny)).toEqual([
      [
        { sku: 'A', locationId: 'wh', quantity: 1 },
        { sku: 'B', locationId: 'wh', quantity: 1 },
      ],
    ]);
    expect(reservedOf(forced)).toEqual([[{ sku: 'A', locationId: 'wh', quantity: 1 }]]);
    const levels = await x.levels(t);
    expect(levels['A@sf']).toEqual(fig(2, 2));
    expect(levels['A@wh']).toEqual(fig(10, 2));
    // a shipment naming no location leaves from where the order holds the units
    await x.run(
      x.ev(t, 'shipment.created', {
        shipmentId: 's1',
        orderId: 'o1',
        lines: [{ sku: 'A', quantity: 2 }],
      }),
    );
    expect((await x.levels(t))['A@sf']).toEqual(fig(0));
    await x.expectLedgerMatchesLevels(t);
  });

  it('transfers: created, shipped, received in two parts; the record in reservations', async () => {
    const t = x.tenant();
    await network(t);
    await x.run(
      x.ev(t, 'transfer.created', {
        transferId: 'tr1',
        fromLocationId: 'wh',
        toLocationId: 'sf',
        lines: [{ sku: 'A', quantity: 4 }],
      }),
    );
    await x.run(
      x.ev(t, 'transfer.shipped', {
        transferId: 'tr1',
        fromLocationId: 'wh',
        toLocationId: 'sf',
        lines: [{ sku: 'A', quantity: 4 }],
      }),
    );
    expect((await x.levels(t))['A@sf']).toEqual(fig(2, 0, 0, 0, 4));
    await x.run(
      x.ev(t, 'transfer.received', { transferId: 'tr1', lines: [{ sku: 'A', quantity: 1 }] }),
    );
    const mid = (await x
      .knex('reservations')
      .where({ tenant: t, ref_type: 'transfer', ref_id: 'tr1' })
      .first('state', 'lines')) as { state: string; lines: string };
    expect(mid.state).toBe('receiving');
    expect(JSON.parse(mid.lines)).toEqual([
      { sku: 'A', locationId: 'sf', held: 3, ordered: 4, shipped: 1 },
    ]);
    await x.run(x.ev(t, 'transfer.received', { transferId: 'tr1' }));
    expect((await x.levels(t))['A@sf']).toEqual(fig(6));
    expect((await x.levels(t))['A@wh']).toEqual(fig(6));
    await x.run(
      x.ev(t, 'transfer.created', {
        transferId: 'tr2',
        fromLocationId: 'wh',
        toLocationId: 'sf',
        lines: [{ sku: 'A', quantity: 1 }],
      }),
    );
    const cancel = x.ev(t, 'transfer.cancelled', { transferId: 'tr2' });
    await x.run(cancel);
    expect(await x.outcome(cancel)).toEqual({ result: 'applied', reason: null });
    await x.expectLedgerMatchesLevels(t);
  });

  it('a tenant reloaded from MySQL keeps its locations and bindings', async () => {
    const t = x.tenant();
    await network(t);
    const redis = testRedis();
    try {
      await dropRedisPrefix(redis, `${x.t.config.REDIS_PREFIX}:{${t}}`);
    } finally {
      await redis.quit();
    }
    const refused = x.ev(t, 'stock.received', { sku: 'B', quantity: 1, locationId: 'sf' });
    const routed = x.ev(t, 'order.placed', {
      orderId: 'o1',
      lines: [{ sku: 'A', quantity: 1 }],
      shippingAddress: { country: 'US', region: 'CA' },
    });
    await x.run(refused, routed);
    expect(await x.outcome(refused)).toEqual({
      result: 'rejected',
      reason: 'location-not-stocked',
    });
    await x.waitAnnouncements(routed, 1);
    expect(reservedOf(routed)).toEqual([[{ sku: 'A', locationId: 'sf', quantity: 1 }]]);
  });
});
