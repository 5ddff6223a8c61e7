import type { RedisClient } from '../engine/redis-client.js';
import type { Knex } from 'knex';
import { TenantKeys } from '../engine/keys.js';
import { PendingOutbox } from './pending-outbox.js';

/** What every step of one tenant's reconciliation reads from and shares. */
export class TenantScope {
  readonly keys: TenantKeys;
  readonly outbox = new PendingOutbox();
  /** False while Redis is not compared: tenant not loaded, or outbox too long to list. */
  redisCompared = true;
  readonly skipped: string[] = [];

  constructor(
    readonly tenant: string,
    readonly knex: Knex,
    readonly redis: RedisClient,
    prefix: string,
    readonly pageSize: number,
    readonly maxOutboxEntries: number,
  ) {
    this.keys = new TenantKeys(prefix, tenant);
  }

  /** Stops comparing Redis for the rest of the tenant, saying why (once). */
  stopRedis(reason: string): void {
    if (this.redisCompared) this.skipped.push(reason);
    this.redisCompared = false;
  }
}
