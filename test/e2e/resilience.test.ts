/**
 * The broker drops every connection (rabbitmqctl close_all_connections) twice while ~2,000
 * events are being consumed: amqplib's recovery reconnects, our setup redeclares topology and
 * the consumer, redelivered events are duplicates. Nothing lost, nothing doubled, nothing valid
 * in the DLQ.
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { INVENTORY_EXCHANGE } from '../../src/broker/topology.js';
import { createKnex } from '../../src/ledger/db.js';
import { closeVhostConnections } from '../support/rabbit.js';
import { D, E2E, fig, waitFor, type Ev } from './harness.js';

let x: E2E;

beforeAll(async () => {
  // no announcement collector: its connection would be cut too
  x = await E2E.start('e2e_cut', {}, { announcements: false });
});

afterAll(async () => {
  await x?.close();
});

const SKUS = Array.from({ length: 10 }, (_, i) => `R${i}`);
const START = 100_000;
const PER = 400; // events of each of five kinds

async function processed(t: string): Promise<number> {
  return Number(
    (
      (await x.knex('processed_events').where({ tenant: t }).count({ n: '*' })) as { n: number }[]
    )[0]!.n,
  );
}

it('connections cut twice mid-stream: every event applied exactly once', async () => {
  const t = x.tenant('cut');
  await x.run(...SKUS.map((sku) => x.ev(t, 'stock.received', { sku, quantity: START })));

  // Five kinds whose final effect does not depend on how deliveries interleave across keys
  // (stock is plentiful; a payment before its order is the prepaid path, which ends the same).
  const events: Ev[] = [];
  for (let i = 0; i < PER; i++) {
    const sku = SKUS[i % SKUS.length]!;
    events.push(
      x.ev(t, 'stock.received', { sku, quantity: 1 }),
      x.ev(t, 'cart.added', { cartId: `cart-${i}`, sku, quantity: 1 }),
      x.ev(t, 'order.placed', {
        orderId: `order-${i}`,
        lines: [{ sku, locationId: D, quantity: 3 }],
      }),
      x.ev(t, 'stock.adjusted', { sku, delta: 2, reason: 'found' }),
      x.ev(t, 'payment.succeeded', { orderId: `order-${i}`, paymentId: `pay-${i}` }),
    );
  }
  expect(events.length).toBe(2000);
  const total = SKUS.length + events.length;
  // Published in three parts, a cut after each of the first two once part of it is processed:
  // the cut comes while the part is being consumed (a worker this fast may finish a whole
  // stream between two polls), and the next part arrives only after the cut, so consuming
  // again is part of what is checked. Each part ends on a whole shopper (5 events).
  const parts = [events.slice(0, 800), events.slice(800, 1600), events.slice(1600)];
  await x.publish(...parts[0]!);

  const sessionsBefore = x.t.worker.broker.connected;
  expect(sessionsBefore).toBe(true);
  for (const [i, threshold] of [SKUS.length + 300, SKUS.length + 1100].entries()) {
    await waitFor(
      async () => (await processed(t)) >= threshold,
      30_000,
      `${threshold} events processed`,
    );
    await closeVhostConnections(x.t.vhost);
    await waitFor(() => !x.t.worker.broker.connected, 5_000, 'the worker to notice the cut').catch(
      () => undefined,
    );
    await x.publish(...parts[i + 1]!);
    await waitFor(() => x.t.worker.broker.isConsuming, 15_000, 'the worker to consume again');
  }
  await waitFor(async () => (await processed(t)) >= total, 45_000, `all ${total} events processed`);
  await x.quiesce(20_000);

  // nothing lost, nothing doubled
  expect(await processed(t)).toBe(total);
  const perSku = PER / SKUS.length;
  const onHand = START + perSku * 1 + perSku * 2;
  const reserved = perSku * 1 + perSku * 3;
  const committed = perSku * 3;
  const expected = Object.fromEntries(
    SKUS.map((sku) => [`${sku}@default`, fig(onHand, reserved, committed)]),
  );
  expect(await x.levels(t)).toEqual(expected);
  const rows = (await x
    .knex('inventory_ledger')
    .where({ tenant: t })
    .groupBy('movement')
    .select('movement')
    .count({ n: '*' })) as {
    movement: string;
    n: number;
  }[];
  expect(Object.fromEntries(rows.map((r) => [r.movement, Number(r.n)]))).toEqual({
    received: SKUS.length + PER,
    adjusted: PER,
    reserved: PER * 2,
    committed: PER,
  });
  const [dupes] = (await x.knex.raw(
    `SELECT COUNT(*) AS n FROM (SELECT event_id, line_no FROM inventory_ledger WHERE tenant = ?
       GROUP BY event_source, event_id, line_no HAVING COUNT(*) > 1) d`,
    [t],
  )) as [{ n: number }[]];
  expect(Number(dupes[0]!.n)).toBe(0);
  await x.expectLedgerMatchesLevels(t);
  const paid = (await x
    .knex('reservations')
    .where({ tenant: t, ref_type: 'order', state: 'paid', paid: 1 })
    .count({ n: '*' })) as {
    n: number;
  }[];
  expect(Number(paid[0]!.n)).toBe(PER);

  // nothing valid dead-lettered, nothing left behind, and the worker is consuming
  expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
  expect(x.t.worker.broker.isConsuming).toBe(true);

  // and it still works after the cuts
  const after = x.ev(t, 'stock.received', { sku: 'R0', quantity: 5 });
  await x.run(after);
  expect(await x.level(t, 'R0')).toEqual(fig(onHand + 5, reserved, committed));
}, 90_000);

it('a consuming connection back before the publishing one waits for it: nothing is taken that could not be announced', async () => {
  const t = x.tenant('wait');
  await x.run(x.ev(t, 'stock.received', { sku: 'W', quantity: 100 }));
  // The publishing connection's setup declares the topology: an exchange of the wrong type
  // makes it fail (and retry) until it is put right, while the consuming one reconnects.
  const misdeclare = await amqp.connect(x.url);
  misdeclare.on('error', () => undefined);
  const ch = await misdeclare.createChannel();
  await ch.deleteExchange(INVENTORY_EXCHANGE);
  await ch.assertExchange(INVENTORY_EXCHANGE, 'fanout', { durable: true });
  await closeVhostConnections(x.t.vhost); // ours too
  let wrong = true;
  const putRight = async () => {
    if (!wrong) return;
    wrong = false;
    const conn = await amqp.connect(x.url);
    try {
      await (await conn.createChannel()).deleteExchange(INVENTORY_EXCHANGE);
    } finally {
      await conn.close();
    }
  };
  try {
    await waitFor(() => !x.t.worker.broker.connected, 5_000, 'the worker to notice the cut');
    const holds = Array.from({ length: 20 }, (_, i) =>
      x.ev(t, 'cart.added', { cartId: `w${i}`, sku: 'W', quantity: 1 }),
    );
    await x.publish(...holds);
    // for two seconds: nothing taken from the queue, nothing held unacknowledged
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 200));
      expect(x.t.worker.broker.isConsuming).toBe(false);
      expect(x.t.worker.broker.unacked).toBe(0);
      expect((await x.queueCounts()).main).toBe(holds.length);
    }
    await putRight(); // the publisher declares it again, as a topic exchange
    await waitFor(() => x.t.worker.broker.isConsuming, 15_000, 'the worker to consume again');
    await x.waitProcessed(holds, 20_000);
    await x.quiesce();
    expect(await x.level(t, 'W')).toEqual(fig(100, 20));
    expect((await x.ledger(t, holds)).length).toBe(holds.length);
  } finally {
    await putRight().catch(() => undefined);
  }
});

it('an announcement refused by a full integration queue (publisher nack) reaches it once there is room', async () => {
  const t = x.tenant('nack');
  await x.run(x.ev(t, 'stock.received', { sku: 'N', quantity: 10 }));
  // an integration's bounded queue, full: the broker nacks the worker's publish
  const Q = 'e2e.integration';
  const conn = await amqp.connect(x.url);
  conn.on('error', () => undefined);
  const ch = await conn.createChannel();
  await ch.assertQueue(Q, {
    durable: false,
    arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' },
  });
  await ch.bindQueue(Q, 'inventory.events', 'inventory.reserved');
  ch.sendToQueue(Q, Buffer.from('{"filler":true}'));
  try {
    const hold = x.ev(t, 'cart.added', { cartId: 'c', sku: 'N', quantity: 2 });
    await x.run(hold);
    // more deliveries complete after it on the same channel
    await x.run(
      ...Array.from({ length: 5 }, () => x.ev(t, 'stock.received', { sku: 'N', quantity: 1 })),
    );
    const filler = await ch.get(Q, { noAck: true });
    expect(filler && filler.content.toString()).toBe('{"filler":true}');
    // the delivery was left for redelivery: its re-announcement finds room now (an earlier
    // test's announcement, repeated late as at-least-once allows, may come first: skipped)
    let got: { id: string; type: string } | undefined;
    await waitFor(
      async () => {
        const m = await ch.get(Q, { noAck: true });
        const a = m && (JSON.parse(m.content.toString()) as { id: string; type: string });
        if (a && a.id === `/test#${hold.id}#0`) got = a;
        return got !== undefined;
      },
      10_000,
      'the refused announcement in the integration queue',
    );
    expect(got).toMatchObject({ id: `/test#${hold.id}#0`, type: 'inventory.reserved' });
    // applied once all along
    await x.quiesce();
    expect(await x.level(t, 'N')).toEqual(fig(15, 2));
    expect((await x.ledger(t, [hold])).length).toBe(1);
    expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
  } finally {
    await ch.deleteQueue(Q).catch(() => undefined);
    await conn.close();
  }
});

it('a graceful stop mid-stream: every event it finished is acked, the rest stays queued (nothing redelivered twice)', async () => {
  // the acks of the last events are sent while closing; they used to be overtaken by the
  // connection close, and those events were redelivered to the next worker
  // the worker's own pool closes with it: count with one of ours
  const db = createKnex(x.t.config.MYSQL_URL, { max: 1 });
  // the same worker the connection cuts above went through: nothing of theirs is left
  // unacknowledged in it to hold back the acks this test counts
  expect(x.t.worker.broker.unacked).toBe(0);
  try {
    for (let i = 0; i < 4; i++) {
      const t = x.tenant('stop');
      const events = Array.from({ length: 300 }, (_, n) =>
        x.ev(t, 'stock.received', { sku: `S${n % 30}`, quantity: 1 }),
      );
      await x.publish(...events);
      await waitFor(async () => (await processed(t)) >= 50, 20_000, '50 events processed');
      await x.t.stop();
      // a quorum queue applies the last acks a moment after the channel closed: wait until its
      // count holds still (acks really lost would leave their deliveries in it for good)
      const done = await settledMainCount();
      const finished = Number(
        (
          (await db('processed_events').where({ tenant: t }).count({ n: '*' })) as { n: number }[]
        )[0]!.n,
      );
      await x.t.restart();
      // what the stopped worker finished is exactly what left the queue
      expect(done + finished).toBe(events.length);
      await x.waitProcessed(events, 20_000);
      await x.quiesce();
    }
  } finally {
    await db.destroy();
  }
}, 60_000);

/** The main queue's ready count once it has not changed for half a second (5 s at most). */
async function settledMainCount(): Promise<number> {
  let last = (await x.queueCounts()).main;
  let still = 0;
  for (let i = 0; i < 50 && still < 5; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = (await x.queueCounts()).main;
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return last;
}
