import type { RedisClient } from '../engine/redis-client.js';
import type { Knex } from 'knex';
import { TenantKeys } from '../engine/keys.js';

/** Events applied in Redis and not yet committed to MySQL, over every tenant. */
export interface OutboxLag {
  /** entries waiting in the tenants' outbox streams */
  entries: number;
  /** age of the oldest waiting entry, in seconds (0 when none waits) */
  oldestSeconds: number;
}

/** Every tenant ever loaded (the outboxes to look at). */
export async function knownTenants(knex: Knex): Promise<string[]> {
  const rows = (await knex('tenant_epochs').select('tenant')) as { tenant: string }[];
  return rows.map((r) => r.tenant);
}

/**
 * XLEN and the first entry of each tenant's outbox, in one pipeline per tenant (a tenant's keys
 * share a slot; tenants may be on different cluster nodes). An entry id starts with the time
 * Redis appended it (ms), so the oldest entry's id says how long it has waited.
 */
export async function outboxLag(
  redis: RedisClient,
  prefix: string,
  tenants: readonly string[],
  now = Date.now(),
): Promise<OutboxLag> {
  const replies = await Promise.all(
    tenants.map(async (t) => {
      const key = new TenantKeys(prefix, t).outbox;
      const replies = (await redis
        .pipeline()
        .xlen(key)
        .xrange(key, '-', '+', 'COUNT', 1)
        .exec()) as [[Error | null, unknown], [Error | null, unknown]];
      const [[lenErr, len], [firstErr, first]] = replies;
      if (lenErr) throw lenErr;
      if (firstErr) throw firstErr;
      return { len: Number(len), id: (first as [string, string[]][])[0]?.[0] };
    }),
  );
  let entries = 0;
  let oldest = now;
  for (const { len, id } of replies) {
    entries += len;
    if (id) oldest = Math.min(oldest, Number(id.split('-')[0]));
  }
  return { entries, oldestSeconds: Math.max(0, (now - oldest) / 1000) };
}
