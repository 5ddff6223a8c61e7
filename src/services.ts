import type { Config } from './config.js';
import { Engine } from './engine/engine.js';
import { createRedisClient, redisTargetOf, type RedisClient } from './engine/redis-client.js';
import { createKnex, migrate, type Knex } from './ledger/db.js';
import { TenantLoader } from './ledger/load-tenant.js';
import { LedgerWriter } from './ledger/writer.js';
import type { Logger } from './logger.js';
import { errorText } from './secrets.js';

/** The engine and the ledger wired together: what the worker and the CLI both need. */
export interface Services {
  redis: RedisClient;
  knex: Knex;
  engine: Engine;
  writer: LedgerWriter;
  loader: TenantLoader;
  close(): Promise<void>;
}

export async function openServices(config: Config, logger: Logger): Promise<Services> {
  await migrate(config.MYSQL_URL, config.tls.mysql);
  // Commands wait (in order) while Redis reconnects instead of failing: a brief Redis outage
  // pauses consumption rather than sending valid events to retry queues.
  const redis = createRedisClient(redisTargetOf(config), {
    maxRetriesPerRequest: null,
    lazyConnect: false,
  });
  redis.on('error', (err: Error) => logger.warn({ err: errorText(err) }, 'redis error'));
  const knex = createKnex(config.MYSQL_URL, {
    max: 8,
    tls: config.tls.mysql,
    statementTimeoutMs: config.MYSQL_STATEMENT_TIMEOUT_MS,
  });
  // The ledger writer's own pool, the only one that sends several statements in one query
  // (createKnex's multipleStatements): one connection per commit in flight, and one spare.
  const ledgerKnex = createKnex(config.MYSQL_URL, {
    max: 3,
    tls: config.tls.mysql,
    statementTimeoutMs: config.MYSQL_STATEMENT_TIMEOUT_MS,
    multipleStatements: true,
  });
  const prefix = config.REDIS_PREFIX;
  const loader = new TenantLoader({
    knex,
    redis,
    prefix,
    dedupTtlSeconds: config.DEDUP_TTL_SECONDS,
    logger,
  });
  const writer = new LedgerWriter({
    knex: ledgerKnex,
    redis,
    prefix,
    logger,
    batchSize: config.LEDGER_BATCH_SIZE,
  });
  const engine = new Engine(redis, {
    maxStockKeys: config.MAX_EVENT_STOCK_KEYS,
    batchEvents: config.SCRIPT_BATCH_EVENTS,
    prefix,
    dedupTtlSeconds: config.DEDUP_TTL_SECONDS,
    ensureTenant: loader.ensureTenant,
    replaceTenant: loader.replaceTenant,
  });
  return {
    redis,
    knex,
    engine,
    writer,
    loader,
    async close() {
      await writer
        .close()
        .catch((e: unknown) => logger.warn({ err: errorText(e) }, 'ledger flush failed'));
      await redis.quit().catch(() => redis.disconnect());
      await ledgerKnex.destroy().catch(() => undefined);
      await knex.destroy().catch(() => undefined);
    },
  };
}
