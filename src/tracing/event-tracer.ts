/**
 * What the processor asks of tracing: one span per delivery and child spans for its steps. An
 * interface of its own, so that with tracing off (no EventTracer) the processor loads and runs
 * nothing of OpenTelemetry. The implementation is `./event-spans.ts`, loaded by `./start.ts`
 * only when tracing is on.
 */
import type { TraceContext } from '../domain/trace-context.js';

/** What the span of a delivery records before the event is decoded. */
export interface DeliveryInfo {
  /** the exchange it came through ('': the default exchange, the way back from a retry tier) */
  exchange: string;
  routingKey: string;
  messageId: string | undefined;
  bodyBytes: number;
  redelivered: boolean;
}

/** The event, once decoded. */
export interface EventIdentity {
  tenant: string;
  type: string;
  id: string;
  source: string;
}

export type StepKind = 'client' | 'producer' | 'internal';

/** The span of one delivery, as the processor sees it. */
export interface EventSpan {
  /**
   * The trace context to hand on (announcements, the dead letter): this span's traceparent,
   * with the incoming tracestate kept as it came (undefined only if tracing is suppressed).
   */
  readonly trace: TraceContext | undefined;
  /** names the event the delivery turned out to be */
  describe(event: EventIdentity): void;
  /** why the delivery was dead-lettered, retried or given back */
  reason(text: string): void;
  /** runs `f` in a child span; its failure is recorded, and rethrown as it was */
  step<T>(
    name: string,
    kind: StepKind,
    attributes: Record<string, string | number>,
    f: () => Promise<T>,
  ): Promise<T>;
}

export interface EventTracer {
  /**
   * Runs `f` for a delivery in a span of its own, a child of `parent` (the event's traceparent)
   * or the root of a new trace, active while `f` runs (log lines carry its ids); ends it with
   * the outcome `f` resolves to. Tracing never fails the delivery: if the span cannot be made,
   * `f` runs with none.
   */
  delivery<T extends string>(
    info: DeliveryInfo,
    parent: TraceContext | undefined,
    startedAt: number,
    f: (span: EventSpan | undefined) => Promise<T>,
  ): Promise<T>;
  /** exports the spans still buffered and unregisters tracing (idempotent) */
  shutdown(): Promise<void>;
}
