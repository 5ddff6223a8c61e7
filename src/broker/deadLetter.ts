import type { ConsumeMessage } from 'amqplib';
import type { Broker } from './broker.js';
import {
  headerCount,
  headerString,
  originalRoutingKey,
  ownHeaders,
  propertyString,
} from './headers.js';
import { DLQ, RETRY_DELAYS_MS, retryQueueName } from './topology.js';

/**
 * How many times a message was already tried. The retry path counts in `x-attempts`, and only
 * a message that came back from a retry queue (through the default exchange) is believed: a
 * publisher's own `x-attempts` on a first delivery does not skip the back-off tiers.
 */
export function attemptsOf(msg: ConsumeMessage): number {
  if (msg.fields.exchange !== '') return 0;
  return headerCount(msg.properties.headers, 'x-attempts') ?? 0;
}

function carriedProperties(msg: ConsumeMessage, headers: Record<string, unknown>) {
  const p = msg.properties;
  const timestamp: unknown = p.timestamp;
  return {
    contentType: propertyString(p.contentType),
    contentEncoding: propertyString(p.contentEncoding),
    messageId: propertyString(p.messageId),
    correlationId: propertyString(p.correlationId),
    timestamp: typeof timestamp === 'number' ? timestamp : undefined,
    type: propertyString(p.type),
    appId: propertyString(p.appId),
    headers: {
      ...ownHeaders(p.headers),
      'x-original-routing-key': originalRoutingKey(msg),
      'x-original-exchange':
        msg.fields.exchange === ''
          ? (headerString(p.headers, 'x-original-exchange') ?? '')
          : msg.fields.exchange,
      ...headers,
    },
    persistent: true,
  };
}

/** Puts the message, unchanged, in `inventory.dlq` with the reason; resolves once confirmed. */
export async function deadLetter(
  broker: Broker,
  msg: ConsumeMessage,
  reason: string,
): Promise<void> {
  await broker.publish(
    '',
    DLQ,
    msg.content,
    carriedProperties(msg, {
      'x-error-reason': reason.slice(0, 1000),
      'x-error-at': new Date().toISOString(),
      'x-attempts': attemptsOf(msg) + 1,
    }),
  );
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
    await deadLetter(broker, msg, `${reason} (gave up after ${attempts + 1} attempts)`);
    return 'dead-letter';
  }
  await broker.publish(
    '',
    retryQueueName(delay),
    msg.content,
    carriedProperties(msg, { 'x-attempts': attempts + 1, 'x-last-error': reason.slice(0, 1000) }),
  );
  return 'retry';
}
