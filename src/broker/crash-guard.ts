import { createHash } from 'node:crypto';
import type { ConsumeMessage } from 'amqplib';
import type { RedisClient } from '../engine/redis-client.js';
import { propertyString } from './headers.js';

/** A crash is remembered this long against each message that was being processed then. */
const CRASH_MEMORY_SECONDS = 24 * 60 * 60;

/**
 * Remembers, in Redis, which messages were being processed when the worker crashed (an
 * uncaught exception or unhandled rejection), so that a message that crashes every worker it
 * reaches stops doing so: once it has been in flight at `limit` crashes, its next delivery is
 * dead-lettered (`crashed-worker`) instead of being applied again. A message is known by a
 * digest of its routing key, message id and body, which a redelivery keeps.
 *
 * Only crashes the worker saw count: a `kill -9` or an out-of-memory kill records nothing (a
 * quorum queue's delivery limit is the backstop for those), and a broker restart, which also
 * redelivers, is not a crash.
 */
export class CrashGuard {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    readonly limit: number,
  ) {}

  /** The Redis key of a message's crash count (one key per message: any cluster slot will do). */
  key(msg: ConsumeMessage): string {
    const digest = createHash('sha256')
      .update(msg.fields.routingKey)
      .update('\0')
      .update(propertyString(msg.properties.messageId) ?? '')
      .update('\0')
      .update(msg.content)
      .digest('base64url')
      .slice(0, 32);
    return `${this.prefix}:crashed:${digest}`;
  }

  /** How many crashes this message was being processed at. */
  async crashesOf(msg: ConsumeMessage): Promise<number> {
    const n = Number(await this.redis.get(this.key(msg)));
    return Number.isSafeInteger(n) && n > 0 ? n : 0;
  }

  /** The message was settled (applied, retried or dead-lettered): its crashes are forgotten. */
  async forget(msg: ConsumeMessage): Promise<void> {
    await this.redis.del(this.key(msg));
  }

  /** The worker is crashing: each of these messages was being processed. */
  async record(messages: Iterable<ConsumeMessage>): Promise<void> {
    await Promise.all(
      [...messages].map((m) => {
        const key = this.key(m);
        return this.redis.multi().incr(key).expire(key, CRASH_MEMORY_SECONDS).exec();
      }),
    );
  }
}
