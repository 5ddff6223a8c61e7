import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventMeta, OutboxPayload } from '../../src/domain/types.js';
import type { WriteResult } from '../../src/ledger/writer.js';
import { BACKLOG, LedgerWriter } from '../../src/ledger/writer.js';
import {
  announced,
  announcedFromMysql,
  count,
  createHarness,
  type Harness,
  logger,
  mirrorDifferences,
  mysqlStock,
  prng,
  randomEvent,
  toWrite,
} from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('ledger_mirror');
});
afterAll(async () => {
  await h?.close();
});

const meta = (tenant: string, id: string, type = 'test'): EventMeta => ({
  tenant,
  source: '/shop',
  id,
  type,
  occurredAt: '2026-11-23T10:15:00.123+01:00',
});

async function applyAndWrite(m: EventMeta, c: Parameters<Harness['engine']['apply']>[1]) {
  const r = await h.engine.apply(m, c);
  const w = toWrite(r);
  if (!w) throw new Error(`nothing to write for ${JSON.stringify(r)}`);
  return { ...w, result: await h.writer.write(w.payload, w.entryId) };
}

describe('ledger mirror', () => {
  it('mirrors a known sequence to exact figures, rows and holds', async () => {
    const t = 'exact';
    await applyAndWrite(meta(t, 'e1'), {
      op: 'receiveStock',
      sku: 'S1',
      locationId: 'default',
      quantity: 10,
    });
    await applyAndWrite(meta(t, 'e2'), {
      op: 'reserveCart',
      cartId: 'c1',
      sku: 'S1',
      locationId: 'default',
      quantity: 3,
      ttlMs: 60_000,
    });
    await applyAndWrite(meta(t, 'e3'), {
      op: 'placeOrder',
      orderId: 'o1',
      cartId: 'c1',
      lines: [{ sku: 'S1', locationId: 'default', quantity: 2 }],
    });
    await applyAndWrite(meta(t, 'e4'), { op: 'commitOrder', orderId: 'o1', paymentId: 'p1' });
    const shipped = await applyAndWrite(meta(t, 'e5'), {
      op: 'fulfilShipment',
      shipmentId: 'sh1',
      orderId: 'o1',
      lines: [{ sku: 'S1', locationId: 'default', quantity: 1 }],
    });
    expect(shipped.result).toBe('committed');

    const stock = await mysqlStock(h, t);
    // received 10, shipped 1 → 9 on hand; order holds 1 more unit, paid → committed 1
    expect(stock.get('S1|default')).toEqual({
      f: [9, 1, 1, 0, 0],
      level: null,
      qty: null,
      available: 8,
    });
    const ledger = (await h.knex('inventory_ledger').where({ tenant: t }).orderBy('id')) as Record<
      string,
      unknown
    >[];
    expect(
      ledger.map((r) => [
        r.event_id,
        r.line_no,
        r.movement,
        r.qty,
        r.on_hand_delta,
        r.reserved_delta,
        r.committed_delta,
      ]),
    ).toEqual([
      ['e1', 0, 'received', 10, 10, 0, 0],
      ['e2', 0, 'reserved', 3, 0, 3, 0],
      ['e3', 0, 'released', -1, 0, -1, 0],
      ['e4', 0, 'committed', 2, 0, 0, 2],
      ['e5', 0, 'shipped', -1, -1, -1, -1],
    ]);
    expect(ledger[0]!.occurred_at).toEqual(new Date('2026-11-23T09:15:00.123Z'));
    expect(ledger[2]).toMatchObject({
      reference_type: 'cart',
      reference_id: 'c1',
      reason: 'not-ordered',
    });
    const holds = (await h.knex('reservations').where({ tenant: t }).orderBy('ref_type')) as Record<
      string,
      unknown
    >[];
    expect(
      holds.map((r) => [
        r.ref_type,
        r.ref_id,
        r.state,
        JSON.parse(String(r.lines)),
        r.link,
        r.paid,
        r.payment_id,
        r.version,
      ]),
    ).toEqual([
      ['cart', 'c1', 'converted', [], 'o1', 0, null, 2],
      [
        'order',
        'o1',
        'paid',
        [{ sku: 'S1', locationId: 'default', held: 1, ordered: 2, shipped: 1 }],
        'c1',
        1,
        'p1',
        3,
      ],
    ]);
    const events = (await h.knex('processed_events').where({ tenant: t }).orderBy('id')) as Record<
      string,
      unknown
    >[];
    expect(events.map((e) => [e.event_id, e.event_type, e.result])).toEqual([
      ['e1', 'test', 'applied'],
      ['e2', 'test', 'applied'],
      ['e3', 'test', 'applied'],
      ['e4', 'test', 'applied'],
      ['e5', 'test', 'applied'],
    ]);
    // a compact record: the movements are the ledger's rows, the outcome says nothing more
    expect([events[4]!.payload, events[4]!.outcome]).toEqual(['', null]);
    expect(await announcedFromMysql(h, shipped.payload)).toEqual(announced(shipped.payload));
    expect(await mirrorDifferences(h, t)).toEqual([]);
    // mirrored entries leave the outbox (right after their commit: flush waits for it)
    await h.writer.flush();
    expect(await h.redis.xlen(h.keys(t).outbox)).toBe(0);
  });

  const seen: { payload: OutboxPayload; entryId: string }[] = [];

  it('keeps ledger sums, stock_levels and Redis equal over random operations', async () => {
    const r = prng(20261123);
    const tenants = ['acme', 'globex'];
    const writes: Promise<WriteResult>[] = [];
    for (let n = 1; n <= 400; n++) {
      const { meta: m, command } = randomEvent(r, r.pick(tenants), n);
      const applied = await h.engine.apply(m, command);
      const w = toWrite(applied);
      if (!w) continue;
      seen.push(w);
      writes.push(h.writer.write(w.payload, w.entryId));
    }
    const results = await Promise.all(writes);
    expect(results.filter((x) => x !== 'committed')).toEqual([]);
    for (const t of tenants) expect(await mirrorDifferences(h, t)).toEqual([]);
    const movements = seen.reduce((s, w) => s + w.payload.movements.length, 0);
    expect(
      (await count(h, 'inventory_ledger', 'acme')) + (await count(h, 'inventory_ledger', 'globex')),
    ).toBe(movements);
    expect(
      (await count(h, 'processed_events', 'acme')) + (await count(h, 'processed_events', 'globex')),
    ).toBe(seen.length);
    // the random run must have exercised the interesting paths
    const kinds = new Set(seen.flatMap((w) => w.payload.movements.map((m) => m.kind)));
    expect([...kinds].sort()).toEqual(
      [
        'adjusted',
        'committed',
        'counted',
        'expired',
        'received',
        'released',
        'reserved',
        'returned',
        'shipped',
        'transfer_in_transit',
        'transfer_out',
        'transfer_received',
      ]
        .filter((k) => k !== 'expired')
        .sort(),
    );
  });

  it('writes each event once when its payloads come again, from any number of writers', async () => {
    const before = await Promise.all(
      ['inventory_ledger', 'processed_events', 'reservations'].map((t) => count(h, t)),
    );
    const stockBefore = await h.knex('stock_levels').orderBy(['tenant', 'sku', 'location_id']);
    const other = new LedgerWriter({
      knex: h.knex,
      redis: h.redis,
      prefix: h.prefix,
      logger,
      batchSize: 37,
    });
    const results = await Promise.all([
      ...seen.map((w) => h.writer.write(w.payload, w.entryId)),
      ...seen.map((w) => other.write(w.payload, w.entryId)),
    ]);
    await other.close();
    expect(new Set(results)).toEqual(new Set(['duplicate']));
    expect(
      await Promise.all(
        ['inventory_ledger', 'processed_events', 'reservations'].map((t) => count(h, t)),
      ),
    ).toEqual(before);
    expect(await h.knex('stock_levels').orderBy(['tenant', 'sku', 'location_id'])).toEqual(
      stockBefore,
    );
  });

  it('commits a fresh event once when two writers race for it', async () => {
    const t = 'race';
    const applied = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        h.engine.apply(meta(t, `r${i}`), {
          op: 'receiveStock',
          sku: 'R',
          locationId: 'default',
          quantity: i + 1,
        }),
      ),
    );
    const other = new LedgerWriter({
      knex: h.knex,
      redis: h.redis,
      prefix: h.prefix,
      logger,
      batchSize: 7,
    });
    const results = await Promise.all(
      applied.flatMap((a) => {
        const w = toWrite(a)!;
        return [h.writer.write(w.payload, w.entryId), other.write(w.payload, w.entryId)];
      }),
    );
    await other.close();
    expect(results.filter((x) => x === 'committed')).toHaveLength(50);
    expect(results.filter((x) => x === 'duplicate')).toHaveLength(50);
    expect((await mysqlStock(h, t)).get('R|default')?.f).toEqual([1275, 0, 0, 0, 0]);
    expect(await count(h, 'inventory_ledger', t)).toBe(50);
  });

  it('never lets an older snapshot overwrite a newer one, even when a cart id is reused', async () => {
    const t = 'guard';
    const w1 = await applyAndWrite(meta(t, 'g0'), {
      op: 'receiveStock',
      sku: 'G',
      locationId: 'default',
      quantity: 10,
    });
    expect(w1.result).toBe('committed');
    const add = toWrite(
      await h.engine.apply(meta(t, 'g1'), {
        op: 'reserveCart',
        cartId: 'c',
        sku: 'G',
        locationId: 'default',
        quantity: 2,
        ttlMs: 60_000,
      }),
    )!;
    const clear = toWrite(
      await h.engine.apply(meta(t, 'g2'), { op: 'releaseCart', mode: 'clear', cartId: 'c' }),
    )!;
    const again = toWrite(
      await h.engine.apply(meta(t, 'g3'), {
        op: 'reserveCart',
        cartId: 'c',
        sku: 'G',
        locationId: 'default',
        quantity: 1,
        ttlMs: 60_000,
      }),
    )!;
    // the cart started again from version 1 after it was released and deleted
    expect(again.payload.holds[0]!.version).toBe(1);
    // mirrored in the worst order: newest first, in separate transactions
    expect(await h.writer.write(again.payload, again.entryId)).toBe('committed');
    await h.writer.flush();
    expect(await h.writer.write(clear.payload, clear.entryId)).toBe('committed');
    await h.writer.flush();
    expect(await h.writer.write(add.payload, add.entryId)).toBe('committed');
    const row = (await h
      .knex('reservations')
      .where({ tenant: t, ref_type: 'cart', ref_id: 'c' })
      .first()) as Record<string, unknown>;
    expect([row.state, JSON.parse(String(row.lines)), row.version]).toEqual([
      'open',
      [{ sku: 'G', locationId: 'default', held: 1 }],
      1,
    ]);
    expect(await mirrorDifferences(h, t)).toEqual([]);
  });

  it('keeps the newest reorder setting when configurations are mirrored out of order', async () => {
    const t = 'config';
    const a = toWrite(
      await h.engine.apply(meta(t, 'k1'), {
        op: 'configureStock',
        sku: 'K',
        locationId: 'default',
        reorderLevel: 5,
        reorderQuantity: 20,
      }),
    )!;
    const b = toWrite(
      await h.engine.apply(meta(t, 'k2'), {
        op: 'configureStock',
        sku: 'K',
        locationId: 'default',
        reorderLevel: 7,
      }),
    )!;
    expect(await h.writer.write(b.payload, b.entryId)).toBe('committed');
    await h.writer.flush();
    expect(await h.writer.write(a.payload, a.entryId)).toBe('committed');
    expect((await mysqlStock(h, t)).get('K|default')).toEqual({
      f: [0, 0, 0, 0, 0],
      level: 7,
      qty: 20,
      available: 0,
    });
    expect(await mirrorDifferences(h, t)).toEqual([]);
  });

  it('records a batch too big for one statement once, even when its second statement collides', async () => {
    const t = 'bulk';
    await h.knex('tenant_epochs').insert({ tenant: t, epoch: 1 });
    const at = Date.parse('2026-11-23T10:00:00Z');
    const receipt = (n: number): { payload: OutboxPayload; entryId: string } => ({
      entryId: `${at + n}-0`,
      payload: {
        tenant: t,
        source: '/erp',
        id: `bulk-${n}`,
        type: 'stock.received',
        occurredAt: new Date(at + n).toISOString(),
        epoch: 1,
        outcome: { result: 'applied' },
        movements: [
          {
            sku: `BULK-${n % 7}`,
            locationId: 'default',
            kind: 'received',
            onHand: 1,
            reserved: 0,
            committed: 0,
            unavailable: 0,
            incoming: 0,
            referenceType: 'receipt',
            referenceId: `po-${n}`,
            reason: '',
          },
        ],
        holds: [],
        config: [],
      },
    });
    const bulk = new LedgerWriter({
      knex: h.knex,
      redis: h.redis,
      prefix: h.prefix,
      logger,
      batchSize: 7000,
    });
    const first = Array.from({ length: 100 }, (_, n) => receipt(6000 + n));
    expect(new Set(await Promise.all(first.map((w) => bulk.write(w.payload, w.entryId))))).toEqual(
      new Set(['committed']),
    );
    // 6000 new events, then the 100 above: the insert of processed_events takes two
    // statements (5000 rows at most each) and only the second one collides
    const batch = [...Array.from({ length: 6000 }, (_, n) => receipt(n)), ...first];
    const results = await Promise.all(batch.map((w) => bulk.write(w.payload, w.entryId)));
    await bulk.close();
    expect(results.slice(0, 6000).every((r) => r === 'committed')).toBe(true);
    expect(results.slice(6000).every((r) => r === 'duplicate')).toBe(true);
    expect(await count(h, 'processed_events', t)).toBe(6100);
    expect(await count(h, 'inventory_ledger', t)).toBe(6100);
    const onHand = [...(await mysqlStock(h, t)).values()].reduce((s, v) => s + v.f[0], 0);
    expect(onHand).toBe(6100);
    const last = receipt(5999).payload;
    expect(await announcedFromMysql(h, last)).toEqual(announced(last));
  });

  it('rejects only the payload MySQL refuses and commits the rest of its batch', async () => {
    const t = 'bisect';
    const good = [];
    for (let i = 0; i < 9; i++) {
      good.push(
        toWrite(
          await h.engine.apply(meta(t, `b${i}`), {
            op: 'receiveStock',
            sku: 'B',
            locationId: 'default',
            quantity: 1,
          }),
        )!,
      );
    }
    const bad = structuredClone(good[4]!);
    bad.payload.id = 'b-bad';
    bad.payload.movements[0]!.referenceType = 'x'.repeat(40); // wider than reference_type
    const results = await Promise.allSettled(
      [...good.slice(0, 4), bad, ...good.slice(4)].map((w) => h.writer.write(w.payload, w.entryId)),
    );
    expect(results.map((r) => r.status)).toEqual([
      ...Array(4).fill('fulfilled'),
      'rejected',
      ...Array(5).fill('fulfilled'),
    ]);
    expect(String((results[4] as PromiseRejectedResult).reason)).toMatch(/Data too long/);
    expect((await mysqlStock(h, t)).get('B|default')?.f).toEqual([9, 0, 0, 0, 0]);
    expect(await count(h, 'processed_events', t)).toBe(9);
  });

  it('rejects, rather than retrying for ever, an event MySQL takes for another (padded ids)', async () => {
    // Ids with a trailing space are refused at the door; a payload that comes in anyway (one
    // applied before that rule) collides in processed_events with a row that is not its own.
    const t = 'padded';
    const receive = { op: 'receiveStock', sku: 'P', locationId: 'default', quantity: 1 } as const;
    const first = await applyAndWrite(meta(t, 'e1'), receive);
    expect(first.result).toBe('committed');
    const padded = toWrite(await h.engine.applyValid(meta(t, 'e1 '), receive))!;
    const later = toWrite(await h.engine.apply(meta(t, 'e2'), receive))!;
    const results = await Promise.allSettled([
      h.writer.write(padded.payload, padded.entryId),
      h.writer.write(later.payload, later.entryId),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/Duplicate entry/);
    expect((await mysqlStock(h, t)).get('P|default')?.f).toEqual([2, 0, 0, 0, 0]);
    expect(await count(h, 'processed_events', t)).toBe(2);
  });

  it('stores awkward text byte for byte (quotes, backslashes, placeholders, emoji)', async () => {
    const t = 'text';
    const sku = `O'Brien \\ "?" ?? %s \u00e9\u{1F600} \\0`;
    const w = await applyAndWrite(meta(t, `id-'?\\`), {
      op: 'adjustStock',
      sku,
      locationId: 'bin ?',
      delta: 4,
      reason: `it's a \\ reason`,
    });
    expect(w.result).toBe('committed');
    const row = (await h.knex('inventory_ledger').where({ tenant: t }).first()) as Record<
      string,
      unknown
    >;
    expect([row.sku, row.location_id, row.reason, row.event_id]).toEqual([
      sku,
      'bin ?',
      `it's a \\ reason`,
      `id-'?\\`,
    ]);
    const event = (await h.knex('processed_events').where({ tenant: t }).first()) as Record<
      string,
      unknown
    >;
    expect(event.event_id).toBe(`id-'?\\`);
    expect(await announcedFromMysql(h, w.payload)).toEqual(announced(w.payload));
    expect(await mirrorDifferences(h, t)).toEqual([]);
  });

  it('resolves stale for an epoch other than the current one and writes nothing', async () => {
    const t = 'epoch';
    const w = toWrite(
      await h.engine.apply(meta(t, 'x1'), {
        op: 'receiveStock',
        sku: 'X',
        locationId: 'default',
        quantity: 3,
      }),
    )!;
    const old = structuredClone(w.payload);
    old.epoch = w.payload.epoch - 1;
    expect(await h.writer.write(old, w.entryId)).toBe('stale');
    expect(await count(h, 'processed_events', t)).toBe(0);
    // a stale payload stays in the outbox: it is not this writer's to drop
    expect(await h.redis.xlen(h.keys(t).outbox)).toBe(1);
    expect(await h.writer.write(w.payload, w.entryId)).toBe('committed');
  });

  it('starts a second transaction beside one in flight only for a backlog', async () => {
    const t = 'backlog';
    await applyAndWrite(meta(t, 'stock'), {
      op: 'receiveStock',
      sku: 'S1',
      locationId: 'default',
      quantity: 1000,
    });
    const writes: { payload: OutboxPayload; entryId: string }[] = [];
    for (let i = 0; i < 3 + 1 + BACKLOG; i++) {
      const r = await h.engine.apply(meta(t, `r${i}`), {
        op: 'reserveCart',
        cartId: `c${i}`,
        sku: 'S1',
        locationId: 'default',
        quantity: 1,
        ttlMs: 60_000,
      });
      writes.push(toWrite(r)!);
    }
    // transactions begun on this pool, as knex sends them to MySQL
    let begun = 0;
    const onQuery = (q: { sql: string }) => {
      if (/^begin/i.test(q.sql)) begun++;
    };
    h.knex.on('query', onQuery);
    try {
      const writer = new LedgerWriter({ knex: h.knex, redis: h.redis, prefix: h.prefix, logger });
      const write = (w: (typeof writes)[number]) => writer.write(w.payload, w.entryId);
      // three writes in one turn: the first starts a transaction, the other two wait for it
      // and go together in the next
      const few = writes.slice(0, 3).map(write);
      expect(writer.transactions).toBe(1);
      expect(await Promise.all(few)).toEqual(['committed', 'committed', 'committed']);
      expect(begun).toBe(2);
      // (the writes settle before their transaction's slot is free: a turn for that)
      await new Promise((r) => setTimeout(r, 0));
      expect(writer.transactions).toBe(0);
      // one, then BACKLOG more: the backlog starts a transaction at once, beside the first
      begun = 0;
      const many = writes.slice(3).map(write);
      expect(writer.transactions).toBe(2);
      expect((await Promise.all(many)).every((r) => r === 'committed')).toBe(true);
      expect(begun).toBe(2);
      await writer.close();
    } finally {
      h.knex.off('query', onQuery);
    }
    expect(await mirrorDifferences(h, t)).toEqual([]);
  });
});
