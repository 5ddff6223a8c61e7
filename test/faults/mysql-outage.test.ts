/**
 * Scenario 3: MySQL (a private MariaDB) is stopped for 15 s in the middle of a stream, then
 * started again on the same data. The worker keeps running (it never exits, so it cannot
 * crash-loop), pauses, and drains once MySQL is back: nothing lost, no ledger row twice.
 */
import { afterAll, expect, it } from 'vitest';
import { report, size, sleep, World, type ScenarioResult } from './support/harness.js';
import { checkInvariants } from './support/invariants.js';
import { Oracle } from './support/oracle.js';
import { PrivateMariaDb } from './support/private.js';
import { mixedSetup, mixedStream, toMessage } from './support/stream.js';

const EVENTS = size(4_000, 20_000);
const OUTAGE_MS = 15_000;
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 1e6));

let mysql: PrivateMariaDb | undefined;
let world: World | undefined;
afterAll(async () => {
  await world?.close();
  await mysql?.close();
});

it(`MySQL stopped for 15 s in a ${EVENTS}-event stream (seed ${SEED})`, async () => {
  mysql = await PrivateMariaDb.start();
  world = await World.create('mysqldown', { mysqlServer: mysql.server });
  const w = world;
  const options = { tenants: ['m1'], events: EVENTS, seed: SEED };
  const setup = mixedSetup(options).map(toMessage);
  const stream = [...mixedStream(options)];
  const oracle = new Oracle().applyAll([...setup, ...stream]);

  const worker = await w.queueBehindSetup(setup, stream);

  const started = Date.now();
  await worker.start();
  await w.reach(setup.length + Math.floor(stream.length * 0.3));
  const atStop = (await w.processed()) - setup.length;
  await mysql.stop();
  const downAt = await sleepWatching(worker.running ? OUTAGE_MS : 0, () => worker.running);
  await mysql.start();
  const back = Date.now();
  await w.drained(oracle.validCount, 0, 600_000);
  const lagSeconds = (Date.now() - back) / 1000;
  const total = (Date.now() - started) / 1000;
  await worker.stop();

  const result: ScenarioResult = {
    scenario: '3 MySQL stopped 15 s',
    events: stream.length,
    lost: 0,
    doubled: 0,
    oversold: 0,
    drainSeconds: total,
    note: `stopped after ${atStop} of ${stream.length} events; worker alive through the outage: ${downAt.alive}/${downAt.checks} checks; lag drained ${lagSeconds.toFixed(1)} s after MySQL was back`,
  };
  try {
    expect(downAt.alive).toBe(downAt.checks);
    expect(worker.unexpectedExits).toBe(0);
    expect(worker.exits).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
    await checkInvariants(w, oracle, { onFindings: (f) => Object.assign(result, f) });
  } finally {
    report(result);
  }
});

/** Waits `ms`, checking once a second that `alive()` holds. */
async function sleepWatching(ms: number, alive: () => boolean) {
  let checks = 0;
  let ok = 0;
  for (const end = Date.now() + ms; Date.now() < end;) {
    await sleep(1000);
    checks++;
    if (alive()) ok++;
  }
  return { checks, alive: ok };
}
