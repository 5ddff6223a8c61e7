import type { Redis } from 'ioredis';
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
 * XLEN and the first entry of each tenant's outbox, in one pipeline. An entry id starts with
 * the time Redis appended it (ms), so the oldest entry's id says how long it has waited.
 */
export async function outboxLag(
  redis: Redis,
  prefix: string,
  tenants: readonly string[],
  now = Date.now(),
): Promise<OutboxLag> {
  if (tenants.length === 0) return { entries: 0, oldestSeconds: 0 };
  const pipe = redis.pipeline();
  for (const t of tenants) {
    const key = new TenantKeys(prefix, t).outbox;
    pipe.xlen(key);
    pipe.xrange(key, '-', '+', 'COUNT', 1);
  }
  const replies = (await pipe.exec()) ?? [];
  let entries = 0;
  let oldest = now;
  for (let i = 0; i < replies.length; i += 2) {
    const [lenErr, len] = replies[i]!;
    const [firstErr, first] = replies[i + 1]!;
    if (lenErr) throw lenErr;
    if (firstErr) throw firstErr;
    entries += Number(len);
    const id = (first as [string, string[]][])[0]?.[0];
    if (id) oldest = Math.min(oldest, Number(id.split('-')[0]));
  }
  return { entries, oldestSeconds: Math.max(0, (now - oldest) / 1000) };
}
