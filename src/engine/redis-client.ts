/**
 * The one place a Redis client is made, for a single Redis or a Redis Cluster, and the one
 * SCAN loop. Everything else takes a `RedisClient` and works on both: every key of one call
 * shares a tenant's hash tag (see keys.ts), and BullMQ's prefix is one hash tag (jobs/).
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { redisTlsOptions, type TlsFiles } from '../tls.js';

export type RedisClient = Redis | Cluster;

/** Where Redis is: config REDIS_URL, REDIS_CLUSTER_NODES and the REDIS_TLS_* files. */
export interface RedisTarget {
  /** a single Redis; with `clusterNodes`, only its scheme (TLS), user and password count */
  url: string;
  /** Redis Cluster seeds, `host:port`; empty for a single Redis */
  clusterNodes: readonly string[];
  tls?: TlsFiles;
}

/** The target a configuration names. */
export const redisTargetOf = (c: {
  REDIS_URL: string;
  REDIS_CLUSTER_NODES: readonly string[];
  tls: { redis?: TlsFiles };
}): RedisTarget => ({ url: c.REDIS_URL, clusterNodes: c.REDIS_CLUSTER_NODES, tls: c.tls.redis });

/**
 * How long a cluster client keeps a command while a slot has no reachable master (a failover
 * under way, CLUSTERDOWN): retried every RETRY_MS, MAX_REDIRECTIONS times, so about a minute
 * (ioredis' default, 16 × 100 ms, gives up long before a replica is promoted).
 */
const CLUSTER_RETRY_MS = 200;
const CLUSTER_MAX_REDIRECTIONS = 300;

/**
 * A client for the target. `options` are ioredis options of each connection
 * (`maxRetriesPerRequest`, `commandTimeout`, `lazyConnect`, `enableOfflineQueue`...).
 */
export function createRedisClient(target: RedisTarget, options: RedisOptions = {}): RedisClient {
  if (target.clusterNodes.length === 0)
    return new Redis(target.url, { ...options, ...redisTlsOptions(target.tls) });
  const u = new URL(target.url);
  const node: RedisOptions = {
    ...options,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: { ...target.tls } } : {}),
  };
  // lazyConnect and the offline queue are the cluster's own options (its nodes connect lazily)
  const { lazyConnect, enableOfflineQueue, ...redisOptions } = node;
  const cluster: ClusterOptions = {
    redisOptions,
    lazyConnect: lazyConnect ?? false,
    enableOfflineQueue: enableOfflineQueue ?? true,
    scaleReads: 'master',
    retryDelayOnFailover: CLUSTER_RETRY_MS,
    retryDelayOnClusterDown: CLUSTER_RETRY_MS,
    retryDelayOnTryAgain: CLUSTER_RETRY_MS,
    maxRedirections: CLUSTER_MAX_REDIRECTIONS,
  };
  return new Cluster(target.clusterNodes.map(parseNode), cluster);
}

/** `host:port` (IPv6 as `[::1]:7000`). */
export function parseNode(hostPort: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(hostPort.trim());
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65_535) throw new Error(`not host:port: ${hostPort}`);
  return { host: (m[1] ?? m[2])!, port };
}

/** The connections that hold data: the masters of a cluster, or the single Redis. */
export function masters(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/**
 * Every key matching `pattern`, in SCAN batches (unordered), on every master: a cluster's
 * SCAN sees one node's keys only. A key may be reported twice (SCAN's own guarantee).
 */
export async function scanKeys(
  redis: RedisClient,
  pattern: string,
  count: number,
  each: (keys: string[]) => Promise<void>,
): Promise<void> {
  for (const node of masters(redis)) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      if (found.length > 0) await each(found);
    } while (cursor !== '0');
  }
}
