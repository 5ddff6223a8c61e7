/**
 * What becomes of dead letters on their way to inventory.dlq, through the real broker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN_QUEUE } from '../../src/broker/topology.js';
import { bodyOf, E2E, waitFor } from './harness.js';

let x: E2E;

beforeAll(async () => {
  x = await E2E.start('e2e_dlqver', {}, { announcements: false });
});

afterAll(async () => {
  await x?.close();
});

const dlqCount = async () => (await x.queueCounts()).dlq;

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
