/**
 * The OpenTelemetry SDK, set up from `TracingSettings`: imported by `./start.ts` only when
 * tracing is on. The trace SDK does not read the OTEL_* variables itself (the OTLP exporter
 * reads its own: headers, timeout, compression); the ones the worker reads are validated with
 * the rest of its configuration (src/config.ts).
 */
import { context, diag, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { logTraceFields, type Logger } from '../logger.js';
import { OtelEventTracer } from './event-spans.js';
import type { EventTracer } from './event-tracer.js';
import type { TracingSettings } from './settings.js';

/** Longer attribute values (a hostile routing key, a long reason) are cut to this. */
const MAX_ATTRIBUTE_CHARS = 1024;
/**
 * Spans waiting for export, at most: a prefetch window's deliveries arrive and finish together,
 * four spans each (the SDK's default of 2,048 would drop half of a 1,000-delivery window's).
 * Beyond it spans are dropped, and the SDK says so (logged at warn).
 */
const MAX_QUEUED_SPANS = 16_384;

function sampler(s: TracingSettings): Sampler {
  const ratio = new TraceIdRatioBasedSampler(s.samplerRatio);
  switch (s.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

async function exporter(s: TracingSettings): Promise<SpanExporter> {
  if (s.exporter === 'console') return new ConsoleSpanExporter();
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  return new OTLPTraceExporter(s.otlpUrl === undefined ? {} : { url: s.otlpUrl });
}

/**
 * Registers a tracer provider, the AsyncLocalStorage context manager and the W3C propagator
 * (globally, unless something in the process registered its own first), and makes log lines
 * carry `trace_id` and `span_id`. `spanProcessor` replaces the configured exporter (tests).
 */
export async function startSdk(
  s: TracingSettings,
  logger: Logger,
  spanProcessor?: SpanProcessor,
): Promise<EventTracer> {
  // the SDK's own troubles (an export that failed, a full queue) as warnings of ours
  diag.setLogger(
    {
      error: (message, ...args) => logger.warn({ detail: args.map(String) }, `tracing: ${message}`),
      warn: (message, ...args) => logger.warn({ detail: args.map(String) }, `tracing: ${message}`),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: s.serviceName }));
  const provider = new TracerProvider({
    resource,
    sampler: sampler(s),
    spanLimits: { attributeValueLengthLimit: MAX_ATTRIBUTE_CHARS },
    spanProcessors: [
      spanProcessor ??
        new BatchSpanProcessor({ exporter: await exporter(s), maxQueueSize: MAX_QUEUED_SPANS }),
    ],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  const ownContext = context.setGlobalContextManager(contextManager);
  if (!ownContext) contextManager.disable();
  const ownProvider = trace.setGlobalTracerProvider(provider);
  const ownPropagator = propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  logTraceFields(() => {
    const span = trace.getActiveSpan();
    if (!span) return undefined;
    const { traceId, spanId, traceFlags } = span.spanContext();
    return { trace_id: traceId, span_id: spanId, trace_flags: `0${traceFlags.toString(16)}` };
  });
  logger.info(
    { exporter: spanProcessor ? 'given' : s.exporter, url: s.otlpUrl, sampler: s.sampler },
    'tracing on',
  );
  const tracer = provider.getTracer('inventory-worker');
  return new OtelEventTracer(tracer, logger, async () => {
    logTraceFields(undefined);
    try {
      await provider.shutdown();
    } finally {
      if (ownProvider) trace.disable();
      if (ownPropagator) propagation.disable();
      if (ownContext) context.disable();
      diag.disable();
    }
  });
}
