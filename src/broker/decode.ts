import type { ConsumeMessage } from 'amqplib';
import type { Consumer } from '../../consumers/consumer.js';
import { consumers } from '../../consumers/index.js';
import { cloudEventSchema, describeIssues } from '../domain/schemas.js';
import { DEFAULT_TENANT, type Command, type EventMeta } from '../domain/types.js';
import { parseTraceContext, type TraceContext } from '../domain/trace-context.js';
import { PermanentError } from '../errors/permanent-error.js';
import type { DeadLetterReason } from '../errors/reasons.js';
import { headerValue, propertyString } from './headers.js';
import { authoriseTenant, type TenantRules } from './tenants.js';

const CONTENT_TYPES = new Set(['application/cloudevents+json', 'application/json']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface DecodedEvent {
  meta: EventMeta;
  /** the event's trace context (its `traceparent` attribute, else the AMQP header), if valid */
  trace?: TraceContext;
  consumer: Consumer;
  command: Command;
  orderingKeys: string[];
}

export interface DecodeOptions {
  maxBytes: number;
  cartTtlMs: (tenant: string) => number;
  /** CHECKOUT_TTL_SECONDS in ms @default 900000 */
  checkoutTtlMs?: number;
  /** who may act for which tenant; absent: any event for any tenant, `default` when it names none */
  tenants?: TenantRules;
}

const fail = (reason: DeadLetterReason, message: string): never => {
  throw new PermanentError(message, reason);
};

/**
 * Turns a delivery into a validated command, or throws PermanentError with a reason code
 * (malformed, invalid, unknown-type, routing-mismatch, too-large, unknown-tenant,
 * unauthorised-tenant) and a message a person can act on.
 */
export function decode(msg: ConsumeMessage, options: DecodeOptions): DecodedEvent {
  const { content, properties, fields } = msg;
  if (content.length > options.maxBytes) {
    fail('too-large', `body is ${content.length} bytes; the limit is ${options.maxBytes}`);
  }
  const contentType = propertyString(properties.contentType);
  if (contentType && !CONTENT_TYPES.has(contentType.split(';')[0]!.trim().toLowerCase())) {
    fail(
      'malformed',
      `content-type ${contentType} is not application/cloudevents+json or application/json`,
    );
  }
  let text = '';
  try {
    text = utf8.decode(content);
  } catch {
    fail('malformed', 'body is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail('malformed', `body is not JSON: ${(e as Error).message}`);
  }
  const env = cloudEventSchema.safeParse(json);
  if (!env.success) fail('invalid', `invalid CloudEvents envelope: ${describeIssues(env.error)}`);
  const e = env.data!;
  if (fields.routingKey !== e.type && fields.exchange !== '') {
    fail('routing-mismatch', `routing key "${fields.routingKey}" differs from type "${e.type}"`);
  }
  const messageId = propertyString(properties.messageId);
  if (messageId !== undefined && messageId !== e.id) {
    fail('invalid', `AMQP message-id "${messageId}" differs from event id "${e.id}"`);
  }
  // before anything of the data is looked at: an unauthorised event gets no further
  const tenant = options.tenants
    ? authoriseTenant(e.tenant, properties, options.tenants)
    : (e.tenant ?? DEFAULT_TENANT);
  const consumer = consumers.get(e.type);
  if (!consumer) fail('unknown-type', `unknown event type "${e.type}"`);
  const data = consumer!.data.safeParse(e.data);
  if (!data.success) fail('invalid', `invalid ${e.type} data: ${describeIssues(data.error)}`);
  const trace = traceContextOf(e, properties.headers);
  const meta: EventMeta = {
    tenant,
    source: e.source,
    id: e.id,
    type: e.type,
    occurredAt: e.time ?? new Date().toISOString(),
    ...(trace ? { traceId: trace.traceId } : {}),
  };
  return {
    meta,
    ...(trace ? { trace } : {}),
    consumer: consumer!,
    command: consumer!.command(data.data, {
      tenant,
      cartTtlMs: options.cartTtlMs(tenant),
      checkoutTtlMs: options.checkoutTtlMs ?? 15 * 60_000,
      occurredAtMs: Date.parse(meta.occurredAt),
      ...(e.time !== undefined ? { eventTimeMs: Date.parse(e.time) } : {}),
    }),
    orderingKeys: consumer!.orderingKeys(data.data).map((k) => `${tenant}\x1f${k}`),
  };
}

/**
 * The trace context of an event: the CloudEvents attributes `traceparent` and `tracestate`, or,
 * when the envelope has no `traceparent`, the AMQP headers of those names (where the
 * OpenTelemetry amqplib instrumentation puts them). Read only from where it was found.
 */
export function traceContextOf(
  attributes: Record<string, unknown>,
  headers: unknown,
): TraceContext | undefined {
  if (attributes.traceparent !== undefined)
    return parseTraceContext(attributes.traceparent, attributes.tracestate);
  return parseTraceContext(headerValue(headers, 'traceparent'), headerValue(headers, 'tracestate'));
}

/**
 * The trace context of a message that could not be decoded, as far as it can be read: from
 * its body when that is a JSON object (of at most `maxBytes`), else from its headers. For the
 * dead letter's headers; never throws.
 */
export function traceContextOfUndecoded(
  msg: ConsumeMessage,
  maxBytes: number,
): TraceContext | undefined {
  let attributes: Record<string, unknown> = {};
  if (msg.content.length <= maxBytes) {
    try {
      const json: unknown = JSON.parse(msg.content.toString('utf8'));
      if (json !== null && typeof json === 'object' && !Array.isArray(json))
        attributes = json as Record<string, unknown>;
    } catch {
      // not JSON (or nested past the stack): the headers only
    }
  }
  try {
    return traceContextOf(attributes, msg.properties.headers);
  } catch {
    return undefined;
  }
}
