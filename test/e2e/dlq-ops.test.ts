/**
 * Ops on inventory.dlq (src/broker/dlq.ts and the CLI): list shows type, reason and attempts;
 * replay with filters and dry run puts fixable dead letters back exactly once (replaying again
 * is harmless); a permanently bad one replayed comes straight back; purge empties the queue.
 */
import { execFile } from 'node:child_process';
import amqp from 'amqplib';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDeadLetters, purgeDeadLetters, replayDeadLetters } from '../../src/broker/dlq.js';
import { DLQ, MAIN_QUEUE } from '../../src/broker/topology.js';
import { bodyOf, D, E2E, fig, mv, waitFor, type Ev } from './harness.js';

const run = promisify(execFile);
const SMALL = 1024;
let x: E2E;

beforeAll(async () => {
  x = await E2E.start(
    'e2e_dlq',
    { MAX_MESSAGE_BYTES: String(SMALL), DELIVERY_LIMIT: '2' },
    { announcements: false },
  );
});

afterAll(async () => {
  await x?.close();
});

const dlqCount = async () => (await x.queueCounts()).dlq;

/** Puts an event into inventory.dlq the way the worker does (body unchanged, why in headers). */
async function deadLetterDirectly(e: Ev, headers: Record<string, unknown>): Promise<void> {
  await x.publishRaw([
    {
      exchange: '',
      routingKey: DLQ,
      body: bodyOf(e),
      options: {
        contentType: 'application/cloudevents+json',
        messageId: e.id,
        headers: {
          'x-original-routing-key': e.type,
          'x-original-exchange': 'commerce.events',
          'x-error-at': new Date().toISOString(),
          ...headers,
        },
      },
    },
  ]);
}

describe('replay after the cause is fixed', () => {
  let t: string;
  let big: Ev[];
  let zero: Ev;
  let misrouted: Ev;

  it('events refused by a worker setting (MAX_MESSAGE_BYTES) and two bad ones are listed with type, reason and attempts', async () => {
    t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }));
    // valid events a platform padded with a large note: too big for this worker's setting
    big = [1, 2, 3].map((i) =>
      x.ev(t, 'cart.added', { cartId: `c${i}`, sku: 'A', quantity: 1, note: 'n'.repeat(1200) }),
    );
    zero = x.ev(t, 'cart.added', { cartId: 'cz', sku: 'A', quantity: 0 });
    misrouted = x.ev(t, 'stock.received', { sku: 'A', quantity: 1 });
    await x.publish(...big);
    await x.publishInvalid(zero);
    await x.publishRaw([
      {
        routingKey: 'stock.adjusted',
        body: bodyOf(misrouted),
        options: { messageId: misrouted.id, contentType: 'application/json' },
      },
    ]);
    await waitFor(async () => (await dlqCount()) === 5, 15_000, '5 dead letters');

    const list = await listDeadLetters(x.url, 100);
    expect(list.map((d) => [d.id, d.type, d.routingKey, d.attempts]).sort()).toEqual(
      [
        ...big.map((e) => [e.id, 'cart.added', 'cart.added', 1]),
        [zero.id, 'cart.added', 'cart.added', 1],
        [misrouted.id, 'stock.received', 'stock.adjusted', 1],
      ].sort(),
    );
    const reasons = Object.fromEntries(list.map((d) => [d.id, d.reason]));
    for (const e of big)
      expect(reasons[e.id]).toBe(
        `too-large: body is ${bodyOf(e).length} bytes; the limit is ${SMALL}`,
      );
    expect(reasons[zero.id]).toBe('invalid: invalid cart.added data: quantity: must be positive');
    expect(reasons[misrouted.id]).toBe(
      'routing-mismatch: routing key "stock.adjusted" differs from type "stock.received"',
    );
    for (const d of list) {
      expect(d.ageSeconds).toBeGreaterThanOrEqual(0);
      expect(d.ageSeconds).toBeLessThan(60);
    }
    // listing takes nothing away
    expect(await dlqCount()).toBe(5);
    expect(await x.level(t, 'A')).toEqual(fig(10));
  });

  it('dry run: says what would be replayed, changes nothing', async () => {
    const r = await replayDeadLetters(
      x.url,
      { reason: 'too-large' },
      { dryRun: true, limit: 1000 },
    );
    expect(r).toEqual({ matched: 3, replayed: 0, kept: 2, unroutable: 0 });
    await x.quiesce();
    expect(await dlqCount()).toBe(5);
    expect(await x.level(t, 'A')).toEqual(fig(10));
  });

  it('after raising the limit, replay by reason and type applies each exactly once', async () => {
    (x.t.config as { MAX_MESSAGE_BYTES: number }).MAX_MESSAGE_BYTES = 256 * 1024;
    await x.t.restart();
    const r = await replayDeadLetters(
      x.url,
      { reason: 'too-large', type: 'cart.added' },
      { dryRun: false, limit: 1000 },
    );
    expect(r).toEqual({ matched: 3, replayed: 3, kept: 2, unroutable: 0 });
    await x.waitProcessed(big);
    await x.quiesce();
    for (const e of big)
      await x.expectRows(e, [mv('A', 'reserved', 1, [0, 1], 'cart', String(e.data.cartId))]);
    expect(await x.level(t, 'A')).toEqual(fig(10, 3));
    expect((await listDeadLetters(x.url, 100)).map((d) => d.id).sort()).toEqual(
      [zero.id, misrouted.id].sort(),
    );
  });

  it('replaying the same events again is harmless', async () => {
    for (const e of big) {
      await deadLetterDirectly(e, {
        'x-error-reason': 'too-large: body is 1400 bytes; the limit is 1024',
        'x-attempts': 1,
      });
    }
    const r = await replayDeadLetters(
      x.url,
      { reason: 'too-large' },
      { dryRun: false, limit: 1000 },
    );
    expect(r).toEqual({ matched: 3, replayed: 3, kept: 2, unroutable: 0 });
    await x.quiesce();
    expect(await x.level(t, 'A')).toEqual(fig(10, 3));
    expect((await x.ledger(t)).length).toBe(4);
    expect(await dlqCount()).toBe(2);
  });

  it('a permanently bad event replayed by id comes straight back to the DLQ, once, and changes nothing', async () => {
    const r = await replayDeadLetters(x.url, { id: misrouted.id }, { dryRun: false, limit: 1000 });
    expect(r).toEqual({ matched: 1, replayed: 1, kept: 1, unroutable: 0 });
    await x.quiesce();
    await waitFor(
      async () => (await dlqCount()) === 2,
      10_000,
      'the misrouted event back in the DLQ',
    );
    const back = (await listDeadLetters(x.url, 100)).find((d) => d.id === misrouted.id)!;
    expect(back.reason).toBe(
      'routing-mismatch: routing key "stock.adjusted" differs from type "stock.received"',
    );
    expect(back.attempts).toBe(1);
    expect(typeof back.headers['x-replayed-at']).toBe('string');
    expect(back.body).toBe(bodyOf(misrouted).toString());
    expect(await x.level(t, 'A')).toEqual(fig(10, 3));
    expect(await x.queueCounts()).toEqual({ main: 0, dlq: 2, retry: 0 });
  });

  it('a dead letter no queue would take back (sent straight to the main queue) stays in the DLQ instead of being lost', async () => {
    const direct = x.ev(t, 'stock.received', { sku: 'A', quantity: 1 });
    await deadLetterDirectly(direct, {
      'x-original-routing-key': MAIN_QUEUE,
      'x-original-exchange': '',
      'x-error-reason': 'unknown-type: unknown event type "stock.received"',
      'x-attempts': 1,
    });
    expect(
      await replayDeadLetters(x.url, { id: direct.id }, { dryRun: false, limit: 100 }),
    ).toEqual({
      matched: 1,
      replayed: 0,
      kept: 3,
      unroutable: 1,
    });
    expect(await dlqCount()).toBe(3);
    expect((await listDeadLetters(x.url, 100)).map((d) => d.id)).toContain(direct.id);
    expect(await purgeDeadLetters(x.url)).toBe(3);
  });

  it('purge empties the DLQ', async () => {
    await deadLetterDirectly(x.ev(t, 'cart.added', { cartId: 'p', sku: 'A', quantity: 1 }), {
      'x-error-reason': 'x',
      'x-attempts': 1,
    });
    expect(await purgeDeadLetters(x.url)).toBe(1);
    expect(await dlqCount()).toBe(0);
    expect(await listDeadLetters(x.url, 100)).toEqual([]);
  });
});

describe('a transfer.received that exhausted its retry tiers', () => {
  it('is replayed once its transfer shipped: applied exactly once, a second replay changes nothing', async () => {
    const t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'W', quantity: 10 }));
    const recv = x.ev(t, 'transfer.received', { transferId: 'tr-1' });
    // as the worker leaves it after 1 s + 10 s + 60 s of "not yet"
    const gaveUp = {
      'x-error-reason': 'gave-up: not-yet: transfer-not-shipped (after 4 attempts)',
      'x-attempts': 4,
      'x-last-error': 'not-yet: transfer-not-shipped',
    };
    await deadLetterDirectly(recv, gaveUp);
    const [listed] = await listDeadLetters(x.url, 10);
    expect(listed).toMatchObject({
      id: recv.id,
      type: 'transfer.received',
      attempts: 4,
      reason: gaveUp['x-error-reason'],
    });

    await x.run(
      x.ev(t, 'transfer.shipped', {
        transferId: 'tr-1',
        fromLocationId: D,
        toLocationId: 'store-1',
        lines: [{ sku: 'W', quantity: 4 }],
      }),
    );
    expect(await x.levels(t)).toEqual({ 'W@default': fig(6), 'W@store-1': fig(0, 0, 0, 0, 4) });

    expect(
      await replayDeadLetters(x.url, { type: 'transfer.received' }, { dryRun: false, limit: 100 }),
    ).toEqual({
      matched: 1,
      replayed: 1,
      kept: 0,
      unroutable: 0,
    });
    await x.waitProcessed([recv]);
    await x.expectRows(recv, [
      mv('W', 'transfer_received', 4, [4, 0, 0, 0, -4], 'transfer', 'tr-1', '', 'store-1'),
    ]);
    expect(await x.levels(t)).toEqual({ 'W@default': fig(6), 'W@store-1': fig(4) });

    await deadLetterDirectly(recv, gaveUp);
    expect(await replayDeadLetters(x.url, { id: recv.id }, { dryRun: false, limit: 100 })).toEqual({
      matched: 1,
      replayed: 1,
      kept: 0,
      unroutable: 0,
    });
    await x.quiesce();
    expect(await x.levels(t)).toEqual({ 'W@default': fig(6), 'W@store-1': fig(4) });
    expect((await x.ledger(t)).length).toBe(4);
    expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
  });
});

describe('a message the broker dead-lettered itself (quorum delivery limit)', () => {
  it('is listed with the broker reason and replayed to its original routing key, applied once', async () => {
    const t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'K', quantity: 10 }));
    await x.t.stop();
    const e = x.ev(t, 'cart.added', { cartId: 'c', sku: 'K', quantity: 1 });
    await x.publish(e);
    // a consumer that keeps dying on it, as a crashing worker would: the broker gives up on it
    const conn = await amqp.connect(x.url);
    try {
      const ch = await conn.createChannel();
      await waitFor(
        async () => {
          const m = await ch.get(MAIN_QUEUE, { noAck: false });
          if (m) ch.nack(m, false, true);
          return (await ch.checkQueue(DLQ)).messageCount === 1;
        },
        10_000,
        'the broker to dead-letter it',
      );
    } finally {
      await conn.close();
    }
    await x.t.restart();

    const [d] = await listDeadLetters(x.url, 10);
    expect(d).toMatchObject({
      id: e.id,
      type: 'cart.added',
      reason: 'broker: delivery_limit',
      routingKey: 'cart.added',
    });
    expect(d!.body).toBe(bodyOf(e).toString());
    expect(
      await replayDeadLetters(x.url, { reason: 'delivery_limit' }, { dryRun: false, limit: 100 }),
    ).toEqual({
      matched: 1,
      replayed: 1,
      kept: 0,
      unroutable: 0,
    });
    await x.waitProcessed([e], 10_000);
    await x.expectRows(e, [mv('K', 'reserved', 1, [0, 1], 'cart', 'c')]);
    expect(await x.level(t, 'K')).toEqual(fig(10, 1));
    await x.quiesce();
    expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
  });
});

describe('the CLI, as an operator runs it', () => {
  it('npx tsx src/cli.ts dlq list --json', async () => {
    const t = x.tenant();
    const e1 = x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: -1 });
    const e2 = x.ev(t, 'transfer.received', { transferId: 'never' });
    await x.publishInvalid(e1);
    await deadLetterDirectly(e2, {
      'x-error-reason': 'gave-up: not-yet: transfer-not-shipped (after 4 attempts)',
      'x-attempts': 4,
    });
    await waitFor(async () => (await dlqCount()) === 2, 10_000, '2 dead letters');

    const { stdout } = await run('npx', ['tsx', 'src/cli.ts', 'dlq', 'list', '--json'], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, AMQP_URL: x.url, LOG_LEVEL: 'silent' },
      timeout: 60_000,
    });
    const out = JSON.parse(stdout) as {
      count: number;
      byReason: Record<string, number>;
      items: { id: string; type: string; reason: string; attempts: number; routingKey: string }[];
    };
    expect(out.count).toBe(2);
    expect(out.byReason).toEqual({ invalid: 1, 'gave-up': 1 });
    expect(
      out.items
        .map((i) => ({ id: i.id, type: i.type, attempts: i.attempts, reason: i.reason }))
        .sort((a, b) => a.type.localeCompare(b.type)),
    ).toEqual([
      {
        id: e1.id,
        type: 'cart.added',
        attempts: 1,
        reason: 'invalid: invalid cart.added data: quantity: must be positive',
      },
      {
        id: e2.id,
        type: 'transfer.received',
        attempts: 4,
        reason: 'gave-up: not-yet: transfer-not-shipped (after 4 attempts)',
      },
    ]);
    // listing from the CLI leaves them in place
    expect(await dlqCount()).toBe(2);
    expect(await purgeDeadLetters(x.url)).toBe(2);
  });
});
