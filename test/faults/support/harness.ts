/**
 * One fault scenario's world: a vhost, a database and a Redis key prefix of its own (on the
 * shared services, or on private instances the scenario may stop), worker processes on them,
 * a fast publisher, and readers that look at the result only from outside.
 */
import { once } from 'node:events';
import { appendFileSync } from 'node:fs';
import amqp, { type GetMessage } from 'amqplib';
import type { RedisOptions } from 'ioredis';
import type { Knex } from 'knex';
import { DLQ, MAIN_QUEUE, RETRY_DELAYS_MS, retryQueueName } from '../../../src/broker/topology.js';
import { createKnex, migrate } from '../../../src/ledger/db.js';
import {
  createRedisClient,
  type RedisClient,
  type RedisTarget,
} from '../../../src/engine/redis-client.js';
import {
  dropRedisPrefix,
  TEST_MYSQL_SERVER,
  TEST_REDIS_URL,
  uniqueName,
} from '../../support/isolation.js';
import { createTestVhost, deleteTestVhost, takeDeadLetters } from '../../support/rabbit.js';
import type { Message } from './stream.js';
import { WorkerProcess } from './worker-process.js';

/** `FAULTS_SCALE=full` runs the full sizes; the default is the bounded CI subset. */
export const FULL = process.env.FAULTS_SCALE === 'full';
export const size = (ci: number, full: number): number => (FULL ? full : ci);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface WorldOptions {
  /** a private RabbitMQ URL (its default vhost is used); else a vhost on the shared broker */
  amqpUrl?: string;
  /** a private MySQL server URL (no database); else the shared server */
  mysqlServer?: string;
  /** a private Redis URL; else the shared Redis */
  redisUrl?: string;
  /** a Redis Cluster's seeds, `host:port` (with `redisUrl` for its scheme and password) */
  redisClusterNodes?: string[];
  /** extra worker environment */
  env?: Record<string, string>;
}

export class World {
  readonly workers: WorkerProcess[] = [];
  private knexClient: Knex | undefined;
  private constructor(
    readonly label: string,
    readonly amqpUrl: string,
    readonly mysqlUrl: string,
    readonly redisUrl: string,
    readonly prefix: string,
    private readonly vhost: string | undefined,
    private readonly env: Record<string, string>,
    readonly redisClusterNodes: string[] = [],
  ) {}

  /** The world's Redis, as the worker sees it (a cluster when it has seeds). */
  get redisTarget(): RedisTarget {
    return { url: this.redisUrl, clusterNodes: this.redisClusterNodes };
  }

  /** A client of the world's Redis (single or cluster), for readers of the result. */
  redis(options: RedisOptions = { maxRetriesPerRequest: 3 }): RedisClient {
    return createRedisClient(this.redisTarget, options);
  }

  static async create(label: string, o: WorldOptions = {}): Promise<World> {
    let vhost: string | undefined;
    let amqpUrl = o.amqpUrl;
    if (!amqpUrl) {
      const v = await createTestVhost(label);
      vhost = v.vhost;
      amqpUrl = v.url;
    }
    const mysqlUrl = `${o.mysqlServer ?? TEST_MYSQL_SERVER}/${uniqueName(label)}`;
    await migrate(mysqlUrl);
    return new World(
      label,
      amqpUrl,
      mysqlUrl,
      o.redisUrl ?? TEST_REDIS_URL,
      uniqueName(label),
      vhost,
      o.env ?? {},
      o.redisClusterNodes ?? [],
    );
  }

  /** The vhost of this world on the shared broker (undefined on a private broker). */
  get vhostName(): string | undefined {
    return this.vhost;
  }

  /** The worker's environment: every address and the isolation, nothing else inherited. */
  workerEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      AMQP_URL: this.amqpUrl,
      MYSQL_URL: this.mysqlUrl,
      REDIS_URL: this.redisUrl,
      REDIS_PREFIX: this.prefix,
      ...(this.redisClusterNodes.length > 0
        ? { REDIS_CLUSTER_NODES: this.redisClusterNodes.join(',') }
        : {}),
      PREFETCH: '500',
      CART_TTL_SECONDS: '3600',
      ...this.env,
      ...extra,
    };
  }

  /** Starts `n` worker processes on the world (they compete on one queue). */
  async startWorkers(
    n = 1,
    extra: Record<string, string> = {},
    nodeArgs: string[] = [],
  ): Promise<WorkerProcess[]> {
    const started: WorkerProcess[] = [];
    for (let i = 0; i < n; i++) {
      const w = new WorkerProcess(
        `${this.label}-w${this.workers.length + 1}`,
        this.workerEnv(extra),
        nodeArgs,
      );
      this.workers.push(w);
      started.push(w);
    }
    await Promise.all(started.map((w) => w.start()));
    return started;
  }

  /**
   * One worker declares the topology (then `declared` runs, e.g. to bind a queue to the
   * worker's exchange) and applies `setup`; it stops, and `stream` waits in the queue for the
   * scenario. Returns the stopped worker.
   */
  async queueBehindSetup(
    setup: Message[],
    stream: Iterable<Message>,
    declared?: () => Promise<void>,
  ): Promise<WorkerProcess> {
    const [worker] = await this.startWorkers(1);
    await declared?.();
    await this.publish(setup);
    await this.drained(setup.length, 0, 120_000);
    await worker!.stop();
    await this.publish(stream);
    return worker!;
  }

  /** Graceful stop of every running worker. */
  async stopWorkers(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }

  /** The last log lines of every worker (to explain a failure). */
  logs(n = 30): string {
    return this.workers.map((w) => w.tail(n)).join('\n');
  }

  get knex(): Knex {
    this.knexClient ??= createKnex(this.mysqlUrl, { max: 2 });
    return this.knexClient;
  }

  /** Publishes with publisher confirms, as fast as the channel's flow control allows. */
  async publish(messages: Iterable<Message>): Promise<number> {
    const conn = await amqp.connect(this.amqpUrl);
    let n = 0;
    try {
      const ch = await conn.createConfirmChannel();
      for (const m of messages) {
        const ok = ch.publish(m.exchange, m.routingKey, m.body, {
          persistent: true,
          contentType: 'application/cloudevents+json',
          messageId: m.messageId,
        });
        if (!ok) await once(ch, 'drain');
        if (++n % 5000 === 0) await ch.waitForConfirms();
      }
      await ch.waitForConfirms();
    } finally {
      await conn.close();
    }
    return n;
  }

  /** Rows in processed_events (every valid event is recorded there once, whatever its result). */
  async processed(): Promise<number> {
    const rows = (await this.knex('processed_events').count({ n: '*' })) as { n: number }[];
    return Number(rows[0]!.n);
  }

  /** Ready messages of the worker's queue, the retry tiers and the DLQ. */
  async queues(): Promise<{ main: number; retry: number; dlq: number }> {
    const conn = await amqp.connect(this.amqpUrl);
    try {
      const ch = await conn.createChannel();
      const main = (await ch.checkQueue(MAIN_QUEUE)).messageCount;
      const dlq = (await ch.checkQueue(DLQ)).messageCount;
      let retry = 0;
      for (const d of RETRY_DELAYS_MS)
        retry += (await ch.checkQueue(retryQueueName(d))).messageCount;
      return { main, retry, dlq };
    } finally {
      await conn.close();
    }
  }

  /**
   * Waits until `processed` events are recorded and `dlq` dead letters are queued, with the
   * queues empty; returns the seconds it took. Errors while a service is down are waited out.
   */
  async drained(processed: number, dlq: number, timeoutMs: number): Promise<number> {
    const started = Date.now();
    for (;;) {
      const ok = await (async () => {
        if ((await this.processed()) < processed) return false;
        const q = await this.queues();
        return q.main === 0 && q.retry === 0 && q.dlq >= dlq;
      })().catch(() => false);
      if (ok) return (Date.now() - started) / 1000;
      if (Date.now() - started > timeoutMs) {
        const p = await this.processed().catch((e: unknown) => String(e));
        const q = await this.queues().catch((e: unknown) => String(e));
        throw new Error(
          `not drained after ${timeoutMs} ms: processed ${p}/${processed}, queues ${JSON.stringify(q)}\n${this.logs()}`,
        );
      }
      await sleep(250);
    }
  }

  /** Polls until `processed` reaches `n` (to strike in the middle of a stream). */
  async reach(n: number, timeoutMs = 300_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while ((await this.processed().catch(() => 0)) < n) {
      if (Date.now() > end) throw new Error(`processed never reached ${n}\n${this.logs()}`);
      await sleep(100);
    }
  }

  /** Removes and returns every dead letter. */
  takeDeadLetters(): Promise<GetMessage[]> {
    return takeDeadLetters(this.amqpUrl);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.kill()));
    await this.knex
      .raw(`DROP DATABASE IF EXISTS \`${this.mysqlUrl.split('/').pop()}\``)
      .catch(() => undefined);
    await this.knexClient?.destroy().catch(() => undefined);
    const redis = this.redis({ maxRetriesPerRequest: 1, lazyConnect: true });
    await redis
      .connect()
      .then(async () => {
        await dropRedisPrefix(redis, this.prefix);
        await dropRedisPrefix(redis, `{${this.prefix}.jobs}`);
      })
      .catch(() => undefined);
    redis.disconnect();
    if (this.vhost) await deleteTestVhost(this.vhost);
  }
}

/** One line of the results table in docs/testing.md, "Measured results". */
export interface ScenarioResult {
  scenario: string;
  events: number;
  lost: number;
  doubled: number;
  oversold: number;
  drainSeconds: number;
  note?: string;
}

/** Appends a result to `FAULTS_REPORT` (a JSON-lines file), when set, and prints it. */
export function report(r: ScenarioResult): void {
  console.log(`fault result: ${JSON.stringify(r)}`);
  if (process.env.FAULTS_REPORT)
    appendFileSync(process.env.FAULTS_REPORT, `${JSON.stringify(r)}\n`);
}
