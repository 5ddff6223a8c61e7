import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { migrate, parseMysqlUrl } from '../../src/ledger/db.js';
import { scanKeys, type RedisClient } from '../../src/engine/redis-client.js';

/** Service addresses for tests; override with the same variables the worker reads. */
export const TEST_MYSQL_SERVER = process.env.MYSQL_URL
  ? process.env.MYSQL_URL.replace(/\/[^/]*$/, '')
  : 'mysql://root@127.0.0.1:3306';
export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const TEST_AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A short random name, unique per test run: database, key prefix and queue names use it. */
export function uniqueName(label: string): string {
  return `t_${label}_${randomBytes(4).toString('hex')}`.slice(0, 48);
}

/** Creates a fresh migrated database (on the shared server unless told); returns its URL. */
export async function createTestDatabase(
  label: string,
  server = TEST_MYSQL_SERVER,
): Promise<string> {
  const url = `${server}/${uniqueName(label)}`;
  await migrate(url);
  return url;
}

export async function dropTestDatabase(url: string): Promise<void> {
  const { database, ...server } = parseMysqlUrl(url);
  const conn = await createConnection(server);
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await conn.end();
  }
}

export function testRedis(): Redis {
  return new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 3 });
}

/** Deletes every Redis key under a prefix (on every master of a cluster). */
export async function dropRedisPrefix(redis: RedisClient, prefix: string): Promise<void> {
  await scanKeys(redis, `${prefix}:*`, 1000, async (keys) => {
    // one key a command: on a cluster the keys of one batch are in many slots
    await Promise.all(keys.map((k) => redis.unlink(k)));
  });
}
