/**
 * Scenario 2: the worker is killed with SIGKILL at a random point of a mixed stream (with 1%
 * poison), then started again. Nothing is lost or applied twice, every poison message is
 * dead-lettered with its reason, and the final figures are those of the pure domain model
 * applied to the stream.
 */
import { afterAll, expect, it } from 'vitest';
import { report, size, World, type ScenarioResult } from './support/harness.js';
import { checkInvariants } from './support/invariants.js';
import { Oracle } from './support/oracle.js';
import { mixedSetup, mixedStream, toMessage } from './support/stream.js';

const EVENTS = size(5_000, 20_000);
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 1e6));

let world: World | undefined;
afterAll(async () => {
  await world?.close();
});

it(`kill -9 in a ${EVENTS}-event stream, restart: the domain model's figures (seed ${SEED})`, async () => {
  world = await World.create('kill9');
  const w = world;
  const options = { tenants: ['k1', 'k2'], events: EVENTS, seed: SEED, poisonRate: 0.01 };
  const setup = mixedSetup(options).map(toMessage);
  const stream = [...mixedStream(options)];
  const oracle = new Oracle().applyAll([...setup, ...stream]);

  // the worker declares the queues, the stock arrives, then the whole stream waits in the queue
  const worker = await w.queueBehindSetup(setup, stream);

  const valid = oracle.validCount - setup.length;
  const killAt = setup.length + Math.floor(valid * (0.2 + Math.random() * 0.6));
  const started = Date.now();
  await worker.start();
  await w.reach(killAt);
  await worker.kill();
  const killedAfter = await w.processed();
  await worker.start();
  const drainSeconds = await w.drained(oracle.validCount, oracle.poison.size, 600_000);
  const total = (Date.now() - started) / 1000;
  await worker.stop();

  const result: ScenarioResult = {
    scenario: '2 kill -9 + restart, 1% poison',
    events: stream.length,
    lost: 0,
    doubled: 0,
    oversold: 0,
    drainSeconds: total,
    note: `killed at ${killedAfter - setup.length} events recorded; ${oracle.poison.size} poison; drained ${drainSeconds.toFixed(1)} s after the restart; seed ${SEED}`,
  };
  try {
    const clean = { code: 0, signal: null };
    expect(worker.exits).toEqual([clean, { code: null, signal: 'SIGKILL' }, clean]);
    expect(worker.unexpectedExits).toBe(0);
    await checkInvariants(w, oracle, { onFindings: (f) => Object.assign(result, f) });
  } finally {
    report(result);
  }
});
