/**
 * THE COMPARISON (a child process of the bench): the row-locking baseline consuming from the
 * same broker as the worker: the worker's topology (quorum queue), the same prefetch, the
 * same decoding (zod), the same per-cart / per-order ordering and batched acks, each
 * delivery acknowledged only after its transaction committed. What differs is the one
 * thing under test: stock moves in one MySQL transaction per event, with row locks
 * (row-locking.ts), instead of Redis Lua + group-committed ledger.
 *
 * Env: AMQP_URL, MYSQL_URL (database created here), PREFETCH, BASELINE_POOL (connections).
 */
import amqp from 'amqplib';
import { createConnection, createPool } from 'mysql2/promise';
import { consumers } from '../../../consumers/index.js';
import { Acker } from '../../../src/broker/acker.js';
import { decode } from '../../../src/broker/decode.js';
import { KeyedSerializer } from '../../../src/broker/keyed-serializer.js';
import { declareTopology, MAIN_QUEUE } from '../../../src/broker/topology.js';
import { parseMysqlUrl } from '../../../src/ledger/db.js';
import { toError } from '../../../src/errors/to-error.js';
import { ProgressReporter } from '../e2e/report.js';
import { applyRowLocking, BASELINE_DDL } from './row-locking.js';

const report = new ProgressReporter();
const { database, ...server } = parseMysqlUrl(process.env.MYSQL_URL!);
const admin = await createConnection(server);
await admin.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
await admin.changeUser({ database });
for (const ddl of BASELINE_DDL) await admin.query(ddl);
await admin.end();

const pool = createPool({
  ...server,
  database,
  connectionLimit: Number(process.env.BASELINE_POOL ?? 16),
  // every delivery past the pool's connections waits for one, as the worker's window waits
  queueLimit: 0,
});
const conn = await amqp.connect(process.env.AMQP_URL!);
const setup = await conn.createChannel();
const types = [...consumers.keys()];
await declareTopology(setup, { queueType: 'quorum', types, deliveryLimit: 50 });
const ch = await conn.createChannel();
await ch.prefetch(Number(process.env.PREFETCH ?? 1000));
const acker = new Acker(ch);
const serializer = new KeyedSerializer();
const decodeOptions = { maxBytes: 256 * 1024, cartTtlMs: () => 3_600_000 };

await ch.consume(MAIN_QUEUE, (msg) => {
  if (!msg) return;
  acker.track(msg);
  let event;
  try {
    event = decode(msg, decodeOptions);
  } catch (e) {
    report.send({ kind: 'error', message: `undecodable delivery: ${toError(e).message}` });
    acker.done(msg);
    return;
  }
  const { meta, command } = event;
  serializer
    .run(event.orderingKeys, () => applyRowLocking(pool, meta, command))
    .then(
      () => {
        acker.done(msg);
        report.finish(meta.id);
      },
      (e: unknown) => {
        report.send({ kind: 'error', message: `${meta.id}: ${toError(e).message}` });
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
    .then(() => pool.end())
    .finally(() => process.exit(0));
});
