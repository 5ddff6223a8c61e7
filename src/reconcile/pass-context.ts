import type { Redis } from 'ioredis';
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
  redis: Redis,
  scope: TenantScope,
  suffix: string,
  each: (keys: string[]) => Promise<void>,
): Promise<void> {
  const pattern = `${scope.keys.base}${suffix}`.replace(/[*?[\]\\]/g, '\\$&') + '*';
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
    cursor = next;
    if (found.length > 0) await each(found);
  } while (cursor !== '0');
}
