import { Cluster } from 'ioredis';
import { callScript } from '../engine/call-script.js';
import { scanKeys, type RedisClient } from '../engine/redis-client.js';
import type { Knex } from 'knex';
import { TenantKeys } from '../engine/keys.js';
import { TransientError } from '../errors/transient-error.js';
import { toError } from '../errors/to-error.js';
import type { Logger } from '../logger.js';
import { lockEpochForLoad } from './epochs.js';
import { copyHolds, copyMarkers, copyStock, type CopyContext } from './copy-tenant.js';
import { copyNetwork } from './copy-network.js';
import { copySettings } from './copy-settings.js';
import { copyWaits } from './copy-waits.js';
import { drainOutboxInto } from './drain-outbox.js';
import { unlinkTenantKeys } from './tenant-keys.js';
import { sqlDateTime } from './sql-time.js';

export interface TenantLoaderOptions {
  knex: Knex;
  redis: RedisClient;
  prefix: string;
  /** How long event ids are remembered (config DEDUP_TTL_SECONDS). */
  dedupTtlSeconds: number;
  logger: Logger;
  /** Rows per page, and so commands per Redis pipeline. @default 1000 */
  pageSize?: number;
  /** @default Date.now */
  now?: () => number;
}

/**
 * Loads tenants into Redis from MySQL when Redis does not have them (it keeps nothing across
 * a restart). Engine option `ensureTenant` is `loader.ensureTenant`.
 */
export class TenantLoader {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly log: Logger;
  private readonly pageSize: number;
  private readonly now: () => number;
  /** '1' on a Redis Cluster: a load signs meta with its node (publishEpoch-1.lua) */
  private readonly cluster: string;

  constructor(private readonly o: TenantLoaderOptions) {
    this.cluster = o.redis instanceof Cluster ? '1' : '0';
    this.log = o.logger.child({ component: 'tenant-loader' });
    this.pageSize = o.pageSize ?? 1000;
    this.now = o.now ?? Date.now;
  }

  /**
   * Makes sure the tenant is loaded in Redis. Calls for a tenant already being loaded (or
   * rebuilt) in this process share that work.
   */
  ensureTenant = (tenant: string): Promise<void> => {
    return this.tails.get(tenant) ?? this.exclusive(tenant, () => this.load(tenant));
  };

  /**
   * Redis Cluster: reloads the tenant whose meta is signed by another node (`node`: the
   * master that died, whose last writes its promoted replica may lack; see NODE_CHANGED in
   * src/lua/includes/base.lua). Calls for the same tenant share the work; a tenant already
   * reloaded (meta unsigned, or signed by this node) is left alone.
   */
  replaceTenant = (tenant: string, node: string): Promise<void> => {
    return this.tails.get(tenant) ?? this.exclusive(tenant, () => this.load(tenant, node));
  };

  /** Loads every known tenant Redis lacks (at start-up, before consuming). Returns them. */
  async loadMissingTenants(): Promise<string[]> {
    const rows = (await this.o.knex('tenant_epochs').select('tenant').orderBy('tenant')) as {
      tenant: string;
    }[];
    const loaded: string[] = [];
    for (const { tenant } of rows) {
      if (await this.o.redis.hexists(new TenantKeys(this.o.prefix, tenant).meta, 'epoch')) continue;
      await this.ensureTenant(tenant);
      loaded.push(tenant);
    }
    return loaded;
  }

  /**
   * Runs `fn` for the tenant after whatever this process is already doing to it, and makes
   * `ensureTenant` wait for it (rebuild uses this).
   */
  exclusive<T>(tenant: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(tenant) ?? Promise.resolve();
    const result = before.catch(() => undefined).then(fn);
    const tail = result.then(
      () => undefined,
      (err: unknown) => Promise.reject(toError(err)),
    );
    // a failed load still rejects its own callers, never later ones
    tail.catch(() => undefined);
    this.tails.set(tenant, tail);
    void tail
      .catch(() => undefined)
      .finally(() => {
        if (this.tails.get(tenant) === tail) this.tails.delete(tenant);
      });
    return result;
  }

  /**
   * Loads the tenant unless Redis has it (with `replacing`: unless Redis has it signed by
   * another node than `replacing`): bumps its epoch (payloads of the old epoch can no
   * longer be mirrored), copies stock, holds, wait queues and recent event markers, and
   * writes the epoch into meta last, which lets the scripts run again, all under the epoch
   * row's lock: a process waiting for that lock finds meta there and has nothing to do.
   */
  async load(tenant: string, replacing?: string): Promise<void> {
    const keys = new TenantKeys(this.o.prefix, tenant);
    const started = this.now();
    let published: number | undefined;
    try {
      const loaded = await this.o.knex.transaction(async (trx) => {
        const epoch = await lockEpochForLoad(trx, tenant);
        const [current, node] = await this.o.redis.hmget(keys.meta, 'epoch', 'node');
        // loaded, and not signed by the node a script found it signed by (`replacing`)
        if (current !== null && (replacing === undefined || node !== replacing)) return undefined;
        // What the scripts appended before meta went away is fact MySQL may lack: mirror it
        // under the epoch it was applied in, before that epoch ends.
        const drained = await drainOutboxInto(trx, this.o.redis, keys, epoch, this.pageSize);
        const next = epoch + 1;
        await trx.raw('UPDATE tenant_epochs SET epoch = ?, loaded_at = ? WHERE tenant = ?', [
          next,
          sqlDateTime(this.now()),
          tenant,
        ]);
        // Whatever else is left (a partial loss, an interrupted rebuild) would mix with MySQL's
        // state; the outbox stays until its drained entries are deleted after the commit.
        // Replacing another node's copy: how many of the events MySQL has it had (see below).
        let found = 0;
        if (replacing !== undefined)
          await scanKeys(this.o.redis, keys.markers, 1000, async (k) => void (found += k.length));
        await unlinkTenantKeys(this.o.redis, keys, [keys.outbox]);
        const c: CopyContext = {
          trx,
          redis: this.o.redis,
          keys,
          windowMs: this.o.dedupTtlSeconds * 1000,
          now: this.now(),
          pageSize: this.pageSize,
        };
        const stock = await copyStock(c);
        const holds = await copyHolds(c);
        const waiting = await copyWaits(c);
        const markers = await copyMarkers(c);
        const network = await copyNetwork(c);
        const settings = await copySettings(c);
        published = next;
        await callScript(this.o.redis, 'publishEpoch', [keys.meta], [String(next), this.cluster]);
        // Events committed in MySQL whose marker the replaced copy lacked: writes its node never
        // got (a promoted replica's lost writes). At least this many: a marker of an event
        // whose payload was still on its way to MySQL counts against it.
        const lost = replacing === undefined ? {} : { lostWrites: Math.max(0, markers - found) };
        return {
          epoch: next,
          drained,
          stock,
          holds,
          waiting,
          markers,
          network,
          settings,
          ...lost,
        };
      });
      if (!loaded) return;
      if (loaded.drained.length > 0) await this.o.redis.xdel(keys.outbox, ...loaded.drained);
      const fields = {
        tenant,
        ...loaded,
        drained: loaded.drained.length,
        ms: this.now() - started,
      };
      if (replacing === undefined) this.log.info(fields, 'tenant loaded into Redis');
      else
        this.log.warn(
          { ...fields, node: replacing },
          'tenant reloaded into Redis: its writes were made on another cluster node',
        );
    } catch (err) {
      const error = toError(err);
      // Meta must never name an epoch MySQL does not have (every payload would be stale).
      // If the commit did go through after all, the next call simply loads once more.
      if (published !== undefined) await this.unpublish(keys, published);
      throw new TransientError(
        `tenant ${tenant}: loading into Redis failed: ${error.message}`,
        'tenant-load-failed',
        {
          cause: error,
        },
      );
    }
  }

  private async unpublish(keys: TenantKeys, epoch: number): Promise<void> {
    try {
      if ((await this.o.redis.hget(keys.meta, 'epoch')) === String(epoch))
        await this.o.redis.del(keys.meta);
    } catch (err) {
      this.log.error(
        { err: toError(err), tenant: keys.tenant, epoch },
        'could not withdraw the epoch of a failed load',
      );
    }
  }
}
