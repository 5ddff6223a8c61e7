import { loadConfig, type Config } from '../../src/config.js';
import type { DestinationStream } from 'pino';
import { createLogger } from '../../src/logger.js';
import { startWorker, type Worker, type WorkerOptions } from '../../src/worker.js';
import {
  createTestDatabase,
  dropRedisPrefix,
  dropTestDatabase,
  testRedis,
  uniqueName,
} from './isolation.js';
import { createTestVhost, deleteTestVhost } from './rabbit.js';

export interface TestWorker {
  worker: Worker;
  config: Config;
  amqpUrl: string;
  vhost: string;
  /** stops the worker (idempotent) */
  stop(): Promise<void>;
  /** starts a fresh worker process-equivalent on the same resources */
  restart(): Promise<Worker>;
  /** stops and removes every resource */
  cleanup(): Promise<void>;
}

/** How a test worker runs, besides its environment. */
export interface TestWorkerOptions extends WorkerOptions {
  /** where its log lines go (the level is LOG_LEVEL's) */
  logDestination?: DestinationStream;
}

/** A worker on its own vhost, database and Redis prefix. */
export async function startTestWorker(
  label: string,
  overrides: Partial<Record<string, string>> = {},
  options: TestWorkerOptions = {},
): Promise<TestWorker> {
  const { vhost, url } = await createTestVhost(label);
  const mysqlUrl = await createTestDatabase(label);
  const prefix = uniqueName(label);
  const config = loadConfig({
    ...process.env,
    AMQP_URL: url,
    MYSQL_URL: mysqlUrl,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PREFETCH: '200',
    // no HTTP endpoint unless a test asks: parallel workers would all want port 9464
    HTTP_PORT: '0',
    ...overrides,
  });
  const logger = createLogger(config.LOG_LEVEL, label, options.logDestination);
  let worker = await startWorker(config, logger, options);
  const t: TestWorker = {
    get worker() {
      return worker;
    },
    config,
    amqpUrl: url,
    vhost,
    stop: async () => {
      await worker.close();
    },
    async restart() {
      await worker.close();
      worker = await startWorker(config, logger, options);
      return worker;
    },
    async cleanup() {
      await worker.close();
      const redis = testRedis();
      await dropRedisPrefix(redis, prefix);
      await redis.quit();
      await dropTestDatabase(mysqlUrl);
      await deleteTestVhost(vhost);
    },
  };
  return t;
}

/** Polls until `check` returns true (or throws after `timeoutMs`). */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
