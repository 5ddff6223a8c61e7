import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerWriter } from '../../src/ledger/writer.js';
import { OutboxSweeper } from '../../src/ledger/sweeper.js';
import {
  announced,
  announcedFromMysql,
  count,
  createHarness,
  type Harness,
  logger,
  mirrorDifferences,
  prng,
  randomEvent,
  toWrite,
} from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('ledger_sweeper');
});
afterAll(async () => {
  await h?.close();
});

describe('outbox sweeper (crash recovery)', () => {
  it('mirrors exactly once what a dead worker applied but never wrote, and empties the outbox', async () => {
    const r = prng(7);
    const tenants = ['north', 'south'];
    let payloads = 0;
    let movements = 0;
    for (let n = 1; n <= 300; n++) {
      const { meta, command } = randomEvent(r, r.pick(tenants), n);
      const w = toWrite(await h.engine.apply(meta, command));
      if (!w) continue;
      payloads++;
      movements += w.payload.movements.length;
    }
    // the "dead" worker never called the writer: everything waits in the outboxes
    const waiting =
      (await h.redis.xlen(h.keys('north').outbox)) + (await h.redis.xlen(h.keys('south').outbox));
    expect(waiting).toBe(payloads);
    expect(await count(h, 'processed_events')).toBe(0);

    // young entries still belong to their worker
    const patient = new OutboxSweeper({
      knex: h.knex,
      redis: h.redis,
      prefix: h.prefix,
      writer: h.writer,
      logger,
      graceMs: 60_000,
    });
    expect(await patient.sweep()).toBe(0);

    // two workers sweep at once, each through its own writer
    const writers = [
      h.writer,
      new LedgerWriter({ knex: h.knex, redis: h.redis, prefix: h.prefix, logger, batchSize: 50 }),
    ];
    const sweepers = writers.map(
      (writer) =>
        new OutboxSweeper({
          knex: h.knex,
          redis: h.redis,
          prefix: h.prefix,
          writer,
          logger,
          graceMs: 0,
          pageSize: 64,
        }),
    );
    const swept = await Promise.all(sweepers.map((s) => s.sweep()));
    await writers[1]!.close();
    expect(swept[0]! + swept[1]!).toBeGreaterThanOrEqual(payloads);

    expect(await count(h, 'processed_events')).toBe(payloads);
    expect(await count(h, 'inventory_ledger')).toBe(movements);
    expect(await h.redis.xlen(h.keys('north').outbox)).toBe(0);
    expect(await h.redis.xlen(h.keys('south').outbox)).toBe(0);
    for (const t of tenants) expect(await mirrorDifferences(h, t)).toEqual([]);
  });

  it('sweeps on its own timer once started, and stops', async () => {
    const meta = {
      tenant: 'north',
      source: '/erp',
      id: 'timer-1',
      type: 'stock.received',
      occurredAt: '2026-11-23T10:00:00Z',
    };
    const w = toWrite(
      await h.engine.apply(meta, {
        op: 'receiveStock',
        sku: 'T',
        locationId: 'default',
        quantity: 4,
      }),
    )!;
    const sweeper = new OutboxSweeper({
      knex: h.knex,
      redis: h.redis,
      prefix: h.prefix,
      writer: h.writer,
      logger,
      graceMs: 0,
      intervalMs: 50,
    });
    sweeper.start();
    const deadline = Date.now() + 5000;
    while ((await h.redis.xlen(h.keys('north').outbox)) > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 25));
    await sweeper.stop();
    expect(await h.redis.xlen(h.keys('north').outbox)).toBe(0);
    expect(await announcedFromMysql(h, w.payload)).toEqual(announced(w.payload));
    expect(await mirrorDifferences(h, 'north')).toEqual([]);
  });

  it('drops entries of a replaced epoch, which can never be mirrored', async () => {
    const meta = {
      tenant: 'south',
      source: '/erp',
      id: 'old-epoch',
      type: 'stock.received',
      occurredAt: '2026-11-23T10:00:00Z',
    };
    const w = toWrite(
      await h.engine.apply(meta, {
        op: 'receiveStock',
        sku: 'Z',
        locationId: 'default',
        quantity: 1,
      }),
    )!;
    // another process reloaded the tenant after this entry was appended
    await h.knex('tenant_epochs').where({ tenant: 'south' }).increment('epoch', 1);
    const sweeper = new OutboxSweeper({
      knex: h.knex,
      redis: h.redis,
      prefix: h.prefix,
      writer: h.writer,
      logger,
      graceMs: 0,
    });
    expect(await sweeper.sweep()).toBe(0);
    await h.writer.flush();
    expect(await h.redis.xlen(h.keys('south').outbox)).toBe(0);
    expect(
      await h.knex('processed_events').where({ tenant: 'south', event_id: w.payload.id }),
    ).toEqual([]);
  });
});
