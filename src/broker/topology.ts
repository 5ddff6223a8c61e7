import type { Channel } from 'amqplib';

/** Fixed names of the contract (docs/events.md, "Fixed names") and the worker's own queues. */
export const COMMERCE_EXCHANGE = 'commerce.events';
export const INVENTORY_EXCHANGE = 'inventory.events';
export const DLQ = 'inventory.dlq';
export const MAIN_QUEUE = 'inventory.commerce-events';

/** Back-off tiers for retryable failures; after the last one the message is dead-lettered. */
export const RETRY_DELAYS_MS = [1_000, 10_000, 60_000] as const;

export const retryQueueName = (delayMs: number): string => `inventory.retry.${delayMs / 1000}s`;

export type QueueType = 'quorum' | 'classic';

/**
 * Quorum queues: replicated (Raft), at-least-once dead-lettering, a delivery limit that stops
 * a message crashing workers forever. A single node gets no replication but keeps the rest.
 */
function queueArgs(type: QueueType, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return type === 'quorum'
    ? { 'x-queue-type': 'quorum', ...extra }
    : { 'x-queue-type': 'classic', ...extra };
}

const atLeastOnce = (type: QueueType) =>
  type === 'quorum'
    ? { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' }
    : {};

/** Declares everything the worker needs; idempotent, run on every (re)connect. */
export async function declareTopology(
  ch: Channel,
  options: { queueType: QueueType; types: readonly string[]; deliveryLimit: number },
): Promise<void> {
  const { queueType } = options;
  await ch.assertExchange(COMMERCE_EXCHANGE, 'topic', { durable: true });
  await ch.assertExchange(INVENTORY_EXCHANGE, 'topic', { durable: true });
  await ch.assertQueue(DLQ, { durable: true, arguments: queueArgs(queueType) });
  await ch.assertQueue(MAIN_QUEUE, {
    durable: true,
    arguments: queueArgs(queueType, {
      // a message that keeps killing workers ends in the DLQ (x-death reason delivery_limit)
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': DLQ,
      ...atLeastOnce(queueType),
      ...(queueType === 'quorum' ? { 'x-delivery-limit': options.deliveryLimit } : {}),
    }),
  });
  for (const type of options.types) await ch.bindQueue(MAIN_QUEUE, COMMERCE_EXCHANGE, type);
  // One queue per delay: messages expire only at a queue's head, so delays must not mix.
  for (const delay of RETRY_DELAYS_MS) {
    await ch.assertQueue(retryQueueName(delay), {
      durable: true,
      arguments: queueArgs(queueType, {
        'x-message-ttl': delay,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': MAIN_QUEUE,
        ...atLeastOnce(queueType),
      }),
    });
  }
}
