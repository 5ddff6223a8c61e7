/**
 * The OpenTelemetry side of `EventTracer`: loaded only when tracing is on (see `./start.ts`).
 *
 * The spans are made here by hand, not by the official instrumentations of amqplib, ioredis and
 * mysql2 (docs/operations.md, "Tracing", says why at more length):
 * - amqplib's consume span takes its parent from AMQP headers only, while the CloudEvents
 *   attribute in the body (the contract's first place for `traceparent`) is where ours comes
 *   from; it ends at the ack, which the worker batches; and its publish spans write their own
 *   `traceparent` header over the one we hand on;
 * - mysql2's spans are per query, and one ledger transaction commits the events of a whole
 *   batch: a query span would belong to whichever event's context started the flush;
 * - all three hook module loading (require-in-the-middle, and import-in-the-middle for ESM),
 *   which has to be registered inside the worker thread before anything imports the clients.
 * An event's span and its steps (script, ledger commit, publish) say more for less.
 */
import {
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import type { TraceContext } from '../domain/trace-context.js';
import { toError } from '../errors/to-error.js';
import { errorText } from '../secrets.js';
import type { Logger } from '../logger.js';
import type {
  DeliveryInfo,
  EventIdentity,
  EventSpan,
  EventTracer,
  StepKind,
} from './event-tracer.js';

/**
 * Semantic-convention names still in the "incubating" set, copied as its README advises rather
 * than imported from `@opentelemetry/semantic-conventions/incubating`.
 */
export const ATTR = {
  messagingSystem: 'messaging.system',
  messagingOperationType: 'messaging.operation.type',
  messagingOperationName: 'messaging.operation.name',
  messagingDestinationName: 'messaging.destination.name',
  messagingRoutingKey: 'messaging.rabbitmq.destination.routing_key',
  messagingMessageId: 'messaging.message.id',
  messagingBodySize: 'messaging.message.body.size',
  messagingBatchCount: 'messaging.batch.message_count',
  cloudeventsId: 'cloudevents.event_id',
  cloudeventsSource: 'cloudevents.event_source',
  cloudeventsType: 'cloudevents.event_type',
  tenant: 'inventory.tenant',
  outcome: 'inventory.outcome',
  reason: 'inventory.reason',
  redelivered: 'inventory.redelivered',
} as const;

const KIND: Record<StepKind, SpanKind> = {
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  internal: SpanKind.INTERNAL,
};

/** Outcomes that are failures of the delivery (the others are business results, or a retry). */
const FAILED = new Set(['dead-letter', 'error']);

const w3c = new W3CTraceContextPropagator();

class OtelEventSpan implements EventSpan {
  readonly ctx: Context;
  readonly trace: TraceContext | undefined;
  private why: string | undefined;

  constructor(
    private readonly tracer: Tracer,
    readonly span: Span,
    parentCtx: Context,
    parent: TraceContext | undefined,
  ) {
    this.ctx = trace.setSpan(parentCtx, span);
    const carrier: Record<string, string> = {};
    w3c.inject(this.ctx, carrier, defaultTextMapSetter);
    const { traceId } = span.spanContext();
    this.trace =
      carrier.traceparent === undefined
        ? // tracing suppressed: hand on what came in, if anything
          parent
        : {
            traceparent: carrier.traceparent,
            traceId,
            // the incoming tracestate as it came (the propagator would re-serialise it)
            ...(parent?.tracestate !== undefined ? { tracestate: parent.tracestate } : {}),
          };
  }

  describe(e: EventIdentity): void {
    try {
      this.span.updateName(`process ${e.type}`);
      this.span.setAttributes({
        [ATTR.tenant]: e.tenant,
        [ATTR.cloudeventsType]: e.type,
        [ATTR.cloudeventsId]: e.id,
        [ATTR.cloudeventsSource]: e.source,
      });
    } catch {
      // tracing never fails a delivery
    }
  }

  reason(text: string): void {
    this.why = text;
  }

  async step<T>(
    name: string,
    kind: StepKind,
    attributes: Record<string, string | number>,
    f: () => Promise<T>,
  ): Promise<T> {
    let child: Span;
    try {
      child = this.tracer.startSpan(name, { kind: KIND[kind], attributes }, this.ctx);
    } catch {
      return f();
    }
    try {
      return await context.with(trace.setSpan(this.ctx, child), f);
    } catch (e) {
      safely(() => {
        child.setStatus({ code: SpanStatusCode.ERROR, message: errorText(e) });
        child.setAttribute(ATTR_ERROR_TYPE, toError(e).name);
      });
      throw e;
    } finally {
      safely(() => child.end());
    }
  }

  end(outcome: string, error?: unknown): void {
    safely(() => {
      const attributes: Attributes = { [ATTR.outcome]: outcome };
      if (this.why !== undefined) attributes[ATTR.reason] = this.why;
      this.span.setAttributes(attributes);
      if (error !== undefined) {
        this.span.setStatus({ code: SpanStatusCode.ERROR, message: errorText(error) });
        this.span.setAttribute(ATTR_ERROR_TYPE, toError(error).name);
      } else if (FAILED.has(outcome)) {
        this.span.setStatus({ code: SpanStatusCode.ERROR, message: this.why ?? outcome });
        // a dead letter's reason code (the word before its first `:`), as operators filter on it
        this.span.setAttribute(ATTR_ERROR_TYPE, this.why?.split(':', 1)[0] ?? outcome);
      }
      this.span.end();
    });
  }
}

function safely(f: () => void): void {
  try {
    f();
  } catch {
    // tracing never fails a delivery
  }
}

export class OtelEventTracer implements EventTracer {
  private failures = 0;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly tracer: Tracer,
    private readonly logger: Logger,
    private readonly stop: () => Promise<void>,
  ) {}

  async delivery<T extends string>(
    info: DeliveryInfo,
    parent: TraceContext | undefined,
    startedAt: number,
    f: (span: EventSpan | undefined) => Promise<T>,
  ): Promise<T> {
    let span: OtelEventSpan | undefined;
    try {
      span = this.start(info, parent, startedAt);
    } catch (e) {
      // logged once in a while, not for every delivery
      if (this.failures++ % 10_000 === 0)
        this.logger.warn({ err: toError(e) }, 'could not start a span: delivery not traced');
    }
    if (!span) return f(undefined);
    const s = span;
    let outcome: T;
    try {
      outcome = await context.with(s.ctx, () => f(s));
    } catch (e) {
      s.end('error', e);
      throw e;
    }
    s.end(outcome);
    return outcome;
  }

  private start(
    info: DeliveryInfo,
    parent: TraceContext | undefined,
    startedAt: number,
  ): OtelEventSpan {
    const parentCtx =
      parent === undefined
        ? ROOT_CONTEXT
        : w3c.extract(
            ROOT_CONTEXT,
            {
              traceparent: parent.traceparent,
              ...(parent.tracestate ? { tracestate: parent.tracestate } : {}),
            },
            defaultTextMapGetter,
          );
    const destination = info.exchange === '' ? info.routingKey : info.exchange;
    const attributes: Attributes = {
      [ATTR.messagingSystem]: 'rabbitmq',
      [ATTR.messagingOperationType]: 'process',
      [ATTR.messagingOperationName]: 'process',
      [ATTR.messagingDestinationName]: destination,
      [ATTR.messagingRoutingKey]: info.routingKey,
      [ATTR.messagingBodySize]: info.bodyBytes,
      [ATTR.redelivered]: info.redelivered,
    };
    if (info.messageId !== undefined) attributes[ATTR.messagingMessageId] = info.messageId;
    const span = this.tracer.startSpan(
      `process ${destination}`,
      { kind: SpanKind.CONSUMER, startTime: startedAt, attributes },
      parentCtx,
    );
    return new OtelEventSpan(this.tracer, span, parentCtx, parent);
  }

  shutdown(): Promise<void> {
    return (this.stopping ??= this.stop());
  }
}
