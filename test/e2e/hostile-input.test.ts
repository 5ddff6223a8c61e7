/**
 * Anything a publisher can put on the wire, generated (fast-check) and sent through the real
 * broker to the real worker process (`src/main.ts`, as deployed): bodies that are not JSON, JSON
 * of any shape and depth, huge strings, CloudEvents envelopes with attributes of every wrong
 * type, and properties and headers of every AMQP field type (tables, arrays, byte arrays,
 * decimals, timestamps, void, `__proto__` and the worker's own `x-` names), trace contexts
 * (`traceparent`, `tracestate`) valid and near-valid as headers and as attributes. Valid events
 * ride along with hostile headers and trace contexts.
 *
 * The worker never exits. Every message ends exactly one way: applied once, or in
 * inventory.dlq once, unchanged, with a printable `x-error-reason`. Nothing stays unacked. The
 * valid events give the same figures as the same events sent without the garbage, and as the
 * pure domain model; the ledger's sums, `stock_levels` and Redis agree.
 *
 * FUZZ_MESSAGES sets the stream's length (default 3,000); FUZZ_SEED replays a run (the seed of
 * every run is printed).
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import amqp, { type ConsumeMessage, type GetMessage, type Options } from 'amqplib';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, type DecodedEvent } from '../../src/broker/decode.js';
import { TenantKeys } from '../../src/engine/keys.js';
import { consumers } from '../../consumers/index.js';
import { InventoryModel } from '../../src/domain/model.js';
import { checkFiguresAgree } from '../faults/support/invariants.js';
import { World } from '../faults/support/harness.js';
import type { WorkerProcess } from '../faults/support/worker-process.js';

const run = promisify(execFile);
const MESSAGES = Number(process.env.FUZZ_MESSAGES ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const MAX_BYTES = 256 * 1024;
const TYPES = [...consumers.keys()];
const SKUS = ['FZ-1', 'FZ-2', 'FZ-3', 'FZ-4', 'FZ-5'];
const STOCK = 5000;

/** One message as published, with what the test knows of it. */
interface Published {
  n: number;
  kind: string;
  routingKey: string;
  body: Buffer;
  options: Options.Publish;
}

// ---------------------------------------------------------------------------------------------
// AMQP field values, as amqplib encodes them (`{ '!': type, value }` picks a wire type)

const SPECIAL_KEYS = [
  '__proto__',
  'constructor',
  'toString',
  'valueOf',
  'x-original-routing-key',
  'x-original-exchange',
  'x-attempts',
  'x-death',
  'x-error-reason',
  'x-error-at',
  'x-delivery-count',
  'traceparent',
  'tracestate',
];

const text = fc.string({ unit: 'binary', maxLength: 40 });
/** The names the worker or the broker give meaning to come up twice as often as others. */
const headerKey = fc.oneof(
  { arbitrary: fc.constantFrom(...SPECIAL_KEYS), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }), weight: 1 },
);

// Trace context (W3C): read from the envelope's attributes or these headers, then published
// again on announcements and dead letters. Near misses of the format, and text of any kind.
const hex = (n: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: n, maxLength: n });
const traceparentLike = fc.oneof(
  fc
    .tuple(hex(2), hex(32), hex(16), hex(2), fc.constantFrom('', '-', '-x', '-00', '\n', '\u0000'))
    .map(([v, t, s, f, tail]) => `${v}-${t}-${s}-${f}${tail}`),
  fc.constantFrom(
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  ),
  fc.tuple(hex(2), hex(31), hex(17), hex(2)).map((p) => p.join('-')),
  fc.string({ unit: 'binary', maxLength: 300 }),
);
const tracestateLike = fc.oneof(
  fc
    .array(fc.tuple(fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 30 })), {
      maxLength: 40,
    })
    .map((entries) => entries.map(([k, v]) => `${k}=${v}`).join(',')),
  fc.string({ unit: 'binary', maxLength: 700 }),
);
const traceHeaders = fc.record(
  { traceparent: traceparentLike, tracestate: tracestateLike },
  { requiredKeys: [] },
);

/** A table built entry by entry, so that `__proto__` is an own entry like any other. */
const tableOf = (entries: [string, unknown][]): Record<string, unknown> => {
  const t: Record<string, unknown> = {};
  for (const [k, v] of entries)
    Object.defineProperty(t, k, { value: v, enumerable: true, writable: true, configurable: true });
  return t;
};

const { fieldValue } = fc.letrec<{ fieldValue: unknown }>((tie) => ({
  fieldValue: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text,
    fc.integer(),
    // the test's publisher (amqplib) guesses a wire type for a plain number: spell out the rest
    // RabbitMQ refuses NaN and infinities in a header (it closes the publisher's connection):
    // no publisher can deliver one to the worker
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => ({ '!': 'double', value })),
    fc.maxSafeInteger().map((value) => ({ '!': 'long', value })),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    fc.record({ places: fc.integer({ min: 0, max: 255 }), digits: fc.nat() }).map((value) => ({
      '!': 'decimal',
      value,
    })),
    fc.nat({ max: Number.MAX_SAFE_INTEGER }).map((value) => ({ '!': 'timestamp', value })),
    fc.float({ noNaN: true, noDefaultInfinity: true }).map((value) => ({ '!': 'float', value })),
    fc.array(tie('fieldValue'), { maxLength: 4 }),
    fc.array(fc.tuple(headerKey, tie('fieldValue')), { maxLength: 4 }).map(tableOf),
  ),
}));

const headers = fc
  .array(fc.tuple(headerKey, fieldValue), { maxLength: 6 })
  .chain((entries) =>
    fc
      .option(fc.string({ minLength: 1000, maxLength: 20_000 }), { freq: 20 })
      .map((big) => (big === null ? entries : [...entries, ['x-big', big] as [string, unknown]])),
  )
  // a trace context as a string, half the time: the form the worker reads
  .chain((entries) =>
    fc
      .option(traceHeaders, { freq: 2 })
      .map((trace) => tableOf(trace === null ? entries : [...entries, ...Object.entries(trace)])),
  );

/** Properties a publisher sets freely (user-id must match the connection: the broker checks). */
const properties: fc.Arbitrary<Options.Publish> = fc.record(
  {
    contentType: fc.oneof(
      fc.constant('application/cloudevents+json'),
      fc.constant('application/json; charset=utf-8'),
      fc.string({ unit: 'binary', maxLength: 60 }),
    ),
    contentEncoding: fc.string({ unit: 'binary', maxLength: 30 }),
    messageId: fc.string({ unit: 'binary', maxLength: 60 }),
    type: fc.string({ unit: 'binary', maxLength: 60 }),
    appId: fc.string({ unit: 'binary', maxLength: 60 }),
    timestamp: fc.nat(),
    priority: fc.integer({ min: 0, max: 255 }),
    // set, but never short enough to expire before the worker takes the message
    expiration: fc.integer({ min: 3_600_000, max: 2 ** 31 - 1 }).map(String),
    headers,
  },
  { requiredKeys: [] },
);

// ---------------------------------------------------------------------------------------------
// bodies

const envelope = (over: Record<string, unknown>) => ({
  specversion: '1.0',
  id: 'x',
  source: '/fuzz',
  type: 'cart.added',
  time: '2026-11-23T10:15:00Z',
  tenant: 'fz-garbage',
  data: { cartId: 'c', sku: 'FZ-1', quantity: 1 },
  ...over,
});
const ATTRIBUTES = [
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'tenant',
  'datacontenttype',
  'traceparent',
  'tracestate',
];
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

const deepJson = fc
  .integer({ min: 1000, max: 200_000 })
  .map((n) => Buffer.from(`{"specversion":"1.0","data":${'['.repeat(n)}${']'.repeat(n)}}`));

/** Garbage of every kind, each with its routing key (always one the worker's queue is bound to). */
const garbage = fc.oneof(
  fc.record({
    kind: fc.constant('bytes'),
    body: fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
  }),
  fc.record({ kind: fc.constant('json'), body: fc.jsonValue().map(json) }),
  fc.record({ kind: fc.constant('deep-json'), body: deepJson }),
  fc.record({
    kind: fc.constant('huge'),
    body: fc
      .integer({ min: MAX_BYTES - 200, max: MAX_BYTES + 200 })
      .map((n) => json(envelope({ id: `huge-${n}`, pad: 'x'.repeat(n) }))),
  }),
  fc.record({
    kind: fc.constant('wrong-attributes'),
    body: fc
      .array(fc.tuple(fc.constantFrom(...ATTRIBUTES), fc.jsonValue({ maxDepth: 3 })), {
        minLength: 1,
        maxLength: 3,
      })
      .map((wrong) => json(envelope(Object.fromEntries(wrong)))),
  }),
  fc.record({
    kind: fc.constant('wrong-data'),
    body: fc
      .tuple(fc.constantFrom(...TYPES), fc.jsonValue({ maxDepth: 4 }), fc.nat())
      .map(([type, data, n]) => json(envelope({ id: `wd-${n}`, type, data }))),
  }),
  fc.record({
    kind: fc.constant('text-in-ids'),
    body: fc
      .tuple(text, text, fc.nat())
      .map(([cartId, sku, n]) =>
        json(envelope({ id: `ti-${n}`, data: { cartId, sku, quantity: 1 } })),
      ),
  }),
);

// ---------------------------------------------------------------------------------------------

/** The valid events, for `tenant`: a receipt of each SKU first, then carts that always fit. */
function validEvents(tenant: string, count: number, seed: number) {
  const carts = fc.sample(
    fc.record({
      cart: fc.integer({ min: 1, max: 200 }),
      sku: fc.constantFrom(...SKUS),
      quantity: fc.integer({ min: 1, max: 3 }),
      // a trace context the worker must not trip over, valid or not (it is ignored when not)
      trace: fc.option(traceHeaders, { freq: 3 }),
    }),
    { seed, numRuns: count },
  );
  return carts.map((c, i) => ({
    specversion: '1.0',
    id: `add-${i}`,
    source: '/fuzz',
    type: 'cart.added',
    time: '2026-11-23T10:15:00Z',
    tenant,
    ...(c.trace ?? {}),
    data: { cartId: `cart-${c.cart}`, sku: c.sku, quantity: c.quantity },
  }));
}

/**
 * The stream: about four garbage messages to one valid event, interleaved, every message with
 * generated properties and headers (the valid ones keep a content type and message id the
 * worker accepts), then some valid events again as duplicates.
 */
function stream(tenant: string): Published[] {
  const slots = fc.sample(
    fc.oneof(
      { arbitrary: fc.record({ garbage, routingKey: fc.constantFrom(...TYPES) }), weight: 4 },
      { arbitrary: fc.constant('valid' as const), weight: 1 },
    ),
    { seed: SEED, numRuns: MESSAGES },
  );
  const props = fc.sample(properties, { seed: SEED + 1, numRuns: MESSAGES });
  const valid = validEvents(tenant, slots.filter((k) => k === 'valid').length, SEED + 2);
  const out: Published[] = [];
  const push = (kind: string, routingKey: string, body: Buffer, options: Options.Publish) =>
    out.push({ n: out.length, kind, routingKey, body, options });
  let v = 0;
  slots.forEach((slot, i) => {
    const p = props[i]!;
    if (slot !== 'valid') return push(slot.garbage.kind, slot.routingKey, slot.garbage.body, p);
    const e = valid[v++]!;
    push('valid', e.type, json(e), {
      ...p,
      contentType: 'application/cloudevents+json',
      messageId: e.id,
    });
  });
  // a publisher's retry: the same events again, applied once
  for (const e of valid.slice(0, 20))
    push('duplicate', e.type, json(e), { contentType: 'application/cloudevents+json' });
  return out;
}

/** What the worker makes of a message (its own decoder): the decoded event, or undefined. */
function classify(p: Published): DecodedEvent | undefined {
  const msg = {
    content: p.body,
    properties: { contentType: p.options.contentType, messageId: p.options.messageId },
    fields: { exchange: 'commerce.events', routingKey: p.routingKey },
  } as unknown as ConsumeMessage;
  try {
    return decode(msg, { maxBytes: MAX_BYTES, cartTtlMs: () => 3_600_000 });
  } catch {
    return undefined;
  }
}

const keyOf = (d: DecodedEvent) => `${d.meta.tenant}\x1f${d.meta.source}\x1f${d.meta.id}`;

async function publishAll(url: string, items: Published[]): Promise<void> {
  const conn = await amqp.connect(url);
  // a message the broker refuses closes the connection: fail here rather than wait for ever
  let refused: Error | undefined;
  conn.on('error', (e: Error) => (refused = e));
  try {
    const ch = await conn.createConfirmChannel();
    for (const p of items) {
      if (refused) throw new Error(`the broker closed the publisher: ${refused.message}`);
      const ok = ch.publish('commerce.events', p.routingKey, p.body, {
        ...p.options,
        persistent: true,
        correlationId: `fz-${p.n}`,
      });
      if (!ok) await new Promise((r) => ch.once('drain', r));
    }
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
}

/** Polls `check` every 250 ms until it holds or `ms` passed (the caller asserts after). */
async function waitUntil(check: () => Promise<boolean>, ms: number): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Deliveries unacknowledged in the vhost (rabbitmqctl: amqplib cannot see other consumers'). */
async function unacked(vhost: string): Promise<number> {
  const { stdout } = await run('rabbitmqctl', [
    '-q',
    'list_queues',
    '-p',
    vhost,
    'name',
    'messages_unacknowledged',
  ]);
  return stdout
    .trim()
    .split('\n')
    .map((l) => Number(l.split('\t')[1] ?? 0))
    .filter((n) => Number.isFinite(n))
    .reduce((a, b) => a + b, 0);
}

// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

describe('generated hostile messages through the real broker and worker process', () => {
  let world: World;
  let worker: WorkerProcess;
  const tenant = `fz-valid-${SEED}`;
  const control = `fz-control-${SEED}`;
  let published: Published[] = [];
  let receiptMessages: Published[] = [];
  const poison = new Map<string, Published>();
  const dead = new Map<string, GetMessage[]>();

  beforeAll(async () => {
    console.log(`hostile input: ${MESSAGES} messages, FUZZ_SEED=${SEED}`);
    world = await World.create('fuzz');
    worker = (await world.startWorkers(1, { PREFETCH: '300' }))[0]!;
    const receipts = [tenant, control].flatMap((t) =>
      SKUS.map((sku) =>
        envelope({
          id: `rcv-${sku}`,
          type: 'stock.received',
          tenant: t,
          data: { sku, quantity: STOCK },
        }),
      ),
    );
    receiptMessages = receipts.map((e, n) => ({
      n: 1_000_000 + n,
      kind: 'receipt',
      routingKey: 'stock.received',
      body: json(e),
      options: { contentType: 'application/cloudevents+json' },
    }));
    await publishAll(world.amqpUrl, receiptMessages);
    await world.drained(receipts.length, 0, 60_000);

    published = stream(tenant);
    // the same valid events for the control tenant, without any garbage around them
    const validCount = published.filter((p) => p.kind === 'valid').length;
    const clean = validEvents(control, validCount, SEED + 2).map((e, i) => ({
      n: 2_000_000 + i,
      kind: 'control',
      routingKey: e.type,
      body: json(e),
      options: { contentType: 'application/cloudevents+json' },
    }));
    const keys = new Set<string>();
    for (const p of [...receiptMessages, ...published, ...clean]) {
      const d = classify(p);
      if (d) keys.add(keyOf(d));
      else poison.set(`fz-${p.n}`, p);
    }
    await publishAll(world.amqpUrl, published);
    await publishAll(world.amqpUrl, clean);
    await world.drained(keys.size, poison.size, 300_000);
    for (const m of await world.takeDeadLetters()) {
      const id = String(m.properties.correlationId);
      dead.set(id, [...(dead.get(id) ?? []), m]);
    }
  }, 600_000);

  afterAll(async () => {
    await world?.close();
  });

  it('the worker never exited', () => {
    expect(worker.unexpectedExits, worker.tail()).toBe(0);
    expect(worker.running).toBe(true);
    const kinds = new Map<string, number>();
    for (const p of published) kinds.set(p.kind, (kinds.get(p.kind) ?? 0) + 1);
    console.log(
      `hostile input: ${published.length} messages by kind ${JSON.stringify(Object.fromEntries(kinds))}; ` +
        `${poison.size} dead-lettered; crashes 0`,
    );
  });

  it('every message the worker refuses is in inventory.dlq once, unchanged, with a printable reason', () => {
    const wrong: string[] = [];
    for (const [id, p] of poison) {
      const copies = dead.get(id) ?? [];
      if (copies.length !== 1) {
        wrong.push(`${id} (${p.kind}): ${copies.length} copies in the DLQ`);
        continue;
      }
      const m = copies[0]!;
      const reason: unknown = (m.properties.headers as Record<string, unknown>)['x-error-reason'];
      if (typeof reason !== 'string' || reason.length === 0 || UNPRINTABLE.test(reason))
        wrong.push(`${id} (${p.kind}): reason ${JSON.stringify(reason)}`);
      if (!m.content.equals(p.body)) wrong.push(`${id} (${p.kind}): body changed`);
    }
    const unexpected = [...dead.keys()].filter((id) => !poison.has(id));
    expect(wrong).toEqual([]);
    expect(unexpected, 'valid messages dead-lettered').toEqual([]);
  });

  it('nothing is left in the queues or unacknowledged', async () => {
    const q = await world.queues();
    expect(q).toEqual({ main: 0, retry: 0, dlq: 0 });
    // acks are batched: the last ones may still be on their way when the queues look drained
    await waitUntil(async () => (await unacked(world.vhostName!)) === 0, 10_000);
    expect(await unacked(world.vhostName!)).toBe(0);
  });

  it('the valid events give the figures they give without the garbage, and the model', async () => {
    const rows = (await world
      .knex('stock_levels')
      .whereIn('tenant', [tenant, control])
      .select('tenant', 'sku', 'on_hand', 'reserved', 'available')) as {
      tenant: string;
      sku: string;
      on_hand: number;
      reserved: number;
      available: number;
    }[];
    const of = (t: string) =>
      Object.fromEntries(
        rows
          .filter((r) => r.tenant === t)
          .map((r) => [r.sku, [Number(r.on_hand), Number(r.reserved), Number(r.available)]]),
      );
    expect(of(tenant)).toEqual(of(control));
    const model = new InventoryModel();
    const now = Date.now();
    for (const p of [...receiptMessages, ...published]) {
      const d = classify(p);
      if (d?.meta.tenant === tenant) model.apply(d.meta, d.command, now);
    }
    const expected = Object.fromEntries(
      SKUS.map((sku) => {
        const f = model.figures(sku, 'default', tenant);
        return [sku, [f.onHand, f.reserved, f.onHand - f.reserved - f.unavailable]];
      }),
    );
    expect(of(tenant)).toEqual(expected);
  });

  it('ledger sums, stock_levels and Redis agree for every tenant; no outbox entry is left', async () => {
    await checkFiguresAgree(world);
  });
});

/** Publishes from a thread with a deep stack: amqplib's encoder recurses too. */
async function publishDeep(url: string, depth: number, bodies: Buffer[]): Promise<void> {
  const code = `
    const { workerData } = require('node:worker_threads');
    const amqp = require(${JSON.stringify(createRequire(import.meta.url).resolve('amqplib'))});
    (async () => {
      const conn = await amqp.connect(workerData.url);
      const ch = await conn.createConfirmChannel();
      let deep = 'leaf';
      for (let i = 0; i < workerData.depth; i++) deep = [deep];
      for (const [i, body] of workerData.bodies.entries())
        ch.publish('commerce.events', 'cart.added', Buffer.from(body), {
          contentType: 'application/cloudevents+json', correlationId: 'deep-' + i, headers: { deep },
        });
      await ch.waitForConfirms();
      await conn.close();
    })();`;
  await new Promise<void>((resolve, reject) => {
    const w = new Worker(code, {
      eval: true,
      workerData: { url, depth, bodies: bodies.map((b) => b.toString()) },
      resourceLimits: { stackSizeMb: 64 },
    });
    w.on('error', reject);
    w.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`publisher exited ${c}`))));
  });
}

describe("a header nested deeper than Node's default stack can decode", () => {
  let world: World;
  let worker: WorkerProcess;

  beforeAll(async () => {
    world = await World.create('fuzz_deep');
    worker = (await world.startWorkers(1))[0]!;
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  it('a valid event carrying it is applied; an invalid one is dead-lettered, the header cut', async () => {
    const tenant = 'deep';
    const receipt = envelope({
      id: 'rcv',
      type: 'stock.received',
      tenant,
      data: { sku: 'D', quantity: 5 },
    });
    const hold = envelope({ id: 'add', tenant, data: { cartId: 'c', sku: 'D', quantity: 2 } });
    const bad = envelope({ id: 'bad', tenant, data: { cartId: 'c', sku: 'D', quantity: -2 } });
    await publishAll(world.amqpUrl, [
      { n: 0, kind: 'receipt', routingKey: 'stock.received', body: json(receipt), options: {} },
    ]);
    await world.drained(1, 0, 60_000);
    // 12,000 levels: about 60 KB of header, three times what overflows the default stack
    await publishDeep(world.amqpUrl, 12_000, [json(hold), json(bad)]);
    await world.drained(2, 1, 60_000);
    expect(worker.unexpectedExits, worker.tail()).toBe(0);
    const [m] = await world.takeDeadLetters();
    expect(m!.content.equals(json(bad))).toBe(true);
    const h = m!.properties.headers as Record<string, unknown>;
    expect(h['x-error-reason']).toMatch(/^invalid: /);
    // the header is kept down to 32 levels, then a note says what was cut
    let deep: unknown = h.deep;
    let depth = 0;
    while (Array.isArray(deep)) {
      deep = deep[0];
      depth++;
    }
    expect(depth).toBe(32);
    expect(deep).toBe('[nested deeper than 32]');
    const row = (await world
      .knex('stock_levels')
      .where({ tenant, sku: 'D' })
      .first('on_hand', 'reserved')) as { on_hand: number; reserved: number };
    expect([Number(row.on_hand), Number(row.reserved)]).toEqual([5, 2]);
    expect(await world.queues()).toEqual({ main: 0, retry: 0, dlq: 0 });
  });
});

describe('a message that crashes the worker stops crashing workers', () => {
  const LIMIT = 3;
  let world: World;

  beforeAll(async () => {
    // a classic queue: no delivery limit would ever stop the loop
    world = await World.create('fuzz_crash', { env: { QUEUE_TYPE: 'classic' } });
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  it(`after ${LIMIT} crashes it is dead-lettered as crashed-worker; the others are applied once`, async () => {
    const tenant = 'crash';
    const hook = ['--import', './test/support/crash-on-envelope.mjs'];
    const env = { TEST_CRASH_ON: 'KILLER-7', CRASH_REDELIVERY_LIMIT: String(LIMIT) };
    const receipt = envelope({
      id: 'rcv',
      type: 'stock.received',
      tenant,
      data: { sku: 'K', quantity: 100 },
    });
    const killer = envelope({
      id: 'killer',
      tenant,
      data: { cartId: 'KILLER-7', sku: 'K', quantity: 1 },
    });
    const others = Array.from({ length: 40 }, (_, i) =>
      envelope({ id: `add-${i}`, tenant, data: { cartId: `cart-${i}`, sku: 'K', quantity: 1 } }),
    );
    const msgs = (es: Record<string, unknown>[], from: number) =>
      es.map((e, i) => ({
        n: from + i,
        kind: String(e.id),
        routingKey: String(e.type),
        body: json(e),
        options: { contentType: 'application/cloudevents+json' },
      }));
    // the worker declares the topology, takes the receipt, and stops
    const [first] = await world.startWorkers(1, env, hook);
    await publishAll(world.amqpUrl, msgs([receipt], 0));
    await world.drained(1, 0, 60_000);
    await first!.stop();
    await publishAll(world.amqpUrl, msgs([...others.slice(0, 20), killer, ...others.slice(20)], 1));

    // a supervisor's restarts: each worker crashes on the message until it is set aside
    const crashes: (number | null)[] = [];
    for (let i = 0; i < LIMIT + 1; i++) {
      const [w] = await world.startWorkers(1, env, hook);
      const exited = await Promise.race([
        new Promise<boolean>((r) => {
          const t = setInterval(() => {
            if (!w!.running) {
              clearInterval(t);
              r(true);
            }
          }, 100);
        }),
        world.drained(1 + others.length, 1, 60_000).then(() => false),
      ]);
      if (!exited) break;
      crashes.push(w!.exits.at(-1)!.code);
    }
    expect(crashes).toEqual(Array.from({ length: LIMIT }, () => 70));
    const survivor = world.workers.at(-1)!;
    expect(survivor.running, survivor.tail()).toBe(true);
    expect(survivor.log.join('\n')).toMatch(/crashed-worker/);

    const dead = await world.takeDeadLetters();
    expect(dead.map((m) => String(m.properties.correlationId))).toEqual(['fz-21']);
    expect((dead[0]!.properties.headers as Record<string, unknown>)['x-error-reason']).toMatch(
      new RegExp(`^crashed-worker: it was being processed at ${LIMIT} crashes`),
    );
    expect(dead[0]!.content.equals(json(killer))).toBe(true);
    // every other cart applied exactly once (the killer may have been applied before a crash)
    const holds = (await world
      .knex('processed_events')
      .where({ tenant })
      .whereNot({ event_id: 'killer' })
      .count({ n: '*' })) as { n: number }[];
    expect(Number(holds[0]!.n)).toBe(1 + others.length);
    const killerRows = (await world
      .knex('processed_events')
      .where({ tenant, event_id: 'killer' })
      .count({ n: '*' })) as { n: number }[];
    expect(Number(killerRows[0]!.n)).toBeLessThanOrEqual(1);
    // the killer may have been applied in Redis before a crash: its outbox entry is then
    // mirrored by the outbox sweeper once it is old enough (its worker is gone)
    const outbox = new TenantKeys(world.prefix, tenant).outbox;
    const redis = new Redis(world.redisUrl);
    try {
      await waitUntil(async () => (await redis.xlen(outbox)) === 0, 90_000);
    } finally {
      redis.disconnect();
    }
    await checkFiguresAgree(world);
  });
});
