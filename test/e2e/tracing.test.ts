/**
 * OpenTelemetry tracing, with the SDK's in-memory exporter: one span per event, a child of its
 * traceparent, with the steps (script, ledger commit, publish) as children; announcements and
 * dead letters hand on the event span's context; log lines carry its ids. Off unless
 * configured: then no provider is registered and nothing is traced.
 */
import { randomBytes } from 'node:crypto';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { ChannelModel, GetMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { tracingSettings } from '../../src/tracing/settings.js';
import { boundAnnouncementQueue, E2E, rawAnnouncementsOf, waitFor } from './harness.js';

const TRACESTATE = 'shop=7a,congo=t61rcWkgMzE';
/** a traceparent of a trace of its own (sampled), and its ids */
function traceparent(): { traceparent: string; traceId: string; parentId: string } {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceparent: `00-${traceId}-${parentId}-01`, traceId, parentId };
}

/** the OTEL_* variables, unset whatever the test process's environment holds */
const NO_OTEL = {
  OTEL_TRACES_EXPORTER: undefined,
  OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined,
  OTEL_SDK_DISABLED: undefined,
};

/** A recording probe: true once some tracer provider is registered in this process. */
const providerRegistered = () => trace.getTracer('probe').startSpan('probe').isRecording();

describe('which settings turn tracing on', () => {
  const settings = (env: Record<string, string>) =>
    tracingSettings(loadConfig({ ...process.env, ...NO_OTEL, ...env }));

  it('off unless configured; OTEL_TRACES_EXPORTER=none and OTEL_SDK_DISABLED win', () => {
    expect(settings({})).toBeUndefined();
    expect(settings({ OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
    expect(
      settings({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }),
    ).toBeUndefined();
    expect(
      settings({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'console' }),
    ).toBeUndefined();
  });

  it('an endpoint alone is otlp; the service name defaults to inventory-worker', () => {
    expect(settings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toMatchObject({
      exporter: 'otlp',
      otlpUrl: 'http://collector:4318/v1/traces',
      serviceName: 'inventory-worker',
    });
    expect(
      settings({
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://c/traces',
        OTEL_SERVICE_NAME: 'inv-eu',
      }),
    ).toMatchObject({ exporter: 'otlp', otlpUrl: 'https://c/traces', serviceName: 'inv-eu' });
    expect(settings({ OTEL_TRACES_EXPORTER: 'console' })).toMatchObject({ exporter: 'console' });
  });

  it('a value that is not one stops the worker at start-up, naming the variable', () => {
    expect(() => settings({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(() => settings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
  });
});

describe('tracing off (the default)', () => {
  let x: E2E;
  let conn: ChannelModel;
  const QUEUE = 'test.tracing.off';

  beforeAll(async () => {
    x = await E2E.start('e2e_trace_off', NO_OTEL);
    conn = await boundAnnouncementQueue(x.url, QUEUE);
  });

  afterAll(async () => {
    await conn?.close().catch(() => undefined);
    await x?.close();
  });

  it('no provider is registered and nothing is traced: the traceparent goes on as it came', async () => {
    expect(x.t.worker.tracing).toBeUndefined();
    expect(providerRegistered()).toBe(false);
    const t = x.tenant();
    const tp = traceparent();
    await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 5 }));
    const added = x.ev(
      t,
      'cart.added',
      { cartId: 'c', sku: 'A', quantity: 1 },
      { traceparent: tp.traceparent },
    );
    await x.run(added);
    const [a] = await rawAnnouncementsOf(conn, QUEUE, added, 1);
    expect(a!.body.traceparent).toBe(tp.traceparent);
    expect(a!.headers.traceparent).toBe(tp.traceparent);
    expect(providerRegistered()).toBe(false);
  });
});

describe('tracing on (in-memory exporter)', () => {
  let x: E2E;
  let conn: ChannelModel;
  const QUEUE = 'test.tracing.on';
  const exporter = new InMemorySpanExporter();
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    x = await E2E.start(
      'e2e_trace_on',
      { ...NO_OTEL, LOG_LEVEL: 'debug' },
      {
        worker: {
          spanProcessor: new SimpleSpanProcessor({ exporter }),
          logDestination: {
            write: (line: string) => {
              logLines.push(JSON.parse(line) as Record<string, unknown>);
            },
          },
        },
      },
    );
    conn = await boundAnnouncementQueue(x.url, QUEUE);
  });

  afterAll(async () => {
    await conn?.close().catch(() => undefined);
    await x?.close();
  });

  /** The finished spans of a trace, once `until` holds of them. */
  async function spansOf(
    traceId: string,
    until: (spans: ReadableSpan[]) => boolean,
  ): Promise<ReadableSpan[]> {
    let spans: ReadableSpan[] = [];
    await waitFor(
      () => {
        spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
        return until(spans);
      },
      10_000,
      `the spans of trace ${traceId}`,
    );
    return spans;
  }

  const eventSpan = (spans: ReadableSpan[], eventId: string) =>
    spans.find((s) => s.attributes['cloudevents.event_id'] === eventId);

  it('one span per event, a child of its traceparent, with its steps, attributes and outcome', async () => {
    expect(x.t.worker.tracing).toBeDefined();
    const t = x.tenant();
    await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 5 }));
    const tp = traceparent();
    const added = x.ev(
      t,
      'cart.added',
      { cartId: 'c', sku: 'A', quantity: 2 },
      { traceparent: tp.traceparent, tracestate: TRACESTATE },
    );
    await x.run(added);
    const spans = await spansOf(tp.traceId, (s) => eventSpan(s, added.id) !== undefined);
    const span = eventSpan(spans, added.id)!;
    expect(span.name).toBe('process cart.added');
    expect(span.kind).toBe(SpanKind.CONSUMER);
    expect(span.parentSpanContext?.spanId).toBe(tp.parentId);
    expect(span.parentSpanContext?.traceId).toBe(tp.traceId);
    expect(span.spanContext().traceState?.serialize()).toBe(TRACESTATE);
    expect(span.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'commerce.events',
      'messaging.rabbitmq.destination.routing_key': 'cart.added',
      'messaging.message.id': added.id,
      'cloudevents.event_id': added.id,
      'cloudevents.event_type': 'cart.added',
      'cloudevents.event_source': '/test',
      'inventory.tenant': t,
      'inventory.outcome': 'applied',
    });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.resource.attributes['service.name']).toBe('inventory-worker');

    // the steps: children of the event's span
    const eventSpanId = span.spanContext().spanId;
    const children = spans.filter((s) => s.parentSpanContext?.spanId === eventSpanId);
    expect(children.map((s) => s.name).sort()).toEqual([
      'ledger commit',
      'publish inventory.events',
      'script reserveCart',
    ]);
    expect(children.find((s) => s.name === 'script reserveCart')!.attributes).toMatchObject({
      'db.system.name': 'redis',
      'inventory.script': 'reserveCart',
    });
    expect(children.find((s) => s.name === 'publish inventory.events')!.kind).toBe(
      SpanKind.PRODUCER,
    );

    // the announcement names the event's span, with the incoming tracestate
    const [a] = await rawAnnouncementsOf(conn, QUEUE, added, 1);
    const named = `00-${tp.traceId}-${eventSpanId}-01`;
    expect(a!.body).toMatchObject({ traceparent: named, tracestate: TRACESTATE });
    expect(a!.headers).toMatchObject({ traceparent: named, tracestate: TRACESTATE });

    // the ledger keeps the trace id; the log line of the event carries the span's ids
    const row = (await x
      .knex('processed_events')
      .where({ tenant: t, event_id: added.id })
      .first('trace_id')) as { trace_id: string };
    expect(row.trace_id).toBe(tp.traceId);
    const line = logLines.find((l) => l.msg === 'event processed' && l.eventId === added.id);
    expect(line).toMatchObject({ trace_id: tp.traceId, span_id: eventSpanId, outcome: 'applied' });
  });

  it('an event with no trace context starts a trace: announced, and kept in the ledger', async () => {
    const t = x.tenant();
    const received = x.ev(t, 'stock.received', { sku: 'A', quantity: 5 });
    await x.run(received);
    const added = x.ev(t, 'cart.added', { cartId: 'c', sku: 'A', quantity: 9 });
    await x.run(added);
    let span: ReadableSpan | undefined;
    await waitFor(() => {
      span = eventSpan(exporter.getFinishedSpans(), added.id);
      return span !== undefined;
    });
    expect(span!.parentSpanContext).toBeUndefined();
    // more than there is: a business refusal, not an error
    expect(span!.attributes['inventory.outcome']).toBe('rejected');
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    const { traceId, spanId } = span!.spanContext();
    const [a] = await rawAnnouncementsOf(conn, QUEUE, added, 1);
    expect(a!.body.type).toBe('inventory.reservation-failed');
    expect(a!.body.traceparent).toBe(`00-${traceId}-${spanId}-01`);
    expect(a!.body).not.toHaveProperty('tracestate');
    const row = (await x
      .knex('processed_events')
      .where({ tenant: t, event_id: added.id })
      .first('trace_id')) as { trace_id: string };
    expect(row.trace_id).toBe(traceId);
  });

  it('a dead-lettered event: its span has the error and outcome; the dead letter names it', async () => {
    const t = x.tenant();
    const tp = traceparent();
    const bad = x.ev(
      t,
      'cart.added',
      { cartId: 'c', sku: 'A', quantity: -1 },
      { traceparent: tp.traceparent, tracestate: TRACESTATE },
    );
    await x.publishInvalid(bad);
    const spans = await spansOf(tp.traceId, (s) =>
      s.some((x) => x.attributes['inventory.outcome'] !== undefined),
    );
    const span = spans.find((s) => s.attributes['inventory.outcome'] !== undefined)!;
    expect(span.parentSpanContext?.spanId).toBe(tp.parentId);
    expect(span.attributes).toMatchObject({
      'inventory.outcome': 'dead-letter',
      'error.type': 'invalid',
      'inventory.reason': expect.stringMatching(/^invalid: /),
      'messaging.message.id': bad.id,
    });
    expect(span.status).toMatchObject({
      code: SpanStatusCode.ERROR,
      message: expect.stringMatching(/^invalid: /),
    });
    const spanId = span.spanContext().spanId;
    expect(spans.filter((s) => s.parentSpanContext?.spanId === spanId).map((s) => s.name)).toEqual([
      'publish inventory.dlq',
    ]);

    let dead: GetMessage[] = [];
    await waitFor(
      async () => {
        dead = dead.concat(await x.takeDeadLetters());
        return dead.length > 0;
      },
      10_000,
      'the dead letter',
    );
    expect(dead[0]!.properties.headers).toMatchObject({
      traceparent: `00-${tp.traceId}-${spanId}-01`,
      tracestate: TRACESTATE,
    });
  });
});

describe('a tracing SDK that fails', () => {
  let x: E2E;
  let conn: ChannelModel;
  const QUEUE = 'test.tracing.broken';
  const broken: SpanProcessor = {
    onStart: () => {
      throw new Error('span processor failed on start');
    },
    onEnd: () => {
      throw new Error('span processor failed on end');
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.reject(new Error('span processor failed on shutdown')),
  };

  beforeAll(async () => {
    x = await E2E.start('e2e_trace_broken', NO_OTEL, { worker: { spanProcessor: broken } });
    conn = await boundAnnouncementQueue(x.url, QUEUE);
  });

  afterAll(async () => {
    await conn?.close().catch(() => undefined);
    await x?.close();
  });

  it('never fails a delivery: the event is applied and announced, the traceparent as it came', async () => {
    const t = x.tenant();
    const tp = traceparent();
    await x.run(x.ev(t, 'stock.received', { sku: 'A', quantity: 5 }));
    const added = x.ev(
      t,
      'cart.added',
      { cartId: 'c', sku: 'A', quantity: 1 },
      { traceparent: tp.traceparent },
    );
    await x.run(added);
    expect(await x.outcome(added)).toMatchObject({ result: 'applied' });
    const [a] = await rawAnnouncementsOf(conn, QUEUE, added, 1);
    expect(a!.body.type).toBe('inventory.reserved');
    expect(a!.body.traceparent).toBe(tp.traceparent);
  });
});

describe('after the traced worker stopped', () => {
  it('no provider is left registered', () => {
    expect(providerRegistered()).toBe(false);
  });
});
