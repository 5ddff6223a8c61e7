import type { ConsumeMessage } from 'amqplib';
import { reasonText } from '../errors/reasons.js';
import { toError } from '../errors/to-error.js';
import type { Broker } from './broker.js';
import {
  headerCount,
  headerString,
  originalRoutingKey,
  propertyString,
  republishableHeaders,
} from './headers.js';
import { printable } from './printable.js';
import { carryOrigin } from './tenants.js';
import { maskCredentials } from '../secrets.js';
import { DLQ, RETRY_DELAYS_MS, retryQueueName } from './topology.js';
import type { TraceContext } from '../domain/trace-context.js';

/**
 * How many times a message was already tried. The retry path counts in `x-attempts`, and only
 * a message that came back from a retry queue (through the default exchange) is believed: a
 * publisher's own `x-attempts` on a first delivery does not skip the back-off tiers.
 */
export function attemptsOf(msg: ConsumeMessage): number {
  if (msg.fields.exchange !== '') return 0;
  return headerCount(msg.properties.headers, 'x-attempts') ?? 0;
}

/** The worker's own text headers are cut to this many UTF-8 bytes. */
const MAX_REASON_BYTES = 1000;

/** `text` cut to at most `maxBytes` of UTF-8, never inside a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const cut = Buffer.from(text).subarray(0, maxBytes).toString('utf8');
  // a character cut in two decodes as U+FFFD at the end: drop it
  return cut.endsWith('\uFFFD') ? cut.slice(0, -1) : cut;
}

function carriedProperties(broker: Broker, msg: ConsumeMessage, headers: Record<string, unknown>) {
  const p = msg.properties;
  const timestamp: unknown = p.timestamp;
  const carried: Record<string, unknown> = {
    ...republishableHeaders(p.headers, broker.headerBudget),
    'x-original-routing-key': originalRoutingKey(msg),
    'x-original-exchange':
      msg.fields.exchange === ''
        ? (headerString(p.headers, 'x-original-exchange') ?? '')
        : msg.fields.exchange,
    ...headers,
  };
  const own = broker.ownUser;
  const userId = own === undefined ? undefined : carryOrigin(p, carried, own);
  return {
    contentType: propertyString(p.contentType),
    contentEncoding: propertyString(p.contentEncoding),
    messageId: propertyString(p.messageId),
    correlationId: propertyString(p.correlationId),
    timestamp: typeof timestamp === 'number' ? timestamp : undefined,
    type: propertyString(p.type),
    appId: propertyString(p.appId),
    ...(userId !== undefined ? { userId } : {}),
    headers: carried,
    persistent: true,
  };
}

/** Puts the message, unchanged, in `inventory.dlq` with the reason; resolves once confirmed. */
export async function deadLetter(
  broker: Broker,
  msg: ConsumeMessage,
  reason: string,
  trace?: TraceContext,
): Promise<void> {
  await publishCarried(broker, DLQ, msg, {
    'x-error-reason': truncateUtf8(printable(maskCredentials(reason)), MAX_REASON_BYTES),
    'x-error-at': new Date().toISOString(),
    'x-attempts': attemptsOf(msg) + 1,
    ...traceHeaders(trace),
  });
}

/**
 * The event's trace context as AMQP headers, for a dead letter (where tools look for it first)
 * and an announcement: W3C names, as the OpenTelemetry amqplib instrumentation writes them.
 */
export function traceHeaders(trace: TraceContext | undefined): Record<string, string> {
  if (!trace) return {};
  return {
    traceparent: trace.traceparent,
    ...(trace.tracestate !== undefined ? { tracestate: trace.tracestate } : {}),
  };
}

/**
 * Publishes the message again, unchanged, to `queue` with the worker's own headers added. A
 * failure with the broker still there is the message's own (properties or headers the client
 * could not encode): it goes again without them rather than being handed back for ever.
 */
async function publishCarried(
  broker: Broker,
  queue: string,
  msg: ConsumeMessage,
  ours: Record<string, unknown>,
): Promise<void> {
  try {
    await broker.publish('', queue, msg.content, carriedProperties(broker, msg, ours));
  } catch (e) {
    if (!broker.connected) throw e;
    const why = `could not publish them again: ${truncateUtf8(printable(toError(e).message), 200)}`;
    await broker.publish('', queue, msg.content, {
      ...bareProperties(msg),
      headers: {
        ...ours,
        'x-original-routing-key': originalRoutingKey(msg),
        'x-headers-dropped': why,
      },
      persistent: true,
    });
  }
}

/** The properties kept when the message's own could not be published: only the plain ones. */
function bareProperties(msg: ConsumeMessage) {
  const p = msg.properties;
  return {
    contentType: propertyString(p.contentType),
    messageId: propertyString(p.messageId),
    correlationId: propertyString(p.correlationId),
  };
}

/**
 * Schedules another try through the next back-off tier, or dead-letters the message once the
 * tiers are used up. Resolves with where it went.
 */
export async function retryLater(
  broker: Broker,
  msg: ConsumeMessage,
  reason: string,
): Promise<'retry' | 'dead-letter'> {
  const attempts = attemptsOf(msg);
  const delay = RETRY_DELAYS_MS[attempts];
  if (delay === undefined) {
    await deadLetter(
      broker,
      msg,
      reasonText('gave-up', `${reason} (after ${attempts + 1} attempts)`),
    );
    return 'dead-letter';
  }
  await publishCarried(broker, retryQueueName(delay), msg, {
    'x-attempts': attempts + 1,
    'x-last-error': truncateUtf8(printable(maskCredentials(reason)), MAX_REASON_BYTES),
  });
  return 'retry';
}
