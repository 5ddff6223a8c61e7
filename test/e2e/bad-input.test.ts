/**
 * Bad input through the real broker: each message ends, unchanged, in inventory.dlq with a
 * reason a person can act on, nothing of it touches stock, and the valid events published
 * between them are all applied. Nothing loops: the main queue and the retry tiers end empty.
 * Hostile but valid ids (SQL, Lua, Redis hash tags) are stored verbatim and harmlessly.
 */
import type { GetMessage, Options } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDeadLetters } from '../../src/broker/dlq.js';
import { MAIN_QUEUE } from '../../src/broker/topology.js';
import { D, E2E, fig, mv, SOURCE, TIME, waitFor, type Ev } from './harness.js';

const MAX = 2048;
let x: E2E;
let t: string;

beforeAll(async () => {
  x = await E2E.start('e2e_bad', { MAX_MESSAGE_BYTES: String(MAX) }, { announcements: false });
  t = x.tenant('bad');
});

afterAll(async () => {
  await x?.close();
});

interface Bad {
  name: string;
  body: Buffer;
  routingKey: string;
  /** default commerce.events; '' publishes straight to the main queue */
  exchange?: string;
  options?: Options.Publish;
  reason: string | RegExp;
}

let n = 0;
const envelope = (type: string, data: unknown, over: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  id: `bad-${++n}`,
  source: SOURCE,
  type,
  time: TIME,
  tenant: t,
  data,
  ...over,
});
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const add = (data: Record<string, unknown> = {}, over: Record<string, unknown> = {}) =>
  envelope('cart.added', { cartId: 'cart-bad', sku: 'A', quantity: 1, ...data }, over);

function cases(): Bad[] {
  const wrongId = add();
  const big = add({ note: 'x'.repeat(3000) });
  const bigBody = json(big);
  return [
    {
      name: 'not JSON',
      body: Buffer.from('this is not json {'),
      routingKey: 'cart.added',
      reason: /^malformed: body is not JSON: .+/,
    },
    {
      name: 'not UTF-8',
      body: Buffer.from([0xff, 0xfe]),
      routingKey: 'cart.added',
      reason: 'malformed: body is not valid UTF-8',
    },
    {
      name: 'JSON but not an object',
      body: Buffer.from('[1,2,3]'),
      routingKey: 'cart.added',
      reason: /^invalid: invalid CloudEvents envelope: \(root\): .+/,
    },
    {
      name: 'content-type text/plain',
      body: json(add()),
      routingKey: 'cart.added',
      options: { contentType: 'text/plain' },
      reason:
        'malformed: content-type text/plain is not application/cloudevents+json or application/json',
    },
    {
      name: 'missing envelope fields (id, source)',
      body: json({
        specversion: '1.0',
        type: 'cart.added',
        tenant: t,
        data: { cartId: 'c', sku: 'A', quantity: 1 },
      }),
      routingKey: 'cart.added',
      reason: /^invalid: invalid CloudEvents envelope: id: [^;]+; source: [^;]+$/,
    },
    {
      name: 'specversion 0.3',
      body: json(add({}, { specversion: '0.3' })),
      routingKey: 'cart.added',
      reason: 'invalid: invalid CloudEvents envelope: specversion: must be "1.0"',
    },
    {
      name: 'no type at all',
      body: json({ specversion: '1.0', id: 'typeless', source: SOURCE, tenant: t, data: {} }),
      routingKey: 'cart.added',
      reason: /^invalid: invalid CloudEvents envelope: type: .+/,
    },
    {
      name: 'unknown type under a known routing key',
      body: json(envelope('cart.exploded', { cartId: 'c' })),
      routingKey: 'cart.added',
      reason: 'routing-mismatch: routing key "cart.added" differs from type "cart.exploded"',
    },
    {
      name: 'unknown type sent straight to the queue',
      body: json(envelope('cart.exploded', { cartId: 'c' })),
      exchange: '',
      routingKey: MAIN_QUEUE,
      reason: 'unknown-type: unknown event type "cart.exploded"',
    },
    {
      name: 'routing key differs from type',
      body: json(add()),
      routingKey: 'cart.removed',
      reason: 'routing-mismatch: routing key "cart.removed" differs from type "cart.added"',
    },
    {
      name: 'AMQP message-id differs from id',
      body: json(wrongId),
      routingKey: 'cart.added',
      options: { messageId: 'some-other-id' },
      reason: `invalid: AMQP message-id "some-other-id" differs from event id "${wrongId.id}"`,
    },
    {
      name: 'tenant with a space',
      body: json(add({}, { tenant: 'ac me' })),
      routingKey: 'cart.added',
      reason: /^invalid: invalid CloudEvents envelope: tenant: must be 1–64 of/,
    },
    {
      name: 'zero quantity',
      body: json(add({ quantity: 0 })),
      routingKey: 'cart.added',
      reason: 'invalid: invalid cart.added data: quantity: must be positive',
    },
    {
      name: 'negative quantity',
      body: json(add({ quantity: -2 })),
      routingKey: 'cart.added',
      reason: 'invalid: invalid cart.added data: quantity: must be positive',
    },
    {
      name: 'fractional quantity',
      body: json(add({ quantity: 1.5 })),
      routingKey: 'cart.added',
      reason: 'invalid: invalid cart.added data: quantity: must be a whole number',
    },
    {
      name: 'quantity as a string',
      body: json(add({ quantity: '1' })),
      routingKey: 'cart.added',
      reason: /^invalid: invalid cart.added data: quantity: .+/,
    },
    {
      name: 'empty event id',
      body: json(add({}, { id: '' })),
      routingKey: 'cart.added',
      // (zod also adds "; id: must be printable characters only" here: reported, see idString)
      reason: /^invalid: invalid CloudEvents envelope: id: must not be empty(;|$)/,
    },
    {
      name: '129-character event id',
      body: json(add({}, { id: 'i'.repeat(129) })),
      routingKey: 'cart.added',
      reason: 'invalid: invalid CloudEvents envelope: id: must be at most 128 characters',
    },
    {
      name: 'empty cartId',
      body: json(add({ cartId: '' })),
      routingKey: 'cart.added',
      reason: /^invalid: invalid cart.added data: cartId: must not be empty(;|$)/,
    },
    {
      name: '129-character sku',
      body: json(add({ sku: 's'.repeat(129) })),
      routingKey: 'cart.added',
      reason: 'invalid: invalid cart.added data: sku: must be at most 128 characters',
    },
    {
      name: 'newline in a sku',
      body: json(add({ sku: 'A\nB' })),
      routingKey: 'cart.added',
      reason: 'invalid: invalid cart.added data: sku: must be printable characters only',
    },
    {
      name: 'order with empty lines',
      body: json(envelope('order.placed', { orderId: 'o', lines: [] })),
      routingKey: 'order.placed',
      reason: 'invalid: invalid order.placed data: lines: must have at least one line',
    },
    {
      name: 'order line with zero quantity',
      body: json(
        envelope('order.placed', {
          orderId: 'o',
          lines: [
            { sku: 'A', quantity: 1 },
            { sku: 'A', quantity: 0 },
          ],
        }),
      ),
      routingKey: 'order.placed',
      reason: 'invalid: invalid order.placed data: lines.1.quantity: must be positive',
    },
    {
      name: 'stock.adjusted delta 0',
      body: json(envelope('stock.adjusted', { sku: 'A', delta: 0, reason: 'x' })),
      routingKey: 'stock.adjusted',
      reason: 'invalid: invalid stock.adjusted data: delta: must not be zero',
    },
    {
      name: 'transfer to the same location',
      body: json(
        envelope('transfer.shipped', {
          transferId: 'tr',
          fromLocationId: D,
          toLocationId: D,
          lines: [{ sku: 'A', quantity: 1 }],
        }),
      ),
      routingKey: 'transfer.shipped',
      reason:
        'invalid: invalid transfer.shipped data: toLocationId: must differ from fromLocationId',
    },
    {
      name: `body over MAX_MESSAGE_BYTES (${MAX})`,
      body: bigBody,
      routingKey: 'cart.added',
      reason: `too-large: body is ${bigBody.length} bytes; the limit is ${MAX}`,
    },
  ];
}

describe('invalid messages end in inventory.dlq, valid ones between them are applied', () => {
  const bad = new Map<string, Bad>();
  const dead = new Map<string, GetMessage>();
  const valid: Ev[] = [];
  let startedAt = 0;
  let endedAt = 0;

  beforeAll(async () => {
    await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 100 }));
    startedAt = Date.now();
    const all = cases();
    // bad, valid, bad, valid, ...: each bad message is followed by a valid event
    for (const [i, c] of all.entries()) {
      bad.set(c.name, c);
      await x.publishRaw([
        {
          ...(c.exchange !== undefined ? { exchange: c.exchange } : {}),
          routingKey: c.routingKey,
          body: c.body,
          options: {
            contentType: 'application/cloudevents+json',
            ...c.options,
            correlationId: c.name,
          },
        },
      ]);
      const ok = x.ev(t, 'cart.added', { cartId: `cart-${i}`, sku: 'A', quantity: 1 });
      valid.push(ok);
      await x.publish(ok);
    }
    await waitFor(
      async () => (await x.queueCounts()).dlq === all.length,
      20_000,
      `${all.length} dead letters`,
    );
    await x.waitProcessed(valid);
    await x.quiesce();
    endedAt = Date.now();
    for (const m of await x.takeDeadLetters()) {
      const key = String(m.properties.correlationId);
      expect(dead.has(key), `dead-lettered twice: ${key}`).toBe(false);
      dead.set(key, m);
    }
  });

  it('dead-letters every bad message exactly once, and nothing else', () => {
    expect([...dead.keys()].sort()).toEqual([...bad.keys()].sort());
  });

  it.each(cases().map((c) => [c.name]))('%s: reason, headers, body unchanged', (name) => {
    const c = bad.get(name)!;
    const m = dead.get(name);
    expect(m, `${name} not in the DLQ`).toBeDefined();
    const h = m!.properties.headers as Record<string, unknown>;
    if (typeof c.reason === 'string') expect(h['x-error-reason']).toBe(c.reason);
    else expect(String(h['x-error-reason'])).toMatch(c.reason);
    expect(h['x-attempts']).toBe(1);
    expect(h['x-original-routing-key']).toBe(c.routingKey);
    expect(h['x-original-exchange']).toBe(c.exchange ?? 'commerce.events');
    const at = Date.parse(String(h['x-error-at']));
    expect(new Date(at).toISOString()).toBe(h['x-error-at']);
    expect(at).toBeGreaterThanOrEqual(startedAt - 1000);
    expect(at).toBeLessThanOrEqual(endedAt + 1000);
    // byte for byte, with the properties it came with
    expect(m!.content.equals(c.body)).toBe(true);
    expect(m!.properties.contentType).toBe(
      c.options?.contentType ?? 'application/cloudevents+json',
    );
    if (c.options?.messageId) expect(m!.properties.messageId).toBe(c.options.messageId);
    expect(m!.fields.routingKey).toBe('inventory.dlq');
  });

  it('no stock change from any of them; every valid event applied once', async () => {
    expect(await x.level(t, 'A')).toEqual(fig(100, valid.length));
    expect((await x.ledger(t)).length).toBe(1 + valid.length);
    for (const e of valid.slice(0, 3))
      await x.expectRows(e, [mv('A', 'reserved', 1, [0, 1], 'cart', e.data.cartId as string)]);
    const processed = (await x.knex('processed_events').where({ tenant: t }).count({ n: '*' })) as {
      n: number;
    }[];
    expect(Number(processed[0]!.n)).toBe(1 + valid.length);
    // the body that carried a valid tenant but a bad quantity did not create its cart
    expect(
      await x.knex('reservations').where({ tenant: t, ref_id: 'cart-bad' }).first(),
    ).toBeUndefined();
    expect(await x.knex('stock_levels').whereNot({ tenant: t }).first()).toBeUndefined();
  });

  it('never loops: the main queue and the retry tiers stay empty, the DLQ gets nothing more', async () => {
    await new Promise((r) => setTimeout(r, 1500));
    expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
    expect(x.t.worker.broker.isConsuming).toBe(true);
  });
});

describe('hostile but valid ids are stored verbatim and harmlessly', () => {
  const sqlSku = "x'); DROP TABLE stock_levels; --";
  const luaSku = "]] redis.call('FLUSHALL') --[[ end";
  const tagSku = '{other-tenant}:stock:A';
  const wildSku = '%_*?[a]\\';
  const unicodeSku = 'Schuh-Größe-42 ✓ 靴';
  const sqlCart = "'; DELETE FROM inventory_ledger WHERE '1'='1";

  it('SQL, Lua, Redis-key and unicode strings in sku, cart and location', async () => {
    const h = x.tenant('hostile');
    const skus = [sqlSku, luaSku, tagSku, wildSku, unicodeSku];
    const receipts = skus.map((sku) =>
      x.ev(h, 'stock.received', { sku, quantity: 7, reference: sqlCart }),
    );
    await x.run(...receipts);
    const holds = skus.map((sku) => x.ev(h, 'cart.added', { cartId: sqlCart, sku, quantity: 2 }));
    const elsewhere = x.ev(h, 'stock.received', { sku: sqlSku, quantity: 1, locationId: luaSku });
    await x.run(...holds, elsewhere);

    const levels = await x.levels(h);
    expect(Object.keys(levels).sort()).toEqual(
      [...skus.map((s) => `${s}@default`), `${sqlSku}@${luaSku}`].sort(),
    );
    for (const sku of skus) expect(levels[`${sku}@default`], sku).toEqual(fig(7, 2));
    expect(levels[`${sqlSku}@${luaSku}`]).toEqual(fig(1));
    await x.expectRows(receipts[0]!, [mv(sqlSku, 'received', 7, [7], 'receipt', sqlCart)]);
    await x.expectRows(holds[1]!, [mv(luaSku, 'reserved', 2, [0, 2], 'cart', sqlCart)]);
    await x.expectRows(elsewhere, [
      mv(sqlSku, 'received', 1, [1], 'receipt', elsewhere.id, '', luaSku),
    ]);
    const cart = (await x
      .knex('reservations')
      .where({ tenant: h, ref_type: 'cart', ref_id: sqlCart })
      .first('state', 'lines')) as {
      state: string;
      lines: string;
    };
    expect(cart.state).toBe('open');
    expect((JSON.parse(cart.lines) as { sku: string }[]).map((l) => l.sku).sort()).toEqual(
      [...skus].sort(),
    );
    await x.expectLedgerMatchesLevels(h);

    // the tables and the Redis data are all still there
    expect(
      Number(((await x.knex('stock_levels').count({ n: '*' })) as { n: number }[])[0]!.n),
    ).toBe(7);
    expect(await x.level(t, 'A')).toBeDefined();
    expect(await x.t.worker.services.redis.exists(x.t.worker.services.engine.keys(t).meta)).toBe(1);
    // the braces in a sku do not reach another tenant's keys
    expect(await x.knex('stock_levels').where({ tenant: 'other-tenant' }).first()).toBeUndefined();
    expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
  });
});

describe('headers of any AMQP type are read as absent, never trusted', () => {
  // The crash this guards against: a table where a string was expected went through String().
  const table = { toString: 'x', valueOf: 'y' };
  const hostile: Record<string, unknown> = {
    'x-original-routing-key': table,
    'x-original-exchange': [table, Buffer.from([0, 1, 2])],
    'x-attempts': { '!': 'decimal', value: { places: 1, digits: 5 } },
    'x-error-at': { '!': 'timestamp', value: 1 },
    'x-death': 'not a list',
  };

  it('a valid event with them is applied once; an invalid one is dead-lettered with them', async () => {
    const ok = x.ev(t, 'cart.added', { cartId: 'cart-hdr', sku: 'A', quantity: 1 });
    const bad = add({ quantity: -1 });
    const before = await x.level(t, 'A');
    await x.publishRaw([
      {
        routingKey: 'cart.added',
        body: Buffer.from(JSON.stringify({ specversion: '1.0', source: SOURCE, ...ok })),
        options: { contentType: 'application/cloudevents+json', headers: hostile },
      },
      {
        routingKey: 'cart.added',
        body: json(bad),
        options: { contentType: 'application/cloudevents+json', headers: hostile },
      },
    ]);
    await x.waitProcessed([ok]);
    await waitFor(async () => (await x.queueCounts()).dlq === 1, 20_000, 'the dead letter');
    await x.quiesce();
    expect(await x.level(t, 'A')).toEqual({
      ...before!,
      reserved: before!.reserved + 1,
      available: before!.available - 1,
    });
    expect(x.t.worker.broker.isConsuming).toBe(true);

    // what an operator reads: the headers shown, nothing thrown, the publisher's fakes ignored
    const [listed] = await listDeadLetters(x.url, 10);
    expect(listed).toMatchObject({
      id: bad.id,
      type: 'cart.added',
      routingKey: 'cart.added',
      attempts: 1,
    });
    expect(listed!.reason).toMatch(/^invalid: /);
    const [m] = await x.takeDeadLetters();
    const h = m!.properties.headers as Record<string, unknown>;
    expect(h['x-original-routing-key']).toBe('cart.added');
    expect(h['x-original-exchange']).toBe('commerce.events');
    expect(h['x-attempts']).toBe(1);
    expect(m!.content.equals(json(bad))).toBe(true);
  });
});
