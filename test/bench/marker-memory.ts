/**
 * Redis memory per de-duplication marker: writes N markers as the scripts do (the marker key of
 * src/engine/keys.ts, an outbox entry id as its value, `SET … EX` DEDUP_TTL_SECONDS' default),
 * reads `used_memory` before and after, prints bytes per marker, and deletes them.
 *
 *   REDIS_URL=redis://127.0.0.1:6391 npx tsx test/bench/marker-memory.ts [markers (100000)]
 *
 * Use a Redis of its own (`redis-server --port 6391 --save ''`): used_memory is server-wide.
 */
import { randomUUID } from 'node:crypto';
import { TenantKeys } from '../../src/engine/keys.js';
import { dropRedisPrefix, testRedis, uniqueName } from '../support/isolation.js';

const N = Number(process.argv[2] ?? 100_000);
const TTL_SECONDS = 30 * 24 * 3600;
const BATCH = 1_000;

const redis = testRedis();
const prefix = uniqueName('markers');
const keys = new TenantKeys(prefix, 'tenant-0001');

const usedMemory = async (): Promise<number> =>
  Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);

try {
  const before = await usedMemory();
  const at = Date.now();
  for (let i = 0; i < N; i += BATCH) {
    const pipe = redis.pipeline();
    for (let j = i; j < Math.min(N, i + BATCH); j++)
      pipe.set(keys.marker('/shop/checkout', randomUUID()), `${at + j}-0`, 'EX', TTL_SECONDS);
    await pipe.exec();
  }
  const after = await usedMemory();
  const example = keys.marker('/shop/checkout', randomUUID());
  console.log(
    `${N.toLocaleString('en-US')} markers (keys of ${example.length} bytes, e.g. ${JSON.stringify(example)}): ` +
      `used_memory +${((after - before) / 1e6).toFixed(1)} MB, ${Math.round((after - before) / N)} bytes per marker`,
  );
} finally {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
}
