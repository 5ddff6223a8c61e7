import { scanKeys, type RedisClient } from '../engine/redis-client.js';
import type { TenantScope } from './tenant-scope.js';
import type { RunTally } from './tenant-tally.js';

/** What the stock and hold passes of one tenant share. */
export interface PassContext {
  scope: TenantScope;
  tally: RunTally;
  repair: boolean;
  recheckDelayMs: number;
  now: () => number;
  /** `n` more keys checked */
  progress: (n: number) => void;
  /** true once the run was asked to stop */
  signalled: () => boolean;
  /** throws when the run was asked to stop */
  checkAborted: () => void;
}

/** Keys of the tenant matching `<base><suffix>*`, in SCAN batches (unordered). */
export async function scanTenant(
  redis: RedisClient,
  scope: TenantScope,
  suffix: string,
  each: (keys: string[]) => Promise<void>,
): Promise<void> {
  const pattern = `${scope.keys.base}${suffix}`.replace(/[*?[\]\\]/g, '\\$&') + '*';
  await scanKeys(redis, pattern, 5000, each);
}
