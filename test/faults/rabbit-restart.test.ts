/**
 * Scenario 5: RabbitMQ (a private node) is restarted in the middle of a stream. The worker
 * reconnects and finishes: nothing lost, nothing applied twice, and every announcement of an
 * applied event reaches `inventory.events` at least once (publisher confirms: a delivery is
 * acknowledged only after its announcements are confirmed, so an unconfirmed one is redone).
 */
import amqp from 'amqplib';
import { afterAll, expect, it } from 'vitest';
import { INVENTORY_EXCHANGE, MAIN_QUEUE } from '../../src/broker/topology.js';
import { report, size, World, type ScenarioResult } from './support/harness.js';
import { checkInvariants } from './support/invariants.js';
import { Oracle } from './support/oracle.js';
import { PrivateRabbit } from './support/private.js';
import { mixedSetup, mixedStream, toMessage } from './support/stream.js';

const EVENTS = size(4_000, 20_000);
const DOWN_MS = 3_000;
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 1e6));
const ANNOUNCEMENTS = 'faults.announcements';

let rabbit: PrivateRabbit | undefined;
let world: World | undefined;
afterAll(async () => {
  await world?.close();
  await rabbit?.close();
});

it(`RabbitMQ restarted in a ${EVENTS}-event stream (seed ${SEED})`, async () => {
  rabbit = await PrivateRabbit.start();
  world = await World.create('rabbitdown', { amqpUrl: rabbit.url });
  const w = world;
  const options = { tenants: ['q1'], events: EVENTS, seed: SEED };
  const setup = mixedSetup(options).map(toMessage);
  const stream = [...mixedStream(options)];
  const oracle = new Oracle({ announcements: true }).applyAll([...setup, ...stream]);

  // every announcement, kept across the restart (a durable quorum queue, persistent messages)
  const worker = await w.queueBehindSetup(setup, stream, () =>
    withChannel(w.amqpUrl, async (ch) => {
      await ch.assertQueue(ANNOUNCEMENTS, {
        durable: true,
        arguments: { 'x-queue-type': 'quorum' },
      });
      await ch.bindQueue(ANNOUNCEMENTS, INVENTORY_EXCHANGE, '#');
    }),
  );

  const started = Date.now();
  await worker.start();
  await w.reach(setup.length + Math.floor(stream.length * 0.3));
  const atRestart = (await w.processed()) - setup.length;
  await rabbit.restart(DOWN_MS);
  const back = Date.now();
  await w.drained(oracle.validCount, 0, 600_000);
  // drained counts the ready messages only: those the queue still holds for the consumer that
  // died with the restart come back later, so wait for none at all, unacknowledged included
  const drainedAt = Date.now();
  const lagSeconds = (drainedAt - back) / 1000;
  await allSettled(rabbit, w.amqpUrl, 120_000);
  const settleSeconds = (Date.now() - drainedAt) / 1000;
  const total = (Date.now() - started) / 1000;
  await worker.stop();

  const received = new Set<string>();
  let deliveries = 0;
  await withChannel(w.amqpUrl, async (ch) => {
    for (;;) {
      const m = await ch.get(ANNOUNCEMENTS, { noAck: true });
      if (!m) break;
      deliveries++;
      received.add(String(m.properties.messageId));
    }
  });
  const missing = oracle.announcements.filter((id) => !received.has(id));
  const missingByType: Record<string, number> = {};
  for (const id of missing) {
    const type = id.split('#')[1]!.replace(/-\d+-\d+$/, '');
    missingByType[type] = (missingByType[type] ?? 0) + 1;
  }

  const result: ScenarioResult = {
    scenario: '5 RabbitMQ restarted',
    events: stream.length,
    lost: 0,
    doubled: 0,
    oversold: 0,
    drainSeconds: total,
    note: `restarted after ${atRestart} of ${stream.length} events, down ${DOWN_MS / 1000} s; drained ${lagSeconds.toFixed(1)} s after (every message settled ${settleSeconds.toFixed(1)} s after drained); announcements: ${oracle.announcements.length} expected, ${missing.length} missing ${JSON.stringify(missingByType)}, ${deliveries - received.size} repeated`,
  };
  try {
    expect(worker.unexpectedExits).toBe(0);
    expect(missing.slice(0, 10), `${missing.length} announcements never arrived`).toEqual([]);
    await checkInvariants(w, oracle, { onFindings: (f) => Object.assign(result, f) });
  } finally {
    report(result);
  }
});

/**
 * Waits until the main queue holds no message at all (`rabbitmqctl list_queues messages`:
 * ready and unacknowledged, including those still checked out to a consumer gone with the
 * restart, which a quorum queue returns only once it notices), while the worker runs.
 */
async function allSettled(r: PrivateRabbit, amqpUrl: string, timeoutMs: number): Promise<void> {
  const vhost = decodeURIComponent(new URL(amqpUrl).pathname.slice(1)) || '/';
  const end = Date.now() + timeoutMs;
  for (;;) {
    const { stdout } = await r.ctl('-q', 'list_queues', '-p', vhost, 'name', 'messages');
    const row = stdout.split('\n').find((l) => l.split('\t')[0] === MAIN_QUEUE);
    const messages = Number(row?.split('\t')[1]);
    if (messages === 0) return;
    if (Date.now() > end) throw new Error(`${MAIN_QUEUE} still holds ${row ?? '?'} messages`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

async function withChannel(url: string, f: (ch: amqp.Channel) => Promise<void>): Promise<void> {
  const conn = await amqp.connect(url);
  try {
    await f(await conn.createChannel());
  } finally {
    await conn.close();
  }
}
