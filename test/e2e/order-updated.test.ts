/**
 * `order.updated` through RabbitMQ, Redis and MySQL: the order's complete new lines. A line that
 * grows reserves the difference (committed at once for a paid order), one that shrinks or is left
 * out releases it (reason `order-updated`); a short line refuses the whole event with nothing
 * changed (`inventory.reservation-failed`); a line below what shipped is refused
 * (`below-shipped`); the same lines again (a late duplicate, another event id) and a redelivery
 * change nothing; an edit before its `order.placed` waits in the retry tiers and applies once the
 * order is in; after `order.cancelled` it is ignored. The ledger always sums to stock_levels.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { E2E, fig, mv, waitFor } from './harness.js';

let x: E2E;

beforeAll(async () => {
  x = await E2E.start('e2e_orderupd');
});

afterAll(async () => {
  await x?.close();
});

const orderRow = async (t: string, id: string) =>
  (await x
    .knex('reservations')
    .where({ tenant: t, ref_type: 'order', ref_id: id })
    .first('state', 'paid', 'lines')) as { state: string; paid: number; lines: string };

it('grows and shrinks an order: reserved and released, announced; a duplicate changes nothing', async () => {
  const t = x.tenant();
  await x.run(
    x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }),
    x.ev(t, 'stock.received', { sku: 'B', quantity: 10 }),
    x.ev(t, 'stock.received', { sku: 'C', quantity: 10 }),
  );
  await x.run(
    x.ev(t, 'order.placed', {
      orderId: 'o',
      lines: [
        { sku: 'A', quantity: 2 },
        { sku: 'B', quantity: 5 },
      ],
    }),
  );
  // A grows by 3, B shrinks by 4, C is new (no location: `default`, as the order has no C)
  const edit = x.ev(t, 'order.updated', {
    orderId: 'o',
    lines: [
      { sku: 'A', quantity: 5 },
      { sku: 'B', quantity: 1, locationId: 'default' },
      { sku: 'C', quantity: 2 },
    ],
  });
  await x.run(edit);
  expect(await x.outcome(edit)).toMatchObject({ result: 'applied' });
  await x.expectRows(edit, [
    mv('A', 'reserved', 3, [0, 3], 'order', 'o'),
    mv('B', 'released', -4, [0, -4], 'order', 'o', 'order-updated'),
    mv('C', 'reserved', 2, [0, 2], 'order', 'o'),
  ]);
  expect(await x.levels(t)).toEqual({
    'A@default': fig(10, 5),
    'B@default': fig(10, 1),
    'C@default': fig(10, 2),
  });
  const anns = await x.waitAnnouncements(edit, 2);
  const reserved = anns.find((a) => a.type === 'inventory.reserved');
  const released = anns.find((a) => a.type === 'inventory.released');
  // the order's whole hold, as for every reservation of an order
  expect(reserved?.data).toMatchObject({
    referenceType: 'order',
    referenceId: 'o',
    lines: [
      { sku: 'A', locationId: 'default', quantity: 5 },
      { sku: 'B', locationId: 'default', quantity: 1 },
      { sku: 'C', locationId: 'default', quantity: 2 },
    ],
  });
  expect(released?.data).toMatchObject({
    referenceType: 'order',
    referenceId: 'o',
    reason: 'order-updated',
    lines: [{ sku: 'B', locationId: 'default', quantity: 4 }],
  });

  // B left out: all of it released; A as it is
  const drop = x.ev(t, 'order.updated', {
    orderId: 'o',
    lines: [
      { sku: 'A', quantity: 5 },
      { sku: 'C', quantity: 2 },
    ],
  });
  await x.run(drop);
  await x.expectRows(drop, [mv('B', 'released', -1, [0, -1], 'order', 'o', 'order-updated')]);

  // the same lines again (another event id): ignored; the same event redelivered: a duplicate
  const same = x.ev(t, 'order.updated', drop.data);
  await x.run(same);
  expect(await x.outcome(same)).toMatchObject({ result: 'ignored', reason: 'unchanged' });
  await x.publish(drop);
  await x.quiesce();
  expect(await x.ledger(t, [same])).toEqual([]);
  expect((await x.ledger(t, [drop])).length).toBe(1);
  expect(await x.levels(t)).toEqual({
    'A@default': fig(10, 5),
    'B@default': fig(10),
    'C@default': fig(10, 2),
  });
  const row = await orderRow(t, 'o');
  expect(row.state).toBe('placed');
  await x.expectLedgerMatchesLevels(t);
});

it('a paid order edited: its extra units are committed, released ones leave committed', async () => {
  const t = x.tenant();
  await x.run(
    x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }),
    x.ev(t, 'stock.received', { sku: 'B', quantity: 10 }),
  );
  await x.run(
    x.ev(t, 'order.placed', {
      orderId: 'o',
      lines: [
        { sku: 'A', quantity: 2 },
        { sku: 'B', quantity: 3 },
      ],
    }),
  );
  await x.run(x.ev(t, 'payment.succeeded', { orderId: 'o', paymentId: 'p' }));
  const edit = x.ev(t, 'order.updated', {
    orderId: 'o',
    lines: [
      { sku: 'A', quantity: 4 },
      { sku: 'B', quantity: 1 },
    ],
  });
  await x.run(edit);
  await x.expectRows(edit, [
    mv('A', 'reserved', 2, [0, 2], 'order', 'o'),
    mv('A', 'committed', 2, [0, 0, 2], 'order', 'o'),
    mv('B', 'released', -2, [0, -2, -2], 'order', 'o', 'order-updated'),
  ]);
  expect(await x.levels(t)).toEqual({ 'A@default': fig(10, 4, 4), 'B@default': fig(10, 1, 1) });
  const anns = await x.waitAnnouncements(edit, 3);
  expect(Object.fromEntries(anns.map((a) => [a.type, a.data.lines]))).toEqual({
    'inventory.reserved': [
      { sku: 'A', locationId: 'default', quantity: 4 },
      { sku: 'B', locationId: 'default', quantity: 1 },
    ],
    'inventory.committed': [{ sku: 'A', locationId: 'default', quantity: 2 }],
    'inventory.released': [{ sku: 'B', locationId: 'default', quantity: 2 }],
  });
  const row = await orderRow(t, 'o');
  expect({ state: row.state, paid: row.paid }).toEqual({ state: 'paid', paid: 1 });
  await x.expectLedgerMatchesLevels(t);
});

it('a short line refuses the whole edit, nothing changes; below what shipped is refused', async () => {
  const t = x.tenant();
  await x.run(
    x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }),
    x.ev(t, 'stock.received', { sku: 'B', quantity: 3 }),
  );
  await x.run(
    x.ev(t, 'order.placed', {
      orderId: 'o',
      lines: [
        { sku: 'A', quantity: 4 },
        { sku: 'B', quantity: 1 },
      ],
    }),
  );
  const short = x.ev(t, 'order.updated', {
    orderId: 'o',
    lines: [
      { sku: 'A', quantity: 6 },
      { sku: 'B', quantity: 5 },
    ],
  });
  await x.run(short);
  expect(await x.outcome(short)).toMatchObject({
    result: 'rejected',
    reason: 'insufficient-stock',
  });
  expect(await x.ledger(t, [short])).toEqual([]);
  const [failed] = await x.waitAnnouncements(short, 1);
  expect(failed).toMatchObject({
    type: 'inventory.reservation-failed',
    data: {
      reason: 'insufficient-stock',
      referenceType: 'order',
      referenceId: 'o',
      // requested: what the order would hold there; available: what it could
      lines: [{ sku: 'B', locationId: 'default', requested: 5, available: 3 }],
    },
  });
  expect(await x.levels(t)).toEqual({ 'A@default': fig(10, 4), 'B@default': fig(3, 1) });

  await x.run(
    x.ev(t, 'shipment.created', {
      shipmentId: 's',
      orderId: 'o',
      lines: [{ sku: 'A', quantity: 3 }],
    }),
  );
  const below = x.ev(t, 'order.updated', {
    orderId: 'o',
    lines: [
      { sku: 'A', quantity: 2 },
      { sku: 'B', quantity: 1 },
    ],
  });
  await x.run(below);
  expect(await x.outcome(below)).toMatchObject({ result: 'rejected', reason: 'below-shipped' });
  expect(await x.ledger(t, [below])).toEqual([]);
  // down to what shipped is fine: A holds nothing more, the order holds B only
  const down = x.ev(t, 'order.updated', {
    orderId: 'o',
    lines: [
      { sku: 'A', quantity: 3 },
      { sku: 'B', quantity: 1 },
    ],
  });
  await x.run(down);
  await x.expectRows(down, [mv('A', 'released', -1, [0, -1], 'order', 'o', 'order-updated')]);
  expect(await x.levels(t)).toEqual({ 'A@default': fig(7), 'B@default': fig(3, 1) });
  await x.expectLedgerMatchesLevels(t);
});

it('before its order.placed: retried until the order is in; after order.cancelled: ignored', async () => {
  const t = x.tenant();
  await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }));
  const early = x.ev(t, 'order.updated', { orderId: 'o', lines: [{ sku: 'A', quantity: 4 }] });
  await x.publish(early);
  await waitFor(
    async () => (await x.queueCounts()).retry === 1,
    5_000,
    'order.updated in a retry tier',
  );
  expect(await x.outcome(early)).toBeUndefined();
  await x.run(x.ev(t, 'order.placed', { orderId: 'o', lines: [{ sku: 'A', quantity: 1 }] }));
  await x.waitProcessed([early], 15_000);
  expect(await x.outcome(early)).toMatchObject({ result: 'applied' });
  await x.expectRows(early, [mv('A', 'reserved', 3, [0, 3], 'order', 'o')]);
  expect(await x.level(t, 'A')).toEqual(fig(10, 4));

  await x.run(x.ev(t, 'order.cancelled', { orderId: 'o' }));
  const late = x.ev(t, 'order.updated', { orderId: 'o', lines: [{ sku: 'A', quantity: 6 }] });
  await x.run(late);
  expect(await x.outcome(late)).toMatchObject({ result: 'ignored', reason: 'order-cancelled' });
  expect(await x.level(t, 'A')).toEqual(fig(10));
  await x.quiesce();
  expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
  await x.expectLedgerMatchesLevels(t);
});
