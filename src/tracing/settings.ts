import type { Config } from '../config.js';

export interface TracingSettings {
  exporter: 'otlp' | 'console';
  /** the OTLP/HTTP traces URL; undefined: the exporter's own default (localhost:4318) */
  otlpUrl: string | undefined;
  serviceName: string;
  sampler: Config['OTEL_TRACES_SAMPLER'];
  samplerRatio: number;
}

/**
 * Whether, and how, the worker traces. Off unless configured, unlike the OpenTelemetry SDK's
 * own default (`otlp`): `OTEL_TRACES_EXPORTER` (`otlp` or `console`) turns it on, and so does an
 * OTLP endpoint set alone; `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true` keep it off.
 */
export function tracingSettings(c: Config): TracingSettings | undefined {
  if (c.OTEL_SDK_DISABLED || c.OTEL_TRACES_EXPORTER === 'none') return undefined;
  const base = c.OTEL_EXPORTER_OTLP_ENDPOINT;
  const otlpUrl =
    c.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (base === undefined ? undefined : `${base.replace(/\/+$/, '')}/v1/traces`);
  const exporter = c.OTEL_TRACES_EXPORTER ?? (otlpUrl === undefined ? undefined : 'otlp');
  if (exporter === undefined) return undefined;
  return {
    exporter,
    otlpUrl,
    serviceName: c.OTEL_SERVICE_NAME,
    sampler: c.OTEL_TRACES_SAMPLER,
    samplerRatio: c.OTEL_TRACES_SAMPLER_ARG,
  };
}
