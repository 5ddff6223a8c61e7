import {
  createRedisClient,
  type RedisClient,
  type RedisTarget,
} from '../src/engine/redis-client.js';

/**
 * BullMQ's own connections. Workers block on Redis and must retry forever
 * (`maxRetriesPerRequest: null`); the queue prefix is one hash tag so that every key of every
 * queue lives in one Redis Cluster slot (BullMQ's scripts touch several keys at once). TLS as
 * the worker's own Redis connection: BullMQ's duplicates of this connection keep it.
 */
export function bullConnection(target: RedisTarget): RedisClient {
  return createRedisClient(target, { maxRetriesPerRequest: null, enableReadyCheck: true });
}

export const bullPrefix = (redisPrefix: string): string => `{${redisPrefix}.jobs}`;

/** Bounded retention of finished jobs, so the queue's keys do not grow without end. */
export const retention = {
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
} as const;
