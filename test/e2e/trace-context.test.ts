/**
 * Trace context (W3C, the CloudEvents distributed-tracing extension): an event's `traceparent`
 * and `tracestate` go on to every announcement it causes (attributes and AMQP headers) and to
 * its dead letter's headers; its trace id is recorded in processed_events, from where its
 * ledger rows are found. A value that is not a trace context is ignored, never refused.
 */
import type { ChannelModel, GetMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTraceContext } from '../../src/domain/trace-context.js';
import { boundAnnouncementQueue, E2E, rawAnnouncementsOf, waitFor, type Ev } from './harness.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT}-01`;
const TRACESTATE = 'shop=7a,congo=t61rcWkgMzE';
const QUEUE = 'test.trace.announcements';

let x: E2E;
let conn: ChannelModel;

beforeAll(async () => {
  x = await E2E.start('e2e_trace');
  conn = await boundAnnouncementQueue(x.url, QUEUE);
});

afterAll(async () => {
  await conn?.close().catch(() => undefined);
  await x?.close();
});

const announcementsOf = (e: Ev, n: number) => rawAnnouncementsOf(conn, QUEUE, e, n);

async function traceIdOf(e: Ev): Promise<string | null | undefined> {
  const row = (await x
    .knex('processed_events')
    .where({ tenant: e.tenant, event_id: e.id })
    .first('trace_id')) as { trace_id: string | null } | undefined;
  return row?.trace_id;
}

describe('reading a trace context', () => {
  it.each([
    [TRACEPARENT, TRACE_ID],
    // a later version: its first four fields, passed on as version 00
    [`01-${TRACE_ID}-${PARENT}-01-extra`, TRACE_ID],
  ])('%s is one', (value, traceId) => {
    expect(parseTraceContext(value, TRACESTATE)).toEqual({
      traceparent: `00-${traceId}-${PARENT}-01`,
      traceId,
      tracestate: TRACESTATE,
    });
  });

  it.each([
    `00-${'0'.repeat(32)}-${PARENT}-01`,
    `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
    `ff-${TRACE_ID}-${PARENT}-01`,
    `00-${TRACE_ID}-${PARENT}-01-extra`,
    `00-${TRACE_ID.toUpperCase()}-${PARENT}-01`,
    `00-${TRACE_ID}-${PARENT}`,
    42,
    { traceparent: TRACEPARENT },
  ])('%j is not one', (value) => {
    expect(parseTraceContext(value)).toBeUndefined();
  });

  it('a tracestate that is not printable, or too long, is left out', () => {
    expect(parseTraceContext(TRACEPARENT, 'a=\u0007')).not.toHaveProperty('tracestate');
    expect(parseTraceContext(TRACEPARENT, `a=${'x'.repeat(600)}`)).not.toHaveProperty('tracestate');
  });
});

describe('through the worker', () => {
  it('announcements carry the event’s trace context; processed_events its trace id, from which its ledger rows are found', async () => {
    const t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 5 }));
    const added = x.ev(
      t,
      'cart.added',
      { cartId: 'c', sku: 'A', quantity: 2 },
      { traceparent: TRACEPARENT, tracestate: TRACESTATE },
    );
    await x.run(added);
    const [a] = await announcementsOf(added, 1);
    expect(a!.body).toMatchObject({
      type: 'inventory.reserved',
      traceparent: TRACEPARENT,
      tracestate: TRACESTATE,
    });
    expect(a!.headers).toMatchObject({ traceparent: TRACEPARENT, tracestate: TRACESTATE });
    expect(await traceIdOf(added)).toBe(TRACE_ID);

    // from the trace id to the ledger rows
    const rows = (await x
      .knex('processed_events as p')
      .join('inventory_ledger as l', 'l.event_ref', 'p.id')
      .where('p.trace_id', TRACE_ID)
      .andWhere('p.tenant', t)
      .select('l.sku', 'l.movement', 'l.qty', 'p.event_id')) as Record<string, unknown>[];
    expect(rows).toEqual([{ sku: 'A', movement: 'reserved', qty: 2, event_id: added.id }]);
  });

  it('a trace context in AMQP headers only (binary style) is read too', async () => {
    const t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 5 }));
    const added = x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 1 });
    await x.publishRaw([
      {
        routingKey: added.type,
        body: Buffer.from(JSON.stringify({ specversion: '1.0', source: '/test', ...added })),
        options: { messageId: added.id, headers: { traceparent: TRACEPARENT } },
      },
    ]);
    await x.waitProcessed([added]);
    const [a] = await announcementsOf(added, 1);
    expect(a!.body.traceparent).toBe(TRACEPARENT);
    expect(a!.body).not.toHaveProperty('tracestate');
    expect(await traceIdOf(added)).toBe(TRACE_ID);
  });

  it('a traceparent that is not one is ignored: the event is applied, with no trace', async () => {
    const t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 5 }));
    const added = x.ev(
      t,
      'cart.added',
      { cartId: 'c', sku: 'A', quantity: 1 },
      { traceparent: `00-${TRACE_ID}-${PARENT}` },
    );
    await x.run(added);
    const [a] = await announcementsOf(added, 1);
    expect(a!.body.type).toBe('inventory.reserved');
    expect(a!.body).not.toHaveProperty('traceparent');
    expect(a!.headers).not.toHaveProperty('traceparent');
    expect(await traceIdOf(added)).toBeNull();
  });

  it('a dead letter carries the trace context in its headers', async () => {
    const t = x.tenant();
    const bad = x.ev(
      t,
      'cart.added',
      { cartId: 'c', sku: 'A', quantity: -1 },
      {
        traceparent: TRACEPARENT,
        tracestate: TRACESTATE,
      },
    );
    await x.publishInvalid(bad);
    let dead: GetMessage[] = [];
    await waitFor(
      async () => {
        dead = dead.concat(await x.takeDeadLetters());
        return dead.length > 0;
      },
      10_000,
      'the dead letter',
    );
    expect(dead).toHaveLength(1);
    expect(dead[0]!.properties.headers).toMatchObject({
      'x-error-reason': expect.stringMatching(/^invalid: /),
      traceparent: TRACEPARENT,
      tracestate: TRACESTATE,
    });
  });
});
