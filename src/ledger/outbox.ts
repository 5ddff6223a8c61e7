import type { RedisClient } from '../engine/redis-client.js';
import type { OutboxPayload } from '../domain/types.js';
import { parsePayload } from '../engine/payload.js';
import { toError } from '../errors/to-error.js';

export type OutboxEntry =
  { entryId: string; payload: OutboxPayload } | { entryId: string; error: Error };

/**
 * Reads up to `count` outbox entries after `after` (exclusive; '-' for the start) up to `end`
 * (inclusive; '+' for the end, or a time in ms).
 */
export async function readOutbox(
  redis: RedisClient,
  key: string,
  after: string,
  end: string,
  count: number,
): Promise<OutboxEntry[]> {
  const start = after === '-' ? '-' : `(${after}`;
  const raw = await redis.xrange(key, start, end, 'COUNT', count);
  return raw.map(([entryId, fields]) => {
    const i = fields.indexOf('p');
    try {
      if (i < 0 || i % 2 !== 0) throw new Error('outbox entry has no field p');
      return { entryId, payload: parsePayload(fields[i + 1]!) };
    } catch (err) {
      return { entryId, error: toError(err) };
    }
  });
}

/** Calls `each` with every page of the outbox up to `end`, oldest first. */
export async function forEachOutboxPage(
  redis: RedisClient,
  key: string,
  end: string,
  pageSize: number,
  each: (entries: OutboxEntry[]) => Promise<void>,
): Promise<void> {
  let after = '-';
  for (;;) {
    const page = await readOutbox(redis, key, after, end, pageSize);
    if (page.length === 0) return;
    await each(page);
    after = page[page.length - 1]!.entryId;
  }
}
