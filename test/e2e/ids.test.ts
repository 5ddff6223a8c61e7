/**
 * Ids mean the same in Redis and MySQL, through the real broker, worker and MySQL. MySQL's
 * utf8mb4_bin compares with trailing spaces ignored, so `PAD` and `PAD ` were two SKUs in
 * Redis and one row in stock_levels. An id with whitespace at either end, a zero-width or
 * bidirectional control, or an unpaired surrogate is now dead-lettered as invalid and changes
 * nothing; Redis, stock_levels, the ledger and the reconciliation then agree.
 */
import type { GetMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitPair } from '../../src/engine/keys.js';
import { createLogger } from '../../src/logger.js';
import { reconcile } from '../../src/reconcile/index.js';
import { E2E, fig, mv, SOURCE, TIME, type Ev } from './harness.js';

let x: E2E;
let t: string;

beforeAll(async () => {
  x = await E2E.start('e2e_ids', {}, { announcements: false });
  t = x.tenant('ids');
});

afterAll(async () => {
  await x?.close();
});

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase();

interface Bad {
  name: string;
  event: Ev;
  reason: string;
}

describe('PAD and "PAD ": the second is dead-lettered, the stores agree', () => {
  const receipt = () => x.ev(t, 'stock.received', { sku: 'PAD', quantity: 5 });
  let valid: Ev[] = [];
  let bad: Bad[] = [];
  const dead = new Map<string, GetMessage>();

  beforeAll(async () => {
    const first = receipt();
    const inner = x.ev(t, 'stock.received', { sku: 'PAD 2', quantity: 3 });
    const cart = x.ev(t, 'cart.added', { cartId: 'cart-1', sku: 'PAD', quantity: 2 });
    valid = [first, inner, cart];
    const data = (type: string) => `invalid: invalid ${type} data:`;
    bad = [
      {
        name: 'trailing space in a sku',
        event: x.ev(t, 'stock.received', { sku: 'PAD ', quantity: 7 }),
        reason: `${data('stock.received')} sku: must not begin or end with whitespace`,
      },
      {
        name: 'no-break space before a sku',
        event: x.ev(t, 'stock.received', { sku: '\u00a0PAD', quantity: 7 }),
        reason: `${data('stock.received')} sku: must not begin or end with whitespace`,
      },
      {
        name: 'ideographic space after an order line sku',
        event: x.ev(t, 'order.placed', {
          orderId: 'order-1',
          lines: [{ sku: 'PAD\u3000', quantity: 1 }],
        }),
        reason: `${data('order.placed')} lines.0.sku: must not begin or end with whitespace`,
      },
      {
        name: 'trailing space in a cart id',
        event: x.ev(t, 'cart.added', { cartId: 'cart-1 ', sku: 'PAD', quantity: 1 }),
        reason: `${data('cart.added')} cartId: must not begin or end with whitespace`,
      },
      {
        name: 'zero-width space in a sku',
        event: x.ev(t, 'stock.received', { sku: 'PA\u200bD', quantity: 7 }),
        reason: `${data('stock.received')} sku: must not contain zero-width or bidirectional control characters`,
      },
      {
        name: 'right-to-left override in a location',
        event: x.ev(t, 'stock.received', { sku: 'PAD', locationId: 'wh\u202e1', quantity: 7 }),
        reason: `${data('stock.received')} locationId: must not contain zero-width or bidirectional control characters`,
      },
      {
        name: 'unpaired surrogate in a sku',
        event: x.ev(t, 'stock.received', { sku: 'PAD\ud800', quantity: 7 }),
        reason: `${data('stock.received')} sku: must not contain unpaired UTF-16 surrogates`,
      },
      {
        name: 'the first receipt again, its id with a trailing space',
        event: { ...receipt(), id: `${first.id} ` },
        reason: 'invalid: invalid CloudEvents envelope: id: must not begin or end with whitespace',
      },
      {
        name: 'the first receipt again, its source with a trailing space',
        event: { ...receipt(), id: first.id, source: `${SOURCE} ` },
        reason:
          'invalid: invalid CloudEvents envelope: source: must not begin or end with whitespace',
      },
    ];
    // the first receipt, then each refused event followed by the next valid one
    const named = (b: Bad) => ({ e: b.event, name: b.name });
    const order: { e: Ev; name?: string }[] = [
      { e: first },
      ...bad.slice(0, 4).map(named),
      { e: inner },
      ...bad.slice(4).map(named),
      { e: cart },
    ];
    for (const { e, name } of order) {
      await x.publishRaw([
        {
          routingKey: e.type,
          body: json({ specversion: '1.0', source: SOURCE, time: TIME, ...e }),
          options: {
            contentType: 'application/cloudevents+json',
            ...(name !== undefined ? { correlationId: name } : {}),
          },
        },
      ]);
    }
    await x.waitProcessed(valid);
    // each message is acknowledged only once it is dead-lettered (or applied): when nothing is
    // queued or in flight, every dead letter is in the DLQ
    await x.quiesce();
    for (const m of await x.takeDeadLetters()) dead.set(String(m.properties.correlationId), m);
  });

  it('dead-letters each refused event once, with a reason that names the field and the rule', () => {
    expect([...dead.keys()].sort()).toEqual(bad.map((b) => b.name).sort());
    for (const b of bad) {
      const h = dead.get(b.name)!.properties.headers as Record<string, unknown>;
      expect(h['x-error-reason'], b.name).toBe(b.reason);
    }
  });

  it('Redis holds the SKUs, the cart and the event markers of the valid events only', async () => {
    const { redis } = x.t.worker.services;
    const keys = x.t.worker.services.engine.keys(t);
    const all: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', keys.all, 'COUNT', 1000);
      cursor = next;
      all.push(...found);
    } while (cursor !== '0');
    const under = (kind: string) =>
      all
        .filter((k) => k.startsWith(`${keys.base}${kind}:`))
        .map((k) => k.slice(keys.base.length + kind.length + 1))
        .sort();
    expect(under('stock').map((p) => splitPair(p))).toEqual([
      { sku: 'PAD', locationId: 'default' },
      { sku: 'PAD 2', locationId: 'default' },
    ]);
    expect(under('cart')).toEqual(['cart-1']);
    expect(under('order')).toEqual([]);
    expect(under('evt')).toEqual(valid.map((e) => `${SOURCE}\x1f${e.id}`).sort());
    const pad = await redis.hmget(keys.stock('PAD\x1fdefault'), 'onHand', 'reserved');
    expect(pad.map(Number)).toEqual([5, 2]);
  });

  it('stock_levels, the ledger and processed_events have the same ids, byte for byte', async () => {
    const levels = (await x
      .knex('stock_levels')
      .where({ tenant: t })
      .orderBy('sku')
      .select(x.knex.raw('HEX(sku) AS sku, HEX(location_id) AS loc'))) as {
      sku: string;
      loc: string;
    }[];
    expect(levels).toEqual([
      { sku: hex('PAD'), loc: hex('default') },
      { sku: hex('PAD 2'), loc: hex('default') },
    ]);
    expect(await x.level(t, 'PAD')).toEqual(fig(5, 2));
    expect(await x.level(t, 'PAD 2')).toEqual(fig(3));

    await x.expectRows(valid[0]!, [mv('PAD', 'received', 5, [5], 'receipt', valid[0]!.id)]);
    await x.expectRows(valid[1]!, [mv('PAD 2', 'received', 3, [3], 'receipt', valid[1]!.id)]);
    await x.expectRows(valid[2]!, [mv('PAD', 'reserved', 2, [0, 2], 'cart', 'cart-1')]);
    const skus = (await x
      .knex('inventory_ledger')
      .where({ tenant: t })
      .select(x.knex.raw('HEX(sku) AS sku'))) as { sku: string }[];
    expect(skus.map((r) => r.sku).sort()).toEqual([hex('PAD'), hex('PAD'), hex('PAD 2')]);
    await x.expectLedgerMatchesLevels(t);

    const events = (await x
      .knex('processed_events')
      .where({ tenant: t })
      .select(x.knex.raw('HEX(event_source) AS source, HEX(event_id) AS id'))) as {
      source: string;
      id: string;
    }[];
    expect(events.sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual(
      valid
        .map((e) => ({ source: hex(SOURCE), id: hex(e.id) }))
        .sort((a, b) => (a.id < b.id ? -1 : 1)),
    );
    const holds = (await x
      .knex('reservations')
      .where({ tenant: t })
      .select(x.knex.raw('HEX(ref_id) AS id'))) as { id: string }[];
    expect(holds).toEqual([{ id: hex('cart-1') }]);
  });

  it('the reconciliation finds nothing to repair', async () => {
    const { knex, redis, engine, writer } = x.t.worker.services;
    const summary = await reconcile(
      {
        knex,
        redis,
        prefix: x.t.config.REDIS_PREFIX,
        engine,
        writer,
        logger: createLogger('silent'),
        cartJobState: (jobId) => x.t.worker.cartExpiry.queue.getJobState(jobId),
      },
      { tenant: t },
    );
    expect(summary).toMatchObject({ status: 'clean', drifts: 0 });
    expect(summary.stockChecked).toBe(2);
  });
});
