/**
 * batchFrameWrites against the real broker: the frames amqplib queues in one event-loop turn
 * reach the socket in few writes, and every message still arrives whole and in order.
 */
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { batchFrameWrites } from '../../src/broker/frame-writes.js';
import { createTestVhost, deleteTestVhost } from '../support/rabbit.js';

const MESSAGES = 2_000;
let vhost: string;
let url: string;

beforeAll(async () => {
  ({ vhost, url } = await createTestVhost('frame-writes'));
});
afterAll(async () => {
  await deleteTestVhost(vhost);
});

/** Publishes MESSAGES, counting the socket's writes (a system call each), and reads them back. */
async function publishCounted(batch: boolean): Promise<{ writes: number; bodies: string[] }> {
  let batched: boolean | undefined;
  let model: ChannelModel | undefined;
  const connection = await amqp.connect(url, {
    recovery: {
      setup: (m: ChannelModel) => {
        model = m;
        if (batch) batched = batchFrameWrites(m);
        return Promise.resolve();
      },
    },
  });
  try {
    const socket = (model as unknown as { connection: { stream: Record<string, unknown> } })
      .connection.stream;
    let writes = 0;
    for (const name of ['_write', '_writev'] as const) {
      const real = socket[name] as (...a: unknown[]) => unknown;
      socket[name] = function (this: unknown, ...a: unknown[]) {
        writes++;
        return real.apply(this, a);
      };
    }
    const channel = await connection.createConfirmChannel();
    const queue = (await channel.assertQueue('', { exclusive: true })).queue;
    const before = writes;
    for (let i = 0; i < MESSAGES; i++) channel.sendToQueue(queue, Buffer.from(`message ${i}`));
    await channel.waitForConfirms();
    const published = writes - before;
    if (batch) expect(batched).toBe(true);
    const bodies: string[] = [];
    for (;;) {
      const m = await channel.get(queue, { noAck: true });
      if (!m) break;
      bodies.push(m.content.toString());
    }
    return { writes: published, bodies };
  } finally {
    await connection.close();
  }
}

test('a turn’s publishes go out in few socket writes, every message whole and in order', async () => {
  const expected = Array.from({ length: MESSAGES }, (_, i) => `message ${i}`);
  const plain = await publishCounted(false);
  const corked = await publishCounted(true);
  expect(plain.bodies).toEqual(expected);
  expect(corked.bodies).toEqual(expected);
  // without it, amqplib writes each publish on its own
  expect(plain.writes).toBeGreaterThanOrEqual(MESSAGES);
  // with it, a write carries up to the socket's buffer (16 KiB: about 500 of these messages)
  expect(corked.writes).toBeLessThan(MESSAGES / 20);
});
