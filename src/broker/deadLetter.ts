import type { ConsumeMessage } from 'amqplib';
import type { Broker } from './broker.js';
import { DLQ, RETRY_DELAYS_MS, retryQueueName } from './topology.js';

/** How many times a message was already tried (the retry path counts in `x-attempts`). */
export function attemptsOf(msg: ConsumeMessage): number {
  const n = Number(msg.properties.headers?.['x-attempts'] ?? 0);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

function carriedProperties(msg: ConsumeMessage, headers: Record<string, unknown>) {
  const p = msg.properties;
  return {
    contentType: p.contentType as string | undefined,
    contentEncoding: p.contentEncoding as string | undefined,
    messageId: p.messageId as string | undefined,
    correlationId: p.correlationId as string | undefined,
    timestamp: p.timestamp as number | undefined,
    type: p.type as string | undefined,
    appId: p.appId as string | undefined,
    headers: {
      ...(p.headers ?? {}),
      'x-original-routing-key': p.headers?.['x-original-routing-key'] ?? msg.fields.routingKey,
      'x-original-exchange': p.headers?.['x-original-exchange'] ?? msg.fields.exchange,
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
