import type { RedisClient } from '../engine/redis-client.js';
import type { Knex } from 'knex';
import { TenantKeys } from '../engine/keys.js';
import type { Logger } from '../logger.js';
import type { TenantLoader } from './load-tenant.js';
import { forEachOutboxPage } from './outbox.js';
import { unlinkTenantKeys } from './tenant-keys.js';
import type { LedgerWriter } from './writer.js';

export interface RebuildDeps {
  knex: Knex;
  redis: RedisClient;
  prefix: string;
  writer: LedgerWriter;
  loader: TenantLoader;
  logger: Logger;
}

/**
 * Throws away the tenant's Redis state and loads it again from MySQL (operator command
 * `rebuild`). Meta goes first, so the scripts stop changing anything; what they already
 * appended is mirrored before the keys go.
 */
export async function rebuildTenant(deps: RebuildDeps, tenant: string): Promise<void> {
  const keys = new TenantKeys(deps.prefix, tenant);
  await deps.loader.exclusive(tenant, async () => {
    await deps.redis.del(keys.meta);
    let drained = 0;
    await forEachOutboxPage(deps.redis, keys.outbox, '+', 1000, async (page) => {
      const writes = page.flatMap((e) =>
        'error' in e ? [] : [deps.writer.write(e.payload, e.entryId)],
      );
      drained += writes.length;
      await Promise.all(writes);
    });
    await deps.writer.flush();
    const deleted = await unlinkTenantKeys(deps.redis, keys);
    deps.logger.info({ tenant, drained, deleted }, 'tenant cleared from Redis; reloading');
    await deps.loader.load(tenant);
  });
}

/** Rebuilds every tenant MySQL knows, one after the other; returns them. */
export async function rebuildAll(deps: RebuildDeps): Promise<string[]> {
  const rows = (await deps.knex('tenant_epochs').select('tenant').orderBy('tenant')) as {
    tenant: string;
  }[];
  for (const { tenant } of rows) await rebuildTenant(deps, tenant);
  return rows.map((r) => r.tenant);
}
