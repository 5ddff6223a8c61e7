/**
 * A resource alarm on RabbitMQ (a private node's memory watermark set below its use) in the
 * middle of a stream: a fifth of it applied before, the rest after. RabbitMQ blocks the
 * connections that publish: the worker's publishing connection is blocked (logged, and
 * `inventory_broker_blocked` says so), its consuming one is not (it never publishes, so RabbitMQ
 * keeps reading its acks). Once the alarm clears, the stream finishes: nothing lost, nothing
 * doubled.
 */
import { afterAll, expect, it } from 'vitest';
import { report, size, sleep, World, type ScenarioResult } from './support/harness.js';
import { checkInvariants } from './support/invariants.js';
import { Oracle } from './support/oracle.js';
import { freePort, PrivateRabbit } from './support/private.js';
import { mixedSetup, mixedStream, toMessage } from './support/stream.js';

const EVENTS = size(4_000, 20_000);
const ALARM_MS = 10_000;
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 1e6));

let rabbit: PrivateRabbit | undefined;
let world: World | undefined;
afterAll(async () => {
  await world?.close();
  await rabbit?.close();
});

/** `inventory_broker_blocked` by connection, from the worker's /metrics. */
async function blockedGauge(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^inventory_broker_blocked\{connection="(\w+)"\} (\d+)$/gm))
    out[m[1]!] = Number(m[2]);
  return out;
}

/** The state RabbitMQ gives each of the worker's connections (running, blocking, blocked). */
async function connectionStates(r: PrivateRabbit): Promise<Record<string, string>> {
  const { stdout } = await r.ctl('-q', 'list_connections', 'client_properties', 'state');
  const out: Record<string, string> = {};
  for (const line of stdout.trim().split('\n')) {
    const name = /inventory-worker (consumer|publisher)/.exec(line)?.[1];
    const state = line.trim().split(/\s+/).at(-1);
    if (name && state) out[name] = state;
  }
  return out;
}

it(`RabbitMQ raises a memory alarm for 10 s in a ${EVENTS}-event stream (seed ${SEED})`, async () => {
  rabbit = await PrivateRabbit.start();
  const port = await freePort();
  world = await World.create('alarm', { amqpUrl: rabbit.url, env: { HTTP_PORT: String(port) } });
  const w = world;
  const r = rabbit;
  const options = { tenants: ['a1'], events: EVENTS, seed: SEED };
  const setup = mixedSetup(options).map(toMessage);
  const stream = [...mixedStream(options)];
  const oracle = new Oracle().applyAll([...setup, ...stream]);
  // The first fifth is applied before the alarm, the rest queued while the worker is stopped,
  // and the worker started again once the alarm is in effect: `rabbitmqctl` takes a second or
  // two, in which a fast worker could otherwise finish the stream and publish nothing to block.
  const fifth = Math.floor(stream.length * 0.2);
  const before = stream.slice(0, fifth);
  const worker = await w.queueBehindSetup(setup, before);

  await worker.start();
  await w.drained(new Oracle().applyAll([...setup, ...before]).validCount, 0, 120_000);
  expect(await blockedGauge(port)).toEqual({ consumer: 0, publisher: 0 });
  await worker.stop();
  await w.publish(stream.slice(fifth));
  await r.ctl('-q', 'set_vm_memory_high_watermark', 'absolute', '1');
  await worker.start();
  let states: Record<string, string> = {};
  let gauge: Record<string, number> = {};
  for (const end = Date.now() + ALARM_MS; Date.now() < end;) {
    await sleep(500);
    states = await connectionStates(r);
    gauge = await blockedGauge(port);
  }
  // seen at the end of the alarm: the publishing connection blocked; the consuming one never
  // published, so RabbitMQ still reads it ("blocking": it would be blocked if it published)
  expect(states.publisher).toBe('blocked');
  expect(['running', 'blocking']).toContain(states.consumer);
  console.log(`alarm: connection states ${JSON.stringify(states)}, gauge ${JSON.stringify(gauge)}`);
  expect(gauge.publisher).toBe(1);
  expect(worker.log.join('\n')).toMatch(/broker blocked this connection/);

  await r.ctl('-q', 'set_vm_memory_high_watermark', '0.4');
  const back = Date.now();
  await w.drained(oracle.validCount, 0, 600_000);
  const drainSeconds = (Date.now() - back) / 1000;
  expect(await blockedGauge(port)).toEqual({ consumer: 0, publisher: 0 });
  await worker.stop();
  expect(worker.unexpectedExits).toBe(0);

  const result: ScenarioResult = {
    scenario: '9 RabbitMQ memory alarm 10 s',
    events: stream.length,
    lost: 0,
    doubled: 0,
    oversold: 0,
    drainSeconds,
    note: 'publishing connection blocked; the consuming one never was',
  };
  try {
    await checkInvariants(w, oracle, { onFindings: (f) => Object.assign(result, f) });
  } finally {
    report(result);
  }
});
