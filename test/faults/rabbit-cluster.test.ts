/**
 * Scenario 10: a RabbitMQ cluster of three nodes on loopback; the worker's `AMQP_URL` names all
 * three. In the middle of a stream, the node both of the worker's connections are on stops for
 * good. The worker moves on to the next node, its quorum queues elect leaders on the two nodes
 * left, and the stream finishes: nothing lost, nothing applied twice, every announcement of an
 * applied event arrives.
 */
import amqp from 'amqplib';
import { afterAll, expect, it } from 'vitest';
import { INVENTORY_EXCHANGE, MAIN_QUEUE } from '../../src/broker/topology.js';
import { report, size, World, type ScenarioResult } from './support/harness.js';
import { checkInvariants } from './support/invariants.js';
import { Oracle } from './support/oracle.js';
import { PrivateRabbit } from './support/private.js';
import { mixedSetup, mixedStream, toMessage } from './support/stream.js';

const EVENTS = size(10_000, 40_000);
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 1e6));
const ANNOUNCEMENTS = 'faults.announcements';

let nodes: PrivateRabbit[] = [];
let world: World | undefined;
afterAll(async () => {
  await world?.close();
  await Promise.all(nodes.map((n) => n.close()));
});

it(`the RabbitMQ node the worker is on stops, in a 3-node cluster, in a ${EVENTS}-event stream (seed ${SEED})`, async () => {
  const clusterStarted = Date.now();
  nodes = await PrivateRabbit.cluster(3);
  const clusterSeconds = (Date.now() - clusterStarted) / 1000;
  const [first, second, third] = nodes as [PrivateRabbit, PrivateRabbit, PrivateRabbit];
  expect((await third.runningNodes()).sort()).toEqual(nodes.map((n) => n.node).sort());

  // the worker: every node, the first one first; the test itself talks to the third
  const amqpUrl = `${first.url},127.0.0.1:${second.port},127.0.0.1:${third.port}`;
  world = await World.create('cluster', { amqpUrl: third.url, env: { AMQP_URL: amqpUrl } });
  const w = world;
  const options = { tenants: ['c1', 'c2'], events: EVENTS, seed: SEED };
  const setup = mixedSetup(options).map(toMessage);
  const stream = [...mixedStream(options)];
  const oracle = new Oracle({ announcements: true }).applyAll([...setup, ...stream]);

  const worker = await w.queueBehindSetup(setup, stream, () =>
    withChannel(third.url, async (ch) => {
      await ch.assertQueue(ANNOUNCEMENTS, {
        durable: true,
        arguments: { 'x-queue-type': 'quorum' },
      });
      await ch.bindQueue(ANNOUNCEMENTS, INVENTORY_EXCHANGE, '#');
    }),
  );
  // the queues have a member on every node
  const { stdout } = await third.ctl('-q', 'list_queues', 'name', 'members', '--formatter', 'json');
  const main = (JSON.parse(stdout) as { name: string; members: string[] }[]).find(
    (q) => q.name === MAIN_QUEUE,
  );
  expect(main?.members.sort()).toEqual(nodes.map((n) => n.node).sort());

  const started = Date.now();
  await worker.start();
  expect(await workerConnections(third)).toEqual({
    consumer: first.port,
    publisher: first.port,
  });
  await w.reach(setup.length + Math.floor(stream.length * 0.3));
  const atStop = (await w.processed()) - setup.length;
  const stopped = Date.now();
  await first.stopNode();
  const stopSeconds = (Date.now() - stopped) / 1000;
  await w.drained(oracle.validCount, 0, 600_000);
  const afterStop = (Date.now() - stopped) / 1000;
  const total = (Date.now() - started) / 1000;
  // both connections went on to the next node
  expect(await workerConnections(third)).toEqual({
    consumer: second.port,
    publisher: second.port,
  });
  await worker.stop();

  const received = new Set<string>();
  let deliveries = 0;
  await withChannel(third.url, async (ch) => {
    for (;;) {
      const m = await ch.get(ANNOUNCEMENTS, { noAck: true });
      if (!m) break;
      deliveries++;
      received.add(String(m.properties.messageId));
    }
  });
  const missing = oracle.announcements.filter((id) => !received.has(id));

  const result: ScenarioResult = {
    scenario: '10 RabbitMQ cluster: a node stops',
    events: stream.length,
    lost: 0,
    doubled: 0,
    oversold: 0,
    drainSeconds: total,
    note: `3 nodes up and clustered in ${clusterSeconds.toFixed(0)} s; the worker's node stopped after ${atStop} of ${stream.length} events (stopping took ${stopSeconds.toFixed(1)} s); drained ${afterStop.toFixed(1)} s after the stop began; announcements: ${oracle.announcements.length} expected, ${missing.length} missing, ${deliveries - received.size} repeated`,
  };
  try {
    expect(worker.unexpectedExits).toBe(0);
    expect(missing.slice(0, 10), `${missing.length} announcements never arrived`).toEqual([]);
    await checkInvariants(w, oracle, { onFindings: (f) => Object.assign(result, f) });
  } finally {
    report(result);
  }
});

/** The port (so the node) each of the worker's connections is on, as the cluster lists them. */
async function workerConnections(node: PrivateRabbit): Promise<Record<string, number>> {
  const { stdout } = await node.ctl(
    '-q',
    'list_connections',
    'port',
    'client_properties',
    '--formatter',
    'json',
  );
  const out: Record<string, number> = {};
  for (const c of JSON.parse(stdout) as { port: number; client_properties: unknown }[]) {
    const role = /inventory-worker (consumer|publisher)/.exec(
      JSON.stringify(c.client_properties),
    )?.[1];
    if (role) out[role] = c.port;
  }
  return out;
}

async function withChannel(url: string, f: (ch: amqp.Channel) => Promise<void>): Promise<void> {
  const conn = await amqp.connect(url);
  try {
    await f(await conn.createChannel());
  } finally {
    await conn.close();
  }
}
