import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announce } from '../../src/domain/announcements.js';
import type { EventMeta, OutboxPayload } from '../../src/domain/types.js';
import { lockEpochs, mirrorInTransaction } from '../../src/ledger/commit-batch.js';
import { createKnex, ensureDatabase, migrate, type Knex } from '../../src/ledger/db.js';
import { findPayload } from '../../src/ledger/find-payload.js';
import { LedgerWriter } from '../../src/ledger/writer.js';
import { migrationSource } from '../../migrations/index.js';
import { dropTestDatabase, TEST_MYSQL_SERVER, uniqueName } from '../support/isolation.js';
import {
  announced,
  announcedFromMysql,
  createHarness,
  type Harness,
  logger,
  prng,
  randomEvent,
  toWrite,
} from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('ledger_find');
});
afterAll(async () => {
  await h?.close();
});

const meta = (tenant: string, id: string, type = 'test'): EventMeta => ({
  tenant,
  source: '/shop',
  id,
  type,
  occurredAt: '2026-11-23T10:15:00.123Z',
});

/** Applies and mirrors the event; returns the payload it produced. */
async function mirrored(m: EventMeta, c: Parameters<Harness['engine']['apply']>[1]) {
  const w = toWrite(await h.engine.apply(m, c));
  if (!w) throw new Error(`nothing to write for ${m.id}`);
  expect(await h.writer.write(w.payload, w.entryId)).toBe('committed');
  return w.payload;
}

/** What announce() makes of a payload, without the time it was called at. */
const announcements = (p: OutboxPayload) => announce(p, 'T');

describe('reading back what an event did (for re-announcing a duplicate)', () => {
  it('gives the same outcome and movements as the original, for every kind of event', async () => {
    const r = prng(777);
    const payloads: OutboxPayload[] = [];
    for (let n = 1; n <= 300; n++) {
      const { meta: m, command } = randomEvent(r, 'readback', n);
      const w = toWrite(await h.engine.apply(m, command));
      if (!w) continue;
      payloads.push(w.payload);
      expect(await h.writer.write(w.payload, w.entryId)).toBe('committed');
    }
    // the run must include refusals with short lines and events without movements
    expect(payloads.some((p) => p.outcome.short?.length)).toBe(true);
    expect(payloads.some((p) => p.movements.length === 0)).toBe(true);
    expect(payloads.some((p) => p.movements.length > 1)).toBe(true);
    for (const p of payloads) {
      const found = await findPayload(h.knex, p.tenant, p.source, p.id);
      expect(found && announced(found)).toEqual(announced(p));
      expect(announcements(found!)).toEqual(announcements(p));
    }
  });

  it('keeps low-stock, shortage, availability and refusal details, and awkward text', async () => {
    const t = 'details';
    const sku = `O'Brien \\ "?" %s \u00e9\u{1F600}`;
    await mirrored(meta(t, 'd0'), {
      op: 'configureStock',
      sku,
      locationId: 'bin ?',
      reorderLevel: 5,
      reorderQuantity: 10,
    });
    const rcv = await mirrored(meta(t, 'd1'), {
      op: 'receiveStock',
      sku,
      locationId: 'bin ?',
      quantity: 6,
    });
    expect(rcv.outcome.availability).toEqual([
      { sku, locationId: 'bin ?', available: 6, inStock: true },
      { sku, available: 6, inStock: true }, // the SKU's total (its only location)
    ]);
    const low = await mirrored(meta(t, 'd2'), {
      op: 'reserveCart',
      cartId: `c'1`,
      sku,
      locationId: 'bin ?',
      quantity: 2,
      ttlMs: 60_000,
    });
    expect(low.outcome.lowStock?.length).toBe(1);
    const refused = await mirrored(meta(t, 'd3'), {
      op: 'reserveCart',
      cartId: 'c2',
      sku,
      locationId: 'bin ?',
      quantity: 50,
      ttlMs: 60_000,
    });
    expect(refused.outcome).toMatchObject({ result: 'rejected', referenceType: 'cart' });
    const short = await mirrored(meta(t, 'd4'), {
      op: 'adjustStock',
      sku,
      locationId: 'bin ?',
      delta: -5,
      reason: `it's \\ damaged`,
    });
    expect(short.outcome.shortage?.length).toBe(1);
    expect(short.outcome.availability?.length).toBe(2);
    for (const p of [rcv, low, refused, short]) {
      expect(await announcedFromMysql(h, p)).toEqual(announced(p));
    }
    // the compact record: outcome details only where there are some
    const rows = (await h
      .knex('processed_events')
      .where({ tenant: t })
      .orderBy('id')
      .select('event_id', 'result', 'outcome', 'payload')) as Record<string, unknown>[];
    expect(rows.map((e) => [e.event_id, e.result, e.outcome === null, e.payload])).toEqual([
      ['d0', 'applied', false, ''], // setting the level below what is available: low stock
      ['d1', 'applied', false, ''], // a receipt at zero: back in stock
      ['d2', 'applied', false, ''],
      ['d3', 'rejected', false, ''],
      ['d4', 'applied', false, ''],
    ]);
  });

  it('reads the keys back when the server may not number a multi-row insert consecutively', async () => {
    const t = 'unnumbered';
    const writes: { payload: OutboxPayload; entryId: string }[] = [];
    for (let i = 0; i < 5; i++) {
      const w = toWrite(
        await h.engine.apply(meta(t, `u${i}`), {
          op: 'receiveStock',
          sku: `U${i % 2}`,
          locationId: 'default',
          quantity: i + 1,
        }),
      )!;
      writes.push(w);
    }
    const { epochs } = await h.knex.transaction((trx) => lockEpochs(trx, [t]));
    // idStep null: what commitBatch passes under innodb_autoinc_lock_mode 2
    const results = await h.knex.transaction((trx) =>
      mirrorInTransaction(trx, [...writes, writes[0]!], epochs, null),
    );
    expect(results).toEqual([
      'committed',
      'committed',
      'committed',
      'committed',
      'committed',
      'duplicate',
    ]);
    for (const w of writes)
      expect(await announcedFromMysql(h, w.payload)).toEqual(announced(w.payload));
  });

  it("keys every ledger row by its own event's processed_events row", async () => {
    const [rows] = (await h.knex.raw(
      `SELECT COUNT(*) AS n, SUM(e.id IS NULL OR e.tenant <> l.tenant OR e.event_source <> l.event_source
                                OR e.event_id <> l.event_id) AS wrong
         FROM inventory_ledger l LEFT JOIN processed_events e ON e.id = l.event_ref`,
    )) as [{ n: number; wrong: number | string }[]];
    expect(Number(rows[0]!.n)).toBeGreaterThan(100);
    expect(Number(rows[0]!.wrong)).toBe(0);
  });

  it('finds nothing for an event never recorded', async () => {
    expect(await findPayload(h.knex, 'details', '/shop', 'never')).toBeUndefined();
  });
});

describe('a ledger recorded before migrations 010–013', () => {
  const url = `${TEST_MYSQL_SERVER}/${uniqueName('ledger_upgrade')}`;
  let knex: Knex;
  afterAll(async () => {
    await knex?.destroy();
    await dropTestDatabase(url);
  });

  const legacy: OutboxPayload = {
    tenant: 'old',
    source: '/shop',
    id: 'before-upgrade',
    type: 'order.placed',
    occurredAt: '2026-11-20T08:00:00.000Z',
    epoch: 1,
    outcome: { result: 'applied' },
    movements: [0, 1].map((i) => ({
      sku: `S${i}`,
      locationId: 'default',
      kind: 'reserved' as const,
      onHand: 0,
      reserved: i + 1,
      committed: 0,
      unavailable: 0,
      incoming: 0,
      referenceType: 'order',
      referenceId: 'o-1',
      reason: '',
    })),
    holds: [{ kind: 'order', id: 'o-1', state: 'placed', version: 1, lines: [] }],
    network: [],
    config: [],
  };

  it('gets event_ref filled and keyed, its payloads read back, and replays still duplicates', async () => {
    await ensureDatabase(url);
    knex = createKnex(url, { logger });
    // the schema as it was: migrations up to 007
    const before = (name: string) => name < '010';
    await knex.migrate.latest({
      migrationSource: {
        ...migrationSource,
        getMigrations: async () => (await migrationSource.getMigrations([])).filter(before),
      },
    });
    await knex('tenant_epochs').insert({ tenant: 'old', epoch: 1 });
    // what the writer recorded then: the whole payload, ledger rows keyed by the event's ids
    const [eventId] = await knex('processed_events').insert({
      tenant: legacy.tenant,
      event_source: legacy.source,
      event_id: legacy.id,
      event_type: legacy.type,
      result: 'applied',
      payload: JSON.stringify(legacy),
      occurred_at: new Date(legacy.occurredAt),
    });
    await knex('inventory_ledger').insert(
      legacy.movements.map((m, lineNo) => ({
        tenant: legacy.tenant,
        sku: m.sku,
        location_id: m.locationId,
        movement: m.kind,
        qty: m.reserved,
        on_hand_delta: 0,
        reserved_delta: m.reserved,
        committed_delta: 0,
        unavailable_delta: 0,
        incoming_delta: 0,
        reference_type: m.referenceType,
        reference_id: m.referenceId,
        event_source: legacy.source,
        event_id: legacy.id,
        event_type: legacy.type,
        line_no: lineNo,
      })),
    );

    // every migration after 007 runs on the old ledger, 010–013 first
    const applied = await migrate(url);
    expect(applied.slice(0, 4)).toEqual([
      '010_add_processed_events_outcome',
      '011_add_inventory_ledger_event_ref',
      '012_fill_inventory_ledger_event_ref',
      '013_key_inventory_ledger_by_event_ref',
    ]);
    expect(applied).toEqual((await migrationSource.getMigrations([])).filter((m) => !before(m)));
    const refs = (await knex('inventory_ledger').orderBy('line_no').pluck('event_ref')) as number[];
    expect(refs.map(Number)).toEqual([Number(eventId), Number(eventId)]);
    expect(await findPayload(knex, legacy.tenant, legacy.source, legacy.id)).toEqual(legacy);

    const writer = new LedgerWriter({ knex, redis: h.redis, prefix: h.prefix, logger });
    const fresh = { ...structuredClone(legacy), id: 'after-upgrade' };
    expect(await writer.write(legacy, '1763625600000-0')).toBe('duplicate');
    expect(await writer.write(fresh, '1763625600001-0')).toBe('committed');
    await writer.close();
    expect(await knex('inventory_ledger').count({ n: '*' })).toEqual([{ n: 4 }]);
    expect(announced((await findPayload(knex, 'old', '/shop', 'after-upgrade'))!)).toEqual(
      announced(fresh),
    );
    // one row per event and line, by the new key
    await expect(
      knex.raw(
        `INSERT INTO inventory_ledger (tenant, sku, location_id, movement, qty, on_hand_delta,
           reserved_delta, committed_delta, unavailable_delta, incoming_delta, reference_type,
           reference_id, event_source, event_id, event_type, line_no, event_ref)
         SELECT tenant, sku, location_id, movement, qty, on_hand_delta, reserved_delta,
           committed_delta, unavailable_delta, incoming_delta, reference_type, reference_id,
           event_source, 'other', event_type, line_no, event_ref
           FROM inventory_ledger WHERE event_id = 'before-upgrade' AND line_no = 1`,
      ),
    ).rejects.toThrow(/Duplicate entry/);
  });
});

describe('re-announcing a shipment.cancelled', () => {
  it('announces the hold given back from reservations, as the original did', async () => {
    const t = 'voidback';
    const D = 'default';
    await mirrored(meta(t, 'v1'), { op: 'receiveStock', sku: 'A', locationId: D, quantity: 5 });
    await mirrored(meta(t, 'v2'), {
      op: 'placeOrder',
      orderId: 'o',
      lines: [{ sku: 'A', locationId: D, quantity: 2 }],
    });
    await mirrored(meta(t, 'v3'), {
      op: 'fulfilShipment',
      shipmentId: 's',
      orderId: 'o',
      lines: [{ sku: 'A', locationId: D, quantity: 2 }],
    });
    const command = { op: 'voidShipment', shipmentId: 's', orderId: 'o' } as const;
    const p = await mirrored(meta(t, 'v4', 'shipment.cancelled'), command);
    const found = await findPayload(h.knex, t, '/shop', 'v4', command);
    expect(announcements(p).map((a) => a.type)).toEqual(['inventory.reserved']);
    expect(announcements(found!)).toEqual(announcements(p));
  });
});
