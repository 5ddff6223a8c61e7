/**
 * REDIS_CLUSTER_NODES: the configuration reads and checks the seeds, and the client factory
 * makes a cluster client from them with REDIS_URL's user, password and TLS (no connection).
 */
import { Cluster, Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createRedisClient, parseNode, redisTargetOf } from '../../src/engine/redis-client.js';

const env = (e: Record<string, string>) => e as NodeJS.ProcessEnv;

describe('REDIS_CLUSTER_NODES', () => {
  test('seeds as host:port, trimmed; empty is a single Redis', () => {
    expect(loadConfig(env({})).REDIS_CLUSTER_NODES).toEqual([]);
    expect(
      loadConfig(env({ REDIS_CLUSTER_NODES: ' 10.0.0.1:7000, redis-a.svc:7001,[::1]:7002 ' }))
        .REDIS_CLUSTER_NODES,
    ).toEqual(['10.0.0.1:7000', 'redis-a.svc:7001', '[::1]:7002']);
    expect(parseNode('[::1]:7002')).toEqual({ host: '::1', port: 7002 });
  });

  test('refuses a seed without a port, and a REDIS_URL naming a database', () => {
    expect(() => loadConfig(env({ REDIS_CLUSTER_NODES: 'a:7000,b' }))).toThrow(
      /REDIS_CLUSTER_NODES=.*"b" is not host:port/,
    );
    expect(() => loadConfig(env({ REDIS_CLUSTER_NODES: 'a:70000' }))).toThrow(/not host:port/);
    expect(() =>
      loadConfig(env({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_URL: 'redis://a:7000/2' })),
    ).toThrow(/REDIS_URL=.*a Redis Cluster has only database 0/);
    // a single Redis may use another database
    expect(loadConfig(env({ REDIS_URL: 'redis://a:7000/2' })).REDIS_URL).toBe('redis://a:7000/2');
  });

  test('the factory: a cluster client with the URL’s credentials and TLS on every node', () => {
    const c = loadConfig(
      env({ REDIS_URL: 'rediss://user:p%40ss@ignored:1', REDIS_CLUSTER_NODES: 'a:7000,b:7001' }),
    );
    const cluster = createRedisClient(redisTargetOf(c), { lazyConnect: true });
    try {
      expect(cluster).toBeInstanceOf(Cluster);
      const o = (cluster as Cluster).options;
      expect(o.redisOptions).toMatchObject({ username: 'user', password: 'p@ss', tls: {} });
      expect(o.lazyConnect).toBe(true);
      expect(o.maxRedirections).toBeGreaterThanOrEqual(300);
    } finally {
      cluster.disconnect();
    }
    const single = createRedisClient(redisTargetOf(loadConfig(env({}))), { lazyConnect: true });
    expect(single).toBeInstanceOf(Redis);
    single.disconnect();
  });
});
