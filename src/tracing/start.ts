import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Config } from '../config.js';
import { toError } from '../errors/to-error.js';
import type { Logger } from '../logger.js';
import type { EventTracer } from './event-tracer.js';
import { tracingSettings } from './settings.js';

/**
 * Starts OpenTelemetry tracing when it is configured (see `tracingSettings`), or when given a
 * span processor (the tests' in-memory exporter): undefined when off, and then nothing of the
 * SDK is loaded. The SDK is imported here, lazily, for that reason. Tracing that cannot start
 * (the SDK missing from an install, an exporter refusing its settings) is logged, and the worker
 * runs without it.
 */
export async function startTracing(
  config: Config,
  logger: Logger,
  spanProcessor?: SpanProcessor,
): Promise<EventTracer | undefined> {
  const settings = tracingSettings(config);
  if (!settings && !spanProcessor) return undefined;
  try {
    const { startSdk } = await import('./sdk.js');
    return await startSdk(
      settings ?? {
        exporter: 'otlp',
        otlpUrl: undefined,
        serviceName: config.OTEL_SERVICE_NAME,
        sampler: config.OTEL_TRACES_SAMPLER,
        samplerRatio: config.OTEL_TRACES_SAMPLER_ARG,
      },
      logger,
      spanProcessor,
    );
  } catch (e) {
    // the events matter more than their traces: the worker runs on, untraced
    logger.error({ err: toError(e) }, 'tracing could not start: running without it');
    return undefined;
  }
}
