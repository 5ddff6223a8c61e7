/**
 * The skeleton ceiling (a child process of the bench): the least I/O this contract needs per
 * event, on the worker's queue and topology (quorum, same prefetch, acks batched by the worker's
 * Acker). Per event: read its identity from the body → one trivial EVALSHA → its row in a
 * one-table ledger, one multi-row INSERT per window (group commit, as the worker's) → one
 * announcement to inventory.events with publisher confirms → ack once confirmed. No validation,
 * no per-cart ordering, no stock, no outbox: see docs/benchmarks.md.
 *
 * Env: AMQP_URL, MYSQL_URL (the database is created here), REDIS_URL, REDIS_PREFIX, PREFETCH.
 */
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { createConnection, createPool } from 'mysql2/promise';
import { consumers } from '../../../consumers/index.js';
import { Acker } from '../../../src/broker/acker.js';
import { batchFrameWrites } from '../../../src/broker/frame-writes.js';
import { declareTopology, INVENTORY_EXCHANGE, MAIN_QUEUE } from '../../../src/broker/topology.js';
import { parseMysqlUrl } from '../../../src/ledger/db.js';
import { toError } from '../../../src/errors/to-error.js';
import { TEST_REDIS_URL } from '../../support/isolation.js';
import { ProgressReporter } from './report.js';
import { eventRef, GroupCommit, SKELETON_DDL, SKELETON_LUA, type EventRef } from './skeleton.js';

/** As the worker's ledger writer: batches of up to 2,000 events, two transactions in flight. */
const BATCH_SIZE = 2000;
const CONCURRENCY = 2;

const report = new ProgressReporter();
const { database, ...server } = parseMysqlUrl(process.env.MYSQL_URL!);
const admin = await createConnection(server);
await admin.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
await admin.changeUser({ database });
await admin.query(SKELETON_DDL);
await admin.end();
const pool = createPool({ ...server, database, connectionLimit: CONCURRENCY });
const ledger = new GroupCommit<EventRef>(
  async (refs) => {
    await pool.query('INSERT IGNORE INTO sk_ledger (tenant, source, event_id, type) VALUES ?', [
      refs.map((r) => [r.tenant, r.source, r.id, r.type]),
    ]);
  },
  BATCH_SIZE,
  CONCURRENCY,
);

const redis = new Redis(process.env.REDIS_URL ?? TEST_REDIS_URL);
redis.defineCommand('skeleton', { lua: SKELETON_LUA, numberOfKeys: 1 });
const script = (redis as unknown as { skeleton: (key: string) => Promise<unknown> }).skeleton.bind(
  redis,
);
const prefix = process.env.REDIS_PREFIX ?? 'skeleton';

// as the worker: one connection publishes (and declares the topology), one consumes and acks
const pubConn = await amqp.connect(process.env.AMQP_URL!);
// the worker's socket writes: a turn's frames in one write (src/broker/frame-writes.ts)
if (!batchFrameWrites(pubConn)) throw new Error('amqplib: cannot batch frame writes');
const setup = await pubConn.createChannel();
await declareTopology(setup, {
  queueType: 'quorum',
  types: [...consumers.keys()],
  deliveryLimit: 50,
});
const pub = await pubConn.createConfirmChannel();
const announce = (r: EventRef): Promise<void> =>
  new Promise((resolve, reject) => {
    const id = `${r.id}:skeleton`;
    const body = Buffer.from(
      JSON.stringify({
        specversion: '1.0',
        id,
        source: '/inventory-skeleton',
        type: 'inventory.event-processed',
        time: new Date().toISOString(),
        tenant: r.tenant,
        datacontenttype: 'application/json',
        data: { causationId: r.id, causationType: r.type },
      }),
    );
    pub.publish(
      INVENTORY_EXCHANGE,
      'inventory.event-processed',
      body,
      { persistent: true, contentType: 'application/cloudevents+json', messageId: id },
      (err) => (err ? reject(new Error(`announcement of ${r.id} not confirmed`)) : resolve()),
    );
  });

const conn = await amqp.connect(process.env.AMQP_URL!);
if (!batchFrameWrites(conn)) throw new Error('amqplib: cannot batch frame writes');
const ch = await conn.createChannel();
await ch.prefetch(Number(process.env.PREFETCH ?? 1000));
const acker = new Acker(ch);
await ch.consume(MAIN_QUEUE, (msg) => {
  if (!msg) return;
  acker.track(msg);
  let ref: EventRef;
  try {
    ref = eventRef(msg.content);
  } catch (e) {
    report.send({ kind: 'error', message: `undecodable delivery: ${toError(e).message}` });
    acker.done(msg);
    return;
  }
  script(`${prefix}:{${ref.tenant}}:skeleton`)
    .then(() => ledger.add(ref))
    .then(() => announce(ref))
    .then(
      () => acker.done(msg),
      (e: unknown) => {
        report.send({ kind: 'error', message: `${ref.id}: ${toError(e).message}` });
        acker.requeue(msg);
      },
    );
});
report.send({ kind: 'ready' });
process.on('SIGTERM', () => {
  report.stop();
  acker.flush();
  void conn
    .close()
    .then(() => pubConn.close())
    .then(() => Promise.all([pool.end(), redis.quit()]))
    .finally(() => process.exit(0));
});
