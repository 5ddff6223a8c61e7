import type { TenantKeys } from '../engine/keys.js';
import { scanKeys, type RedisClient } from '../engine/redis-client.js';

/** Deletes every key of the tenant except `keep`; returns how many it deleted. */
export async function unlinkTenantKeys(
  redis: RedisClient,
  keys: TenantKeys,
  keep: string[] = [],
): Promise<number> {
  const kept = new Set(keep);
  let deleted = 0;
  await scanKeys(redis, keys.all, 1000, async (found) => {
    const doomed = found.filter((k) => !kept.has(k));
    if (doomed.length > 0) deleted += await redis.unlink(...doomed);
  });
  return deleted;
}
