/**
 * Where tracing's cost per event goes, without the rest of the worker:
 * `npx tsx test/bench/tracing.ts [deliveries]` runs deliveries of one event span and three steps
 * (as the processor makes them) through `OtelEventTracer`, 1,000 at a time, with no I/O, and
 * prints the CPU per delivery:
 * - none: the same async steps, untraced (the floor);
 * - spans: the spans made and ended, handed to a processor that does nothing;
 * - batched: the SDK's batch processor, to an exporter that drops the spans;
 * - json: the same, the exporter turning each batch into OTLP JSON (as the OTLP exporter does)
 *   and dropping it.
 * End to end, with the HTTP export: `npm run bench -- --only worker --tracing`.
 */
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode } from '@opentelemetry/core';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import {
  BatchSpanProcessor,
  NoopSpanProcessor,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { createLogger } from '../../src/logger.js';
import { OtelEventTracer } from '../../src/tracing/event-spans.js';
import type { EventTracer } from '../../src/tracing/event-tracer.js';

const N = Number(process.argv[2] ?? 50_000);
const MODES = ['none', 'spans', 'batched', 'json'] as const;
type Mode = (typeof MODES)[number];

const exporter = (serialise: boolean): SpanExporter => ({
  export: (spans: ReadableSpan[], done) => {
    if (serialise) JsonTraceSerializer.serializeRequest(spans);
    done({ code: ExportResultCode.SUCCESS });
  },
  shutdown: () => Promise.resolve(),
});

function processorOf(mode: Exclude<Mode, 'none'>): SpanProcessor {
  if (mode === 'spans') return new NoopSpanProcessor();
  return new BatchSpanProcessor({ exporter: exporter(mode === 'json'), maxQueueSize: 16_384 });
}

const PARENT = {
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
};
const INFO = {
  exchange: 'commerce.events',
  routingKey: 'cart.added',
  messageId: 'm',
  bodyBytes: 200,
  redelivered: false,
};
const step = () => Promise.resolve(1);

async function delivery(tracer: EventTracer | undefined, i: number): Promise<string> {
  if (!tracer) {
    await step();
    await step();
    await step();
    return 'applied';
  }
  return tracer.delivery(INFO, PARENT, Date.now(), async (span) => {
    span!.describe({ tenant: 't', type: 'cart.added', id: `e${i}`, source: '/bench' });
    await span!.step('script reserveCart', 'client', { 'db.system.name': 'redis' }, step);
    await span!.step('ledger commit', 'internal', { 'db.system.name': 'mysql' }, step);
    await span!.step(
      'publish inventory.events',
      'producer',
      { 'messaging.system': 'rabbitmq' },
      step,
    );
    return 'applied';
  });
}

async function run(mode: Mode): Promise<number> {
  const provider =
    mode === 'none' ? undefined : new TracerProvider({ spanProcessors: [processorOf(mode)] });
  const tracer = provider
    ? new OtelEventTracer(provider.getTracer('bench'), createLogger('silent'), () =>
        provider.shutdown(),
      )
    : undefined;
  const go = async (n: number) => {
    for (let i = 0; i < n; i += 1000)
      await Promise.all(Array.from({ length: 1000 }, (_, k) => delivery(tracer, i + k)));
  };
  await go(10_000); // warm-up
  const before = process.cpuUsage();
  await go(N);
  await provider?.forceFlush();
  const used = process.cpuUsage(before);
  await tracer?.shutdown();
  return (used.user + used.system) / N;
}

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
for (const mode of MODES)
  console.log(`${mode.padEnd(8)} ${(await run(mode)).toFixed(1)} µs CPU per delivery`);
