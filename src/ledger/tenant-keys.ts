import type { Redis } from 'ioredis';
import type { TenantKeys } from '../engine/keys.js';

/** Deletes every key of the tenant except `keep`; returns how many it deleted. */
export async function unlinkTenantKeys(
  redis: Redis,
  keys: TenantKeys,
  keep: string[] = [],
): Promise<number> {
  const kept = new Set(keep);
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', keys.all, 'COUNT', 1000);
    cursor = next;
    const doomed = found.filter((k) => !kept.has(k));
    if (doomed.length > 0) deleted += await redis.unlink(...doomed);
  } while (cursor !== '0');
  return deleted;
}
