import type { RedisClient } from '../engine/redis-client.js';
import type { Knex } from 'knex';
import type { TenantKeys } from '../engine/keys.js';
import { mirrorInTransaction } from './commit-batch.js';
import { forEachOutboxPage } from './outbox.js';

/**
 * Mirrors the tenant's whole outbox inside the loader's transaction, which holds the epoch
 * row (a writer would wait for it). Entries of another epoch are dropped with the rest: that
 * epoch's Redis state is gone, so they can never be mirrored. Returns every entry id read, to
 * delete once the transaction has committed.
 */
export async function drainOutboxInto(
  trx: Knex.Transaction,
  redis: RedisClient,
  keys: TenantKeys,
  epoch: number,
  pageSize: number,
): Promise<string[]> {
  const ids: string[] = [];
  const epochs = new Map([[keys.tenant, epoch]]);
  await forEachOutboxPage(redis, keys.outbox, '+', pageSize, async (page) => {
    const items = [];
    for (const e of page) {
      ids.push(e.entryId);
      // never written by our scripts; its event, never acknowledged, comes back anyway
      if ('error' in e) continue;
      items.push({ payload: e.payload, entryId: e.entryId });
    }
    await mirrorInTransaction(trx, items, epochs);
  });
  return ids;
}
