/**
 * inventory.dlq read by the operator's commands, whatever the RabbitMQ version. A quorum queue
 * counts a message handed back to it (a channel closed with it unacked, a reject) as a
 * delivery, and drops it past its delivery limit when it has nowhere to dead-letter it: from
 * RabbitMQ 4.0 every quorum queue has a limit of 20 by default. This broker is 3.x, so the same
 * limit is put on the DLQ by a policy, as 4.x puts it by default. Then `dlq list` runs 60
 * times, `dlq replay --dry-run` 25 times, and every dead letter is still there, byte for byte,
 * headers and properties included, in its order; `dlq show` and `dlq replay` still work.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import amqp, { type GetMessage } from 'amqplib';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { listDeadLetters, replayDeadLetters } from '../../src/broker/dlq.js';
import { DLQ, MAIN_QUEUE } from '../../src/broker/topology.js';
import { registerDlq } from '../../src/cli/dlq.js';
import { loadConfig } from '../../src/config.js';
import { inventory } from '../cli/run.js';
import { setTestPolicy } from '../support/rabbit.js';
import { bodyOf, E2E, fig, mv, waitFor, type Ev } from './harness.js';

const rabbitmqctl = promisify(execFile);
const SMALL = 1024;
let x: E2E;

beforeAll(async () => {
  x = await E2E.start(
    'e2e_dlqver',
    { MAX_MESSAGE_BYTES: String(SMALL), DELIVERY_LIMIT: '2' },
    { announcements: false },
  );
});

afterAll(async () => {
  await x?.close();
});

/** A message as stored: body and every property, without the broker's count of this delivery. */
interface Stored {
  body: string;
  properties: Record<string, unknown>;
}

const stored = (m: GetMessage): Stored => {
  const { headers, ...properties } = m.properties as unknown as Record<string, unknown>;
  const h = { ...(headers as Record<string, unknown>) };
  delete h['x-delivery-count'];
  return { body: m.content.toString('base64'), properties: { ...properties, headers: h } };
};

/**
 * Everything in the DLQ, in order, read the old way (unacked, handed back when the channel
 * closes): one delivery more for each message, which the delivery limit leaves room for.
 */
async function peek(): Promise<Stored[]> {
  const conn = await amqp.connect(x.url);
  try {
    const ch = await conn.createChannel();
    const out: Stored[] = [];
    for (;;) {
      const m = await ch.get(DLQ, { noAck: false });
      if (!m) break;
      out.push(stored(m));
    }
    await ch.close();
    return out;
  } finally {
    await conn.close();
  }
}

const dlqCount = async () => (await x.queueCounts()).dlq;

/** `inventory <args>` run in this process, as the CLI runs it; returns what it printed. */
async function cli(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerDlq(program, () => loadConfig({ ...process.env, AMQP_URL: x.url }));
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    lines.push(a.map(String).join(' '));
  });
  try {
    await program.parseAsync(['node', 'inventory', ...args]);
  } finally {
    log.mockRestore();
  }
  return lines.join('\n');
}

describe('inspecting the DLQ never drops a dead letter', () => {
  let t: string;
  let big: Ev;
  let zero: Ev;
  let broker: Ev;
  let before: Stored[];

  beforeAll(async () => {
    t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 10 }));
    // dead-lettered by the worker: too large for this worker's setting, then invalid
    big = x.ev(t, 'cart.added', { cartId: 'c1', sku: 'A', quantity: 1, note: 'n'.repeat(1200) });
    await x.publish(big);
    await waitFor(async () => (await dlqCount()) === 1, 10_000, 'the large event dead-lettered');
    zero = x.ev(t, 'cart.added', { cartId: 'c2', sku: 'A', quantity: 0 });
    await x.publishInvalid(zero);
    await waitFor(async () => (await dlqCount()) === 2, 10_000, 'the invalid one');
    // put there by someone else, with properties and headers of many AMQP types
    await x.publishRaw([
      {
        exchange: '',
        routingKey: DLQ,
        body: Buffer.from('{"specversion":"1.0","id":"direct-1","type":"cart.added"}'),
        options: {
          contentType: 'application/cloudevents+json',
          contentEncoding: 'identity',
          messageId: 'direct-1',
          correlationId: 'corr-1',
          replyTo: 'nowhere',
          type: 'cart.added',
          appId: 'a-platform',
          timestamp: 1_800_000_000,
          priority: 3,
          userId: 'guest',
          headers: {
            'x-error-reason': 'invalid: put here by hand',
            'x-attempts': 2,
            text: 'héllo ✓',
            small: -5,
            wide: 70_000,
            long: 2 ** 40,
            ratio: 0.25,
            yes: true,
            nothing: null,
            nested: { a: { b: [1, 'two', { c: false }] } },
            list: ['x', 2, [3]],
            raw: Buffer.from([0, 1, 2, 255]),
            when: { '!': 'timestamp', value: 1_700_000_000 },
            price: { '!': 'decimal', value: { places: 2, digits: 1999 } },
          },
        },
      },
      {
        exchange: '',
        routingKey: DLQ,
        body: Buffer.from([0xff, 0xfe, 0x00, 0x80]),
        options: { messageId: 'not-utf8', headers: { 'x-error-reason': 'malformed: by hand' } },
      },
    ]);
    // dead-lettered by the broker itself: a consumer that keeps handing it back
    await x.t.stop();
    broker = x.ev(t, 'cart.added', { cartId: 'c3', sku: 'A', quantity: 1 });
    await x.publish(broker);
    const conn = await amqp.connect(x.url);
    try {
      const ch = await conn.createChannel();
      await waitFor(
        async () => {
          const m = await ch.get(MAIN_QUEUE, { noAck: false });
          if (m) ch.nack(m, false, true);
          return (await ch.checkQueue(DLQ)).messageCount === 5;
        },
        10_000,
        'the broker to dead-letter it',
      );
    } finally {
      await conn.close();
    }
    await x.t.restart();
    before = await peek();
    expect(before.length).toBe(5);
    // what RabbitMQ 4.x does by default, on a DLQ that has no dead-letter target of its own
    await setTestPolicy(x.t.vhost, 'like-rabbitmq-4', '^inventory\\.dlq$', {
      'delivery-limit': 20,
    });
    await waitFor(
      async () => {
        const { stdout } = await rabbitmqctl('rabbitmqctl', [
          '-q',
          'list_queues',
          '-p',
          x.t.vhost,
          'name',
          'policy',
        ]);
        return stdout.split('\n').some((l) => /^inventory\.dlq\s+like-rabbitmq-4\b/.test(l));
      },
      10_000,
      'the policy on inventory.dlq',
    );
  });

  it('60 runs of `inventory dlq list` leave every dead letter there, byte for byte, in order', async () => {
    const ids = [big.id, zero.id, 'direct-1', 'not-utf8', broker.id];
    for (let run = 1; run <= 60; run++) {
      const out = JSON.parse(await cli(['dlq', 'list', '--json'])) as {
        count: number;
        items: { id: string }[];
      };
      expect(
        out.items.map((i) => i.id),
        `run ${run}`,
      ).toEqual(ids);
    }
    expect(await peek()).toEqual(before);
  }, 300_000);

  it('`dlq show` finds one, and 25 dry-run replays change nothing', async () => {
    const shown = await inventory(['dlq', 'show', 'direct-1'], { AMQP_URL: x.url });
    expect(shown.code, shown.stderr).toBe(0);
    const d = JSON.parse(shown.stdout) as { reason: string; headers: Record<string, unknown> };
    expect(d.reason).toBe('invalid: put here by hand');
    expect(d.headers.raw).toEqual({ bytes: Buffer.from([0, 1, 2, 255]).toString('base64') });
    for (let run = 1; run <= 25; run++) {
      expect(
        await replayDeadLetters(x.url, { reason: 'too-large' }, { dryRun: true, limit: 1000 }),
      ).toEqual({ matched: 1, replayed: 0, kept: 4, unroutable: 0 });
    }
    expect(await peek()).toEqual(before);
  });

  it('two lists at once both see every dead letter, and the order holds', async () => {
    const [a, b] = await Promise.all([listDeadLetters(x.url, 100), listDeadLetters(x.url, 100)]);
    expect(a.map((d) => d.id)).toEqual(b.map((d) => d.id));
    expect(a.length).toBe(5);
    expect(await peek()).toEqual(before);
  });

  it('`dlq replay` still replays (applied once), and the others stay as they were', async () => {
    (x.t.config as { MAX_MESSAGE_BYTES: number }).MAX_MESSAGE_BYTES = 256 * 1024;
    await x.t.restart();
    expect(
      await replayDeadLetters(x.url, { reason: 'too-large' }, { dryRun: false, limit: 1000 }),
    ).toEqual({ matched: 1, replayed: 1, kept: 4, unroutable: 0 });
    await x.waitProcessed([big]);
    await x.expectRows(big, [mv('A', 'reserved', 1, [0, 1], 'cart', 'c1')]);
    expect(await x.level(t, 'A')).toEqual(fig(10, 1));
    expect(await peek()).toEqual(before.slice(1));
    expect(bodyOf(big).toString('base64')).toBe(before[0]!.body);
  });
});

describe('a publisher cannot make its dead letters multiply', () => {
  it('a CC header naming the worker queue is not followed when the message is dead-lettered', async () => {
    await x.takeDeadLetters();
    const t = x.tenant();
    const bad = x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 0 });
    await x.publishRaw([
      {
        routingKey: bad.type,
        body: bodyOf(bad),
        options: {
          contentType: 'application/cloudevents+json',
          messageId: bad.id,
          headers: { CC: [MAIN_QUEUE], BCC: [MAIN_QUEUE] },
        },
      },
    ]);
    await waitFor(async () => (await dlqCount()) >= 1, 10_000, 'the dead letter');
    await x.quiesce();
    await new Promise((r) => setTimeout(r, 500));
    const dead = await x.takeDeadLetters();
    expect(dead.map((m) => m.properties.messageId)).toEqual([bad.id]);
    expect(Object.keys(dead[0]!.properties.headers ?? {})).not.toContain('CC');
    expect(await x.queueCounts()).toEqual({ main: 0, dlq: 0, retry: 0 });
  });
});
