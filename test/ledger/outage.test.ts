import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKnex, parseMysqlUrl, type Knex } from '../../src/ledger/db.js';
import { LedgerWriter, type WriteResult } from '../../src/ledger/writer.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import {
  count,
  createHarness,
  type Harness,
  logger,
  mirrorDifferences,
  prng,
  randomEvent,
  toWrite,
} from './harness.js';

const STATEMENT_TIMEOUT_MS = 1500;
let h: Harness;
let proxy: TcpProxy;
let proxied: Knex;
let writer: LedgerWriter;

beforeAll(async () => {
  h = await createHarness('ledger_outage');
  const { host, port, database } = parseMysqlUrl(h.url);
  proxy = new TcpProxy(host, port);
  await proxy.listen();
  proxied = createKnex(`mysql://root@127.0.0.1:${proxy.port}/${database}`, {
    max: 2,
    logger,
    // a statement the proxy swallows is given up after this (the default is 60 s)
    statementTimeoutMs: STATEMENT_TIMEOUT_MS,
    // as the worker's ledger pool
    multipleStatements: true,
  });
  writer = new LedgerWriter({
    knex: proxied,
    redis: h.redis,
    prefix: h.prefix,
    logger,
    batchSize: 25,
    maxBackoffMs: 200,
  });
});
afterAll(async () => {
  proxy?.restore();
  await writer?.close();
  await proxied?.destroy();
  await proxy?.close();
  await h?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function applyMany(seed: number, events: number, from: number) {
  const r = prng(seed);
  const out = [];
  for (let n = from; n < from + events; n++) {
    const { meta, command } = randomEvent(r, 'outage', n);
    const w = toWrite(await h.engine.apply(meta, command));
    if (w) out.push(w);
  }
  return out;
}

/** Tracks which writes have settled, without awaiting them. */
function track(promises: Promise<WriteResult>[]) {
  const settled: (WriteResult | Error | undefined)[] = promises.map(() => undefined);
  promises.forEach((p, i) =>
    p.then(
      (r) => (settled[i] = r),
      (e: Error) => (settled[i] = e),
    ),
  );
  return { settled, all: () => Promise.all(promises) };
}

describe('ledger writer while MySQL is unreachable', () => {
  it('keeps writes pending and unhealthy while connections are refused, then commits each once', async () => {
    await h.loader.ensureTenant('outage');
    const writes = await applyMany(1, 80, 1);
    proxy.refuse();
    const t = track(writes.map((w) => writer.write(w.payload, w.entryId)));
    await sleep(1500);
    expect(t.settled.filter((s) => s !== undefined)).toEqual([]);
    expect(writer.healthy).toBe(false);
    expect(writer.pending).toBe(writes.length);
    expect(await count(h, 'processed_events', 'outage')).toBe(0);
    expect(await h.redis.xlen(h.keys('outage').outbox)).toBe(writes.length);

    proxy.restore();
    const results = await t.all();
    expect(results.filter((r) => r !== 'committed')).toEqual([]);
    expect(writer.healthy).toBe(true);
    expect(await count(h, 'processed_events', 'outage')).toBe(writes.length);
    expect(await count(h, 'inventory_ledger', 'outage')).toBe(
      writes.reduce((s, w) => s + w.payload.movements.length, 0),
    );
    await writer.flush();
    expect(await h.redis.xlen(h.keys('outage').outbox)).toBe(0);
    expect(await mirrorDifferences(h, 'outage')).toEqual([]);
  });

  it('survives connections cut in the middle of the mirror: nothing lost, nothing twice', async () => {
    const before = {
      events: await count(h, 'processed_events', 'outage'),
      rows: await count(h, 'inventory_ledger', 'outage'),
    };
    const writes = await applyMany(2, 400, 1000);
    const t = track(writes.map((w) => writer.write(w.payload, w.entryId)));
    // cut once some batches are in: others are queued, one is probably on the wire
    const deadline = Date.now() + 20_000;
    while (
      (await count(h, 'processed_events', 'outage')) === before.events &&
      Date.now() < deadline
    )
      await sleep(5);
    proxy.refuse();
    await sleep(1000);
    expect(writer.healthy).toBe(false);
    const settledDuringOutage = t.settled.filter((s) => s !== undefined).length;
    expect(settledDuringOutage).toBeLessThan(writes.length);
    await sleep(300);
    // nothing settles while MySQL is away
    expect(t.settled.filter((s) => s !== undefined).length).toBe(settledDuringOutage);

    proxy.restore();
    const results = await t.all();
    // a batch whose COMMIT was cut may have landed: its retry finds it there (duplicate)
    expect(results.filter((r) => r !== 'committed' && r !== 'duplicate')).toEqual([]);
    expect(await count(h, 'processed_events', 'outage')).toBe(before.events + writes.length);
    expect(await count(h, 'inventory_ledger', 'outage')).toBe(
      before.rows + writes.reduce((s, w) => s + w.payload.movements.length, 0),
    );
    await writer.flush();
    expect(await h.redis.xlen(h.keys('outage').outbox)).toBe(0);
    expect(await mirrorDifferences(h, 'outage')).toEqual([]);
  });

  it('notices a server that stops answering without a reset, and commits once it answers again', async () => {
    const before = {
      events: await count(h, 'processed_events', 'outage'),
      rows: await count(h, 'inventory_ledger', 'outage'),
    };
    const writes = await applyMany(3, 60, 5000);
    // the writer's pooled connections stay open, and get no answer: no reset ever comes
    proxy.blackhole();
    const t = track(writes.map((w) => writer.write(w.payload, w.entryId)));
    await sleep(STATEMENT_TIMEOUT_MS * 3);
    // the statement on the dead connection was given up (else it would wait for keepalive)
    expect(writer.healthy).toBe(false);
    expect(t.settled.filter((s) => s !== undefined)).toEqual([]);

    proxy.restore();
    const results = await t.all();
    expect(results.filter((r) => r !== 'committed' && r !== 'duplicate')).toEqual([]);
    expect(writer.healthy).toBe(true);
    expect(await count(h, 'processed_events', 'outage')).toBe(before.events + writes.length);
    expect(await count(h, 'inventory_ledger', 'outage')).toBe(
      before.rows + writes.reduce((s, w) => s + w.payload.movements.length, 0),
    );
    expect(await mirrorDifferences(h, 'outage')).toEqual([]);
  });

  it('leaves alone a connection that answered, however long it then sits idle', async () => {
    const guarded = createKnex(h.url, { max: 1, statementTimeoutMs: 300 });
    try {
      const id = async () =>
        ((await guarded.raw('SELECT CONNECTION_ID() AS id')) as [{ id: number }[]])[0][0]!.id;
      const first = await id();
      await sleep(1000);
      // the same connection: it was not dropped for the quiet after its statement ended
      expect(await id()).toBe(first);
    } finally {
      await guarded.destroy();
    }
  });
});
