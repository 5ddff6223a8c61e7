/**
 * The pipe ceiling's consumer (a child process of the bench): the worker's queue and topology
 * (quorum, same prefetch), and a consumer that does nothing but acknowledge, batched by the
 * worker's own Acker. Env: AMQP_URL, PREFETCH.
 */
import amqp from 'amqplib';
import { consumers } from '../../../consumers/index.js';
import { Acker } from '../../../src/broker/acker.js';
import { declareTopology, MAIN_QUEUE } from '../../../src/broker/topology.js';
import { ProgressReporter } from './report.js';

const report = new ProgressReporter();
const conn = await amqp.connect(process.env.AMQP_URL!);
const setup = await conn.createChannel();
await declareTopology(setup, {
  queueType: 'quorum',
  types: [...consumers.keys()],
  deliveryLimit: 50,
});
const ch = await conn.createChannel();
await ch.prefetch(Number(process.env.PREFETCH ?? 1000));
const acker = new Acker(ch);
await ch.consume(MAIN_QUEUE, (msg) => {
  if (!msg) return;
  acker.track(msg);
  acker.done(msg);
  report.finish(msg.properties.messageId as string | undefined);
});
report.send({ kind: 'ready' });
process.on('SIGTERM', () => {
  report.stop();
  acker.flush();
  void conn.close().finally(() => process.exit(0));
});
