/**
 * The fault suite's own check can fail: after a clean run `checkInvariants` passes, and it
 * reports a Redis counter that drifted from the ledger, an event that never arrived and a
 * figure the domain model does not expect.
 */
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { pairOf, TenantKeys } from '../../src/engine/keys.js';
import { World } from './support/harness.js';
import { checkInvariants } from './support/invariants.js';
import { Oracle } from './support/oracle.js';
import { toMessage, type Message } from './support/stream.js';

let world: World | undefined;
afterAll(async () => {
  await world?.close();
});

it('passes on a clean run and fails on drift, a lost event or unexpected figures', async () => {
  world = await World.create('selfcheck');
  const w = world;
  const ev = (id: string, type: string, data: Record<string, unknown>): Message =>
    toMessage({ id, type, tenant: 'sc', data });
  const stream = [
    ev('rcv', 'stock.received', { sku: 'a', quantity: 10 }),
    ev('add1', 'cart.added', { cartId: 'c1', sku: 'a', quantity: 3 }),
    ev('add2', 'cart.added', { cartId: 'c2', sku: 'a', quantity: 20 }),
  ];
  await w.startWorkers(1);
  await w.publish(stream);
  await w.drained(stream.length, 0, 60_000);
  await w.stopWorkers();

  await checkInvariants(w, new Oracle().applyAll(stream));

  // an event the oracle expects but nobody published: lost
  const lostOracle = new Oracle().applyAll([
    ...stream,
    ev('never', 'stock.received', { sku: 'b', quantity: 1 }),
  ]);
  await expect(checkInvariants(w, lostOracle)).rejects.toThrow(/lost/);

  // the model expects other figures (one receipt missing from its stream)
  await expect(checkInvariants(w, new Oracle().applyAll(stream.slice(1)))).rejects.toThrow();

  // a Redis counter drifts from stock_levels and the ledger
  const redis = new Redis(w.redisUrl);
  try {
    await redis.hincrby(
      new TenantKeys(w.prefix, 'sc').stock(pairOf('a', 'default')),
      'reserved',
      1,
    );
    await expect(checkInvariants(w, new Oracle().applyAll(stream))).rejects.toThrow(/Redis/);
  } finally {
    redis.disconnect();
  }
});
