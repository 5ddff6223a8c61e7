/**
 * Scenario 6: every event of a stream delivered twice (the copy some way behind the original),
 * and orders' events shuffled within the rules of docs/events.md ("Out of order": the result is
 * the in-order result): payment.succeeded with lines, payment.failed or order.cancelled arriving
 * before their order.placed. The worker ends with the figures of the clean, in-order run.
 */
import { afterAll, expect, it } from 'vitest';
import { report, size, World, type ScenarioResult } from './support/harness.js';
import { checkInvariants } from './support/invariants.js';
import { Oracle } from './support/oracle.js';
import {
  mixedSetup,
  mixedStream,
  rng,
  toMessage,
  type Ev,
  type Message,
} from './support/stream.js';

const EVENTS = size(2_000, 20_000);
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 1e6));
const TENANT = 'd1';

let world: World | undefined;
afterAll(async () => {
  await world?.close();
});

/** An order without a cart: its events in order, and shuffled as docs/events.md allows. */
function orderStory(k: number, r: ReturnType<typeof rng>): { clean: Ev[]; shuffled: Ev[] } {
  const orderId = `so-${SEED}-${k}`;
  const ev = (type: string, data: Record<string, unknown>): Ev => ({
    id: `${type}-so-${SEED}-${k}`,
    type,
    tenant: TENANT,
    data,
  });
  const lines = [{ sku: `sku-${r.int(0, 39)}`, quantity: r.int(1, 3), locationId: 'default' }];
  const placed = ev('order.placed', { orderId, lines });
  switch (r.int(0, 2)) {
    case 0: {
      // paid before it is placed: reserved and committed at once; then shipped
      const paid = ev('payment.succeeded', { orderId, paymentId: `p-${k}`, lines });
      const shipped = ev('shipment.created', { shipmentId: `s-${k}`, orderId, lines });
      return { clean: [placed, paid, shipped], shuffled: [paid, placed, shipped] };
    }
    case 1: {
      // payment failed before it is placed: reserved and released at once
      const failed = ev('payment.failed', { orderId, paymentId: `p-${k}` });
      return { clean: [placed, failed], shuffled: [failed, placed] };
    }
    default: {
      // cancelled before it is placed: the order never holds
      const cancelled = ev('order.cancelled', { orderId });
      return { clean: [placed, cancelled], shuffled: [cancelled, placed] };
    }
  }
}

it(`every event twice, orders shuffled within the rules: the clean run's figures (seed ${SEED})`, async () => {
  world = await World.create('dups');
  const w = world;
  const r = rng(SEED);
  const options = { tenants: [TENANT], events: Math.floor(EVENTS * 0.75), seed: SEED };
  const setup = mixedSetup(options).map(toMessage);
  const mixed = [...mixedStream(options)];

  // interleave the mixed stream with order stories, each story's events kept in their order
  const stories = Array.from({ length: Math.floor(EVENTS / 8) }, (_, k) => orderStory(k, r));
  const clean: Message[] = [];
  const shuffled: Message[] = [];
  const queues = stories.map((s) => ({ clean: [...s.clean], shuffled: [...s.shuffled] }));
  let m = 0;
  while (m < mixed.length || queues.some((q) => q.clean.length)) {
    const open = queues.filter((q) => q.clean.length);
    if (m < mixed.length && (open.length === 0 || r.chance(0.75))) {
      clean.push(mixed[m]!);
      shuffled.push(mixed[m++]!);
    } else {
      const q = r.pick(open);
      clean.push(toMessage(q.clean.shift()!));
      shuffled.push(toMessage(q.shuffled.shift()!));
    }
  }
  // every message twice: the copy goes out 1 to 200 messages later
  const delivered: Message[] = [];
  const copies: { at: number; m: Message }[] = [];
  shuffled.forEach((msg, i) => {
    delivered.push(msg);
    copies.push({ at: i + r.int(1, 200), m: msg });
    for (const c of copies.filter((x) => x.at <= i)) delivered.push(c.m);
    copies.splice(0, copies.length, ...copies.filter((x) => x.at > i));
  });
  for (const c of copies) delivered.push(c.m);
  expect(delivered.length).toBe(2 * shuffled.length);

  const oracle = new Oracle().applyAll([...setup, ...clean]);
  // the contract itself: the shuffled, doubled stream has the clean stream's result
  const shuffledModel = new Oracle().applyAll([...setup, ...delivered]);
  expect(shuffledModel.figures(TENANT)).toEqual(oracle.figures(TENANT));

  const worker = await w.queueBehindSetup(setup, delivered);
  const started = Date.now();
  await worker.start();
  await w.drained(oracle.validCount, 0, 600_000);
  const total = (Date.now() - started) / 1000;
  await worker.stop();

  const duplicates = (await w
    .knex('processed_events')
    .where({ tenant: TENANT })
    .count({ n: '*' })) as { n: number }[];
  const result: ScenarioResult = {
    scenario: '6 every event twice + orders shuffled',
    events: delivered.length,
    lost: 0,
    doubled: 0,
    oversold: 0,
    drainSeconds: total,
    note: `${shuffled.length} distinct events, ${stories.length} shuffled orders; ${Number(duplicates[0]!.n)} recorded; seed ${SEED}`,
  };
  try {
    expect(worker.unexpectedExits).toBe(0);
    await checkInvariants(w, oracle, { onFindings: (f) => Object.assign(result, f) });
  } finally {
    report(result);
  }
});
