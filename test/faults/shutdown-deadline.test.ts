/**
 * Stopping while MySQL is down. The shutdown has a total deadline (SHUTDOWN_TIMEOUT_MS) that
 * holds although nothing in flight can be made durable: the worker exits 75 ("did not drain")
 * instead of hanging until the orchestrator kills it. Then the orchestrator's way (`docker
 * stop`: SIGTERM, SIGKILL after a grace period shorter than the deadline), MySQL down again.
 * Whatever was not acknowledged comes back to the next worker: nothing lost, nothing doubled.
 */
import { afterAll, expect, it } from 'vitest';
import { report, size, World, type ScenarioResult } from './support/harness.js';
import { checkInvariants } from './support/invariants.js';
import { Oracle } from './support/oracle.js';
import { PrivateMariaDb } from './support/private.js';
import { mixedSetup, mixedStream, toMessage } from './support/stream.js';

const EVENTS = size(4_000, 20_000);
const DEADLINE_MS = 5_000;
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 1e6));

let mysql: PrivateMariaDb | undefined;
let world: World | undefined;
afterAll(async () => {
  await world?.close();
  await mysql?.close();
});

it(`SIGTERM with MySQL down, then SIGTERM + SIGKILL, in a ${EVENTS}-event stream (seed ${SEED})`, async () => {
  mysql = await PrivateMariaDb.start();
  world = await World.create('shutdown', {
    mysqlServer: mysql.server,
    env: { SHUTDOWN_TIMEOUT_MS: String(DEADLINE_MS) },
  });
  const w = world;
  const options = { tenants: ['s1'], events: EVENTS, seed: SEED };
  const setup = mixedSetup(options).map(toMessage);
  const stream = [...mixedStream(options)];
  const oracle = new Oracle().applyAll([...setup, ...stream]);
  const first = await w.queueBehindSetup(setup, stream);

  // 1. SIGTERM while MySQL is down: the deadline holds, the exit says it did not drain
  await first.start();
  await w.reach(setup.length + Math.floor(stream.length * 0.2));
  await mysql.stop();
  const asked = Date.now();
  await first.stop();
  const stopSeconds = (Date.now() - asked) / 1000;
  expect(first.exits.at(-1)).toEqual({ code: 75, signal: null });
  // it waited for the deadline, no more than a few seconds past it (not for MySQL)
  expect(stopSeconds).toBeLessThan(DEADLINE_MS / 1000 + 20);

  // 2. MySQL back, a worker runs, MySQL down again, `docker stop` with a 1 s grace
  await mysql.start();
  const [second] = await w.startWorkers(1);
  await w.reach(setup.length + Math.floor(stream.length * 0.5));
  await mysql.stop();
  await second!.terminate(1_000);
  expect(second!.exits.at(-1)).toEqual({ code: null, signal: 'SIGKILL' });

  // 3. MySQL back: the next worker finishes the stream
  await mysql.start();
  const [third] = await w.startWorkers(1);
  const started = Date.now();
  await w.drained(oracle.validCount, 0, 600_000);
  const drainSeconds = (Date.now() - started) / 1000;
  await third!.stop();
  expect(third!.exits.at(-1)).toEqual({ code: 0, signal: null });

  const result: ScenarioResult = {
    scenario: '8 stopped with MySQL down (SIGTERM; SIGTERM+SIGKILL)',
    events: stream.length,
    lost: 0,
    doubled: 0,
    oversold: 0,
    drainSeconds,
    note: `SIGTERM with MySQL down: exit 75 after ${stopSeconds.toFixed(1)} s (deadline ${DEADLINE_MS / 1000} s)`,
  };
  try {
    await checkInvariants(w, oracle, { onFindings: (f) => Object.assign(result, f) });
  } finally {
    report(result);
  }
});
