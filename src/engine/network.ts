import type { RedisClient } from './redis-client.js';
import { emptyNetwork, type LocationDef, type NetworkState } from '../domain/network.js';
import { TenantKeys } from './keys.js';
import type { KitComponent } from '../domain/kits.js';
import { compareBytes } from '../domain/pairs.js';

/** A tenant's locations, bindings and kits as read, and the version they were read at. */
export interface NetworkSnapshot {
  /** `epoch:nv` of meta: the scripts refuse (STALE_NETWORK) a plan made at another */
  token: string;
  net: NetworkState;
}

/**
 * Tenants whose network is kept; the least recently used one is dropped beyond this (a dropped
 * one is read again when next needed: one round trip).
 */
export const MAX_CACHED_NETWORKS = 1000;

/**
 * Caches each tenant's network (locations, bindings, kits) for the planner. Optimistic: every
 * script call carries the token it was planned at, and a script that finds another one
 * changes nothing and says so; the engine then drops the entry and plans again. So a cache
 * hit costs no round trip, and a stale one is never acted on.
 */
export class NetworkCache {
  private readonly entries = new Map<string, Promise<NetworkSnapshot>>();
  /** what each entry's read gave, once it has */
  private readonly snaps = new WeakMap<Promise<NetworkSnapshot>, NetworkSnapshot>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly ensureTenant: (tenant: string) => Promise<void>,
  ) {}

  /** Tenants cached now (at most MAX_CACHED_NETWORKS). */
  get size(): number {
    return this.entries.size;
  }

  get(tenant: string): Promise<NetworkSnapshot> {
    let e = this.entries.get(tenant);
    if (e) this.used(tenant, e);
    else {
      if (this.entries.size >= MAX_CACHED_NETWORKS)
        this.entries.delete(this.entries.keys().next().value!);
      const read = this.read(tenant);
      e = read;
      this.entries.set(tenant, read);
      read.then(
        (snap) => this.snaps.set(read, snap),
        () => {
          if (this.entries.get(tenant) === read) this.entries.delete(tenant);
        },
      );
    }
    return e;
  }

  /**
   * The tenant's snapshot when it is cached and its read is over, else undefined (then `get`):
   * the engine's every event takes it without an await.
   */
  now(tenant: string): NetworkSnapshot | undefined {
    const e = this.entries.get(tenant);
    const snap = e && this.snaps.get(e);
    if (snap) this.used(tenant, e);
    return snap;
  }

  /** Most recently used last: a Map iterates in insertion order. */
  private used(tenant: string, e: Promise<NetworkSnapshot>): void {
    this.entries.delete(tenant);
    this.entries.set(tenant, e);
  }

  /** Drops the entry if it is the one read at `token` (a newer read is kept). */
  invalidate(tenant: string, token: string): void {
    const e = this.entries.get(tenant);
    if (e && this.snaps.get(e)?.token === token) this.entries.delete(tenant);
  }

  private async read(tenant: string): Promise<NetworkSnapshot> {
    const k = new TenantKeys(this.prefix, tenant);
    for (let attempt = 0; attempt < 5; attempt++) {
      const res = await this.redis
        .multi()
        .hmget(k.meta, 'epoch', 'nv')
        .hgetall(k.locations)
        .hgetall(k.bindings)
        .hgetall(k.kits)
        .exec();
      if (!res) throw new Error('network read: transaction aborted');
      for (const [err] of res) if (err) throw err;
      const [epoch, nv] = res[0]![1] as [string | null, string | null];
      if (epoch === null) {
        await this.ensureTenant(tenant);
        continue;
      }
      return {
        token: `${epoch}:${nv ?? '0'}`,
        net: parseNetwork(
          res[1]![1] as Record<string, string>,
          res[2]![1] as Record<string, string>,
          res[3]![1] as Record<string, string>,
        ),
      };
    }
    throw new Error(`tenant ${tenant}: not loadable for its network`);
  }
}

/** Builds the network from the `locs`, `bind` and `kits` hashes. */
export function parseNetwork(
  locs: Record<string, string>,
  bind: Record<string, string>,
  kits: Record<string, string>,
): NetworkState {
  const net = emptyNetwork();
  for (const [id, json] of Object.entries(locs)) {
    const d = JSON.parse(json) as { name: string; priority: number; shipsTo: unknown };
    const def: LocationDef = {
      locationId: id,
      name: d.name,
      priority: d.priority,
      shipsTo: Array.isArray(d.shipsTo) ? (d.shipsTo as string[]) : [],
    };
    net.locations.set(id, def);
  }
  for (const pair of Object.keys(bind)) net.bound.add(pair);
  for (const [sku, json] of Object.entries(kits)) net.kits.set(sku, parseKit(json));
  return net;
}

/** A `kits` hash value (JSON [[component sku, quantity], ...]) as components in byte order. */
export function parseKit(json: string): KitComponent[] {
  return (JSON.parse(json) as [string, number][])
    .map(([sku, quantity]) => ({ sku, quantity }))
    .sort((a, b) => compareBytes(a.sku, b.sku));
}

/** A kit's components as the `kits` hash keeps them (the inverse of parseKit). */
export function encodeKit(components: readonly KitComponent[]): string {
  return JSON.stringify(
    [...components].sort((a, b) => compareBytes(a.sku, b.sku)).map((c) => [c.sku, c.quantity]),
  );
}
