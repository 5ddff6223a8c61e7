import type { RedisClient } from '../engine/redis-client.js';
import type { Knex } from 'knex';
import { TenantKeys } from '../engine/keys.js';
import { toError } from '../errors/to-error.js';
import type { Logger } from '../logger.js';
import { forEachOutboxPage } from './outbox.js';
import type { LedgerWriter } from './writer.js';

export interface OutboxSweeperOptions {
  knex: Knex;
  redis: RedisClient;
  prefix: string;
  writer: LedgerWriter;
  logger: Logger;
  /** Time between two sweeps. @default 5000 */
  intervalMs?: number;
  /** Entries younger than this still belong to the worker that applied them. @default 30000 */
  graceMs?: number;
  /** Entries read per XRANGE. @default 1000 */
  pageSize?: number;
  /** @default Date.now */
  now?: () => number;
}

/**
 * Mirrors outbox entries whose worker died between applying them in Redis and committing them
 * to MySQL. Every worker may run one: the writer's idempotency makes racing sweepers (and a
 * slow owner finishing after all) harmless.
 */
export class OutboxSweeper {
  private readonly intervalMs: number;
  private readonly graceMs: number;
  private readonly pageSize: number;
  private readonly now: () => number;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<unknown> = Promise.resolve();
  private stopped = true;

  constructor(private readonly o: OutboxSweeperOptions) {
    this.intervalMs = o.intervalMs ?? 5000;
    this.graceMs = o.graceMs ?? 30_000;
    this.pageSize = o.pageSize ?? 1000;
    this.now = o.now ?? Date.now;
    this.log = o.logger.child({ component: 'outbox-sweeper' });
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** Stops the timer and waits for a sweep in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.current;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.sweep()
        .catch((err: unknown) => this.log.warn({ err: toError(err) }, 'outbox sweep failed'))
        .finally(() => this.schedule());
    }, this.intervalMs);
  }

  /** One pass over every tenant; returns how many entries it mirrored or found mirrored. */
  async sweep(): Promise<number> {
    const tenants = (await this.o.knex('tenant_epochs').select('tenant')) as { tenant: string }[];
    let done = 0;
    for (const { tenant } of tenants) done += await this.sweepTenant(tenant);
    return done;
  }

  async sweepTenant(tenant: string): Promise<number> {
    const key = new TenantKeys(this.o.prefix, tenant).outbox;
    const end = String(this.now() - this.graceMs);
    let done = 0;
    await forEachOutboxPage(this.o.redis, key, end, this.pageSize, async (page) => {
      const stale: string[] = [];
      await Promise.all(
        page.map(async (e) => {
          if ('error' in e) {
            this.log.error(
              { err: e.error, tenant, entryId: e.entryId },
              'unreadable outbox entry left in place',
            );
            return;
          }
          try {
            const r = await this.o.writer.write(e.payload, e.entryId);
            if (r === 'stale') stale.push(e.entryId);
            else done++;
          } catch (err) {
            this.log.error(
              { err: toError(err), tenant, entryId: e.entryId, eventId: e.payload.id },
              'outbox entry could not be mirrored',
            );
          }
        }),
      );
      // Applied under an epoch that has since been replaced: its effect left Redis with that
      // epoch and never reached MySQL, so no one can ever mirror it. The event's delivery,
      // never acknowledged, brings it back.
      if (stale.length > 0) {
        this.log.warn(
          { tenant, entries: stale.length },
          'dropping outbox entries of a replaced epoch',
        );
        await this.o.redis.xdel(key, ...stale);
      }
    });
    return done;
  }
}
