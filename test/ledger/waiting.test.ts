import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairOf } from '../../src/engine/keys.js';
import { findPayload } from '../../src/ledger/find-payload.js';
import { headlineQty } from '../../src/ledger/mirror-rows.js';
import { unlinkTenantKeys } from '../../src/ledger/tenant-keys.js';
import {
  announced,
  createHarness,
  type Harness,
  mirrorDifferences,
  prng,
  randomEvent,
  scanKeys,
  toWrite,
} from './harness.js';
import {
  BACK,
  cart,
  line,
  movement,
  nextEntryId,
  policy,
  PRE,
  PRE_UNTIL,
  SKU,
  type Step,
  waitingScenario,
} from './waiting-payloads.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('ledger_waiting');
});
afterAll(async () => {
  await h?.close();
});

/** Loads the tenant (an empty one) and returns its epoch, which hand-built payloads carry. */
async function epochOf(tenant: string): Promise<number> {
  await h.loader.ensureTenant(tenant);
  return Number(await h.redis.hget(h.keys(tenant).meta, 'epoch'));
}

async function write(steps: Step[]): Promise<void> {
  for (const s of steps) expect(await h.writer.write(s.payload, s.entryId)).toBe('committed');
}

const level = async (tenant: string, locationId: string) =>
  (await h
    .knex('stock_levels')
    .where({ tenant, sku: SKU, location_id: locationId })
    .first(
      'on_hand',
      'reserved',
      'available',
      'backordered',
      'preordered',
      'policy',
      'policy_limit',
      'preorder_until',
    )) as Record<string, unknown> | undefined;

describe('mirroring units that wait for stock', () => {
  it('headlineQty: a hold counts its reserved and waiting units; a fill counts what it filled', () => {
    const ref: [string, string] = ['cart', 'c'];
    expect(headlineQty(movement('reserved', ref, { reserved: 2 }))).toBe(2);
    expect(headlineQty(movement('backordered', ref, { backordered: 3 }))).toBe(3);
    expect(headlineQty(movement('preordered', ref, { preordered: 4 }))).toBe(4);
    expect(
      headlineQty(movement('released', ref, { reserved: -2, backordered: -3, preordered: -1 })),
    ).toBe(-6);
    expect(headlineQty(movement('expired', ref, { preordered: -1 }))).toBe(-1);
    expect(
      headlineQty(movement('filled', ref, { reserved: 3, committed: 3, backordered: -3 })),
    ).toBe(3);
    // a shipment is about on-hand, whatever it took from waiting units
    expect(headlineQty(movement('shipped', ref, { onHand: -2, backordered: -2 }))).toBe(-2);
  });

  it('writes the waiting deltas, keeps stock_levels equal to their sums, and the policy', async () => {
    const t = 'mirror';
    const steps = waitingScenario(t, await epochOf(t));
    await write(steps);

    const rows = (await h
      .knex('inventory_ledger')
      .where({ tenant: t })
      .orderBy('id')
      .select(
        'movement',
        'reference_id',
        'qty',
        'reserved_delta',
        'backordered_delta',
        'preordered_delta',
      )) as Record<string, unknown>[];
    expect(
      rows.map((r) => Object.values(r).map((v) => (typeof v === 'string' ? v : Number(v)))),
    ).toEqual([
      ['backordered', 'A', 2, 0, 2, 0],
      ['backordered', 'B', 1, 0, 1, 0],
      ['backordered', 'C', 1, 0, 1, 0],
      ['received', 'r1', 2, 0, 0, 0],
      ['filled', 'A', 2, 2, -2, 0],
      ['backordered', 'A', 1, 0, 1, 0],
      ['preordered', 'D', 1, 0, 0, 1],
    ]);

    expect(await level(t, BACK)).toEqual({
      on_hand: 2,
      reserved: 2,
      available: 0,
      backordered: 3,
      preordered: 0,
      policy: 'backorder',
      policy_limit: 10,
      preorder_until: null,
    });
    expect(await level(t, PRE)).toEqual({
      on_hand: 0,
      reserved: 0,
      available: 0,
      backordered: 0,
      preordered: 1,
      policy: 'preorder',
      policy_limit: 5,
      preorder_until: new Date(PRE_UNTIL),
    });
    const [sums] = (await h.knex.raw(
      `SELECT location_id, SUM(backordered_delta) AS b, SUM(preordered_delta) AS p
         FROM inventory_ledger WHERE tenant = ? GROUP BY location_id ORDER BY location_id`,
      [t],
    )) as [{ location_id: string; b: string; p: string }[]];
    expect(sums.map((s) => [s.location_id, Number(s.b), Number(s.p)])).toEqual([
      [BACK, 3, 0],
      [PRE, 0, 1],
    ]);
  });

  it('stores the lines of holds with their waiting units, as the snapshot has them', async () => {
    const lines = async (kind: string, id: string) => {
      const r = (await h
        .knex('reservations')
        .where({ tenant: 'mirror', ref_type: kind, ref_id: id })
        .first('lines', 'state', 'version')) as { lines: string; state: string; version: number };
      return { ...r, lines: JSON.parse(r.lines) as unknown };
    };
    expect(await lines('cart', 'A')).toEqual({
      state: 'open',
      version: 3,
      lines: [{ sku: SKU, locationId: BACK, held: 2, backordered: 1 }],
    });
    expect(await lines('order', 'O')).toEqual({
      state: 'placed',
      version: 1,
      lines: [{ sku: SKU, locationId: BACK, held: 0, ordered: 1, backordered: 1 }],
    });
    expect(await lines('cart', 'D')).toEqual({
      state: 'open',
      version: 1,
      lines: [{ sku: SKU, locationId: PRE, held: 0, preordered: 1 }],
    });
  });

  it('reads back the movements with the waiting deltas only where not 0, and the fills', async () => {
    const t = 'readback';
    const steps = waitingScenario(t, await epochOf(t));
    await write(steps);
    for (const { payload: p } of steps) {
      const found = await findPayload(h.knex, t, p.source, p.id);
      expect(found?.movements).toEqual(p.movements);
      expect(found?.outcome).toEqual(p.outcome);
    }
    const fill = (await findPayload(h.knex, t, '/shop', steps[4]!.payload.id))!;
    expect(fill.movements[1]).toEqual(
      expect.objectContaining({ kind: 'filled', reserved: 2, backordered: -2 }),
    );
    expect(fill.movements[0]).not.toHaveProperty('backordered');
    expect(fill.movements[0]).not.toHaveProperty('preordered');
  });

  it('keeps the newest policy when configurations are mirrored out of order', async () => {
    const t = 'policy-order';
    const epoch = await epochOf(t);
    const older = nextEntryId();
    const newer = nextEntryId();
    const configured = (id: string, c: ReturnType<typeof policy>): Step['payload'] => ({
      tenant: t,
      source: '/shop',
      id,
      type: 'stock.configured',
      occurredAt: '2026-11-23T10:15:00.000Z',
      epoch,
      outcome: { result: 'applied' },
      movements: [],
      holds: [],
      config: [c],
    });
    await write([
      {
        entryId: newer,
        payload: configured(
          'new',
          policy(PRE, { policy: 'preorder', policyLimit: 7, preorderUntil: PRE_UNTIL }),
        ),
      },
      {
        entryId: older,
        payload: configured(
          'old',
          policy(PRE, { policy: 'backorder', policyLimit: 3, preorderUntil: null }),
        ),
      },
    ]);
    expect(await level(t, PRE)).toMatchObject({
      policy: 'preorder',
      policy_limit: 7,
      preorder_until: new Date(PRE_UNTIL),
    });
    // and back to deny: no end date, no limit
    await write([
      {
        entryId: nextEntryId(),
        payload: configured(
          'deny',
          policy(PRE, { policy: 'deny', policyLimit: 0, preorderUntil: null }),
        ),
      },
    ]);
    expect(await level(t, PRE)).toMatchObject({
      policy: 'deny',
      policy_limit: 0,
      preorder_until: null,
    });
  });
});

describe('loading waiting units into Redis from MySQL', () => {
  it('restores figures, policy fields, waiting lines and the wait queues in order', async () => {
    const t = 'queue';
    await write(waitingScenario(t, await epochOf(t)));
    const k = h.keys(t);
    await unlinkTenantKeys(h.redis, k);
    await h.loader.load(t);

    const back = pairOf(SKU, BACK);
    const pre = pairOf(SKU, PRE);
    expect(await h.redis.hgetall(k.stock(back))).toEqual({
      onHand: '2',
      reserved: '2',
      committed: '0',
      unavailable: '0',
      incoming: '0',
      backordered: '3',
      preordered: '0',
      pol: 'backorder',
      plim: '10',
    });
    expect(await h.redis.hgetall(k.stock(pre))).toEqual({
      onHand: '0',
      reserved: '0',
      committed: '0',
      unavailable: '0',
      incoming: '0',
      backordered: '0',
      preordered: '1',
      pol: 'preorder',
      plim: '5',
      pto: String(PRE_UNTIL),
    });
    expect(await h.redis.hgetall(k.cart('A'))).toMatchObject({
      [`h:${back}`]: '2',
      [`b:${back}`]: '1',
    });
    expect(await h.redis.hgetall(k.order('O'))).toMatchObject({
      [`o:${back}`]: '1',
      [`b:${back}`]: '1',
      lk: 'B',
    });
    expect(await h.redis.hgetall(k.cart('D'))).toMatchObject({ [`p:${pre}`]: '1' });
    expect(await h.redis.hgetall(k.cart('B'))).not.toHaveProperty(`b:${back}`);

    // each line queues from the ledger row that made it start waiting: O from its cart B
    // (row 2), C (row 3), A from its second wait (row 6, after its fill)
    const ids = (
      (await h.knex('inventory_ledger').where({ tenant: t }).orderBy('id').select('id')) as {
        id: number;
      }[]
    ).map((r) => Number(r.id));
    expect(await h.redis.zrange(k.wait(back), 0, -1, 'WITHSCORES')).toEqual([
      'order:O',
      String(ids[1]),
      'cart:C',
      String(ids[2]),
      'cart:A',
      String(ids[5]),
    ]);
    expect(await h.redis.zrange(k.wait(pre), 0, -1, 'WITHSCORES')).toEqual([
      'cart:D',
      String(ids[6]),
    ]);
    // lines that start waiting from now on queue behind every one of them
    expect(Number(await h.redis.hget(k.meta, 'wseq'))).toBe(ids[6]);
    expect(await mirrorDifferences(h, t)).toEqual([]);
  });

  it('queues nothing and leaves wseq unset for a tenant with no waiting lines', async () => {
    const t = 'nowait';
    const epoch = await epochOf(t);
    await write([
      {
        entryId: nextEntryId(),
        payload: {
          tenant: t,
          source: '/shop',
          id: 'n1',
          type: 'cart.added',
          occurredAt: '2026-11-23T10:15:00.000Z',
          epoch,
          outcome: { result: 'applied' },
          movements: [
            movement('received', ['receipt', 'r'], { onHand: 3 }),
            movement('reserved', ['cart', 'X'], { reserved: 1 }),
          ],
          holds: [cart('X', 1, [line(BACK, { held: 1 })])],
          config: [],
        },
      },
    ]);
    const k = h.keys(t);
    await unlinkTenantKeys(h.redis, k);
    await h.loader.load(t);
    expect(await h.redis.keys(`${k.base}wait:*`)).toEqual([]);
    expect(await h.redis.hget(k.meta, 'wseq')).toBeNull();
    expect(await mirrorDifferences(h, t)).toEqual([]);
  });
});

describe('waiting units the engine applies', () => {
  /** Applies through the engine and mirrors; returns the payload. */
  async function applied(t: string, id: string, c: Parameters<Harness['engine']['apply']>[1]) {
    const r = await h.engine.apply(
      { tenant: t, source: '/shop', id, type: c.op, occurredAt: '2026-11-23T10:15:00.000Z' },
      c,
    );
    if (r.status !== 'applied') throw new Error(`${id}: ${JSON.stringify(r)}`);
    expect(await h.writer.write(r.payload, r.entryId)).toBe('committed');
    return r.payload;
  }

  it('mirror and rebuild keep figures, holds and the order of the wait queue', async () => {
    const t = 'engine';
    const cartAdd = (cartId: string, quantity: number) =>
      ({
        op: 'reserveCart',
        cartId,
        sku: SKU,
        locationId: BACK,
        quantity,
        ttlMs: 3_600_000,
      }) as const;
    await applied(t, 'e1', {
      op: 'configureStock',
      sku: SKU,
      locationId: BACK,
      policy: 'backorder',
      policyLimit: 20,
    });
    await applied(t, 'e2', {
      op: 'configureStock',
      sku: SKU,
      locationId: PRE,
      policy: 'preorder',
      policyLimit: 5,
      preorderUntil: PRE_UNTIL,
    });
    await applied(t, 'e3', cartAdd('c1', 3));
    await applied(t, 'e4', cartAdd('c2', 2));
    await applied(t, 'e5', cartAdd('c3', 1));
    const fill = await applied(t, 'e6', {
      op: 'receiveStock',
      sku: SKU,
      locationId: BACK,
      quantity: 3,
    });
    expect(fill.outcome.filled).toEqual([
      expect.objectContaining({ referenceId: 'c1', quantity: 3, backordered: 3 }),
    ]);
    await applied(t, 'e7', cartAdd('c1', 1));
    await applied(t, 'e8', {
      op: 'placeOrder',
      orderId: 'o2',
      cartId: 'c2',
      lines: [{ sku: SKU, locationId: BACK, quantity: 2 }],
    });
    await applied(t, 'e9', {
      op: 'reserveCart',
      cartId: 'c4',
      sku: SKU,
      locationId: PRE,
      quantity: 2,
      ttlMs: 3_600_000,
    });
    expect(await mirrorDifferences(h, t)).toEqual([]);

    const k = h.keys(t);
    const back = pairOf(SKU, BACK);
    const queue = async (pair: string) => h.redis.zrange(k.wait(pair), 0, -1);
    const before = {
      back: await queue(back),
      pre: await queue(pairOf(SKU, PRE)),
      stock: await h.redis.hgetall(k.stock(back)),
    };
    expect(before.back).toEqual(['order:o2', 'cart:c3', 'cart:c1']);
    expect(before.pre).toEqual(['cart:c4']);

    await unlinkTenantKeys(h.redis, k);
    await h.loader.load(t);
    expect(await queue(back)).toEqual(before.back);
    expect(await queue(pairOf(SKU, PRE))).toEqual(before.pre);
    expect(await h.redis.hgetall(k.stock(back))).toEqual(before.stock);
    expect(await mirrorDifferences(h, t)).toEqual([]);

    // a line that starts waiting after the rebuild queues behind the rebuilt ones
    await applied(t, 'e10', cartAdd('c5', 1));
    expect(await queue(back)).toEqual([...before.back, 'cart:c5']);
    // and stock that arrives fills them in that order
    const more = await applied(t, 'e11', {
      op: 'receiveStock',
      sku: SKU,
      locationId: BACK,
      quantity: 10,
    });
    expect(more.outcome.filled?.map((f) => f.referenceId)).toEqual(['o2', 'c3', 'c1', 'c5']);
    expect(await queue(back)).toEqual([]);
    expect(await mirrorDifferences(h, t)).toEqual([]);
  });

  it('random events under backorder and pre-order policies: mirror, read-back and rebuild agree', async () => {
    const t = 'random';
    const r = prng(8080);
    let n = 0;
    // every pair of randomEvent's space sells ahead of stock, some under an ended pre-order
    const skus = ['SKU-A', 'SKU-B', 'sku-a', 'SKU C/9'];
    const locations = ['default', 'wh-2'];
    for (const [i, sku] of skus.entries()) {
      for (const [j, locationId] of locations.entries()) {
        await applied(t, `cfg-${++n}`, {
          op: 'configureStock',
          sku,
          locationId,
          ...((i + j) % 2 === 0
            ? { policy: 'backorder' as const, policyLimit: 6 }
            : {
                policy: 'preorder' as const,
                policyLimit: 4,
                preorderUntil: i === 3 ? Date.now() - 1000 : Date.now() + 3_600_000,
              }),
        });
      }
    }
    const k = h.keys(t);
    const queues = async () => {
      const out: Record<string, string[]> = {};
      for (const key of await scanKeys(h.redis, `${k.base}wait:*`))
        out[key] = await h.redis.zrange(key, 0, -1);
      return out;
    };
    /** Redis lost: the rebuilt queues must be the ones the scripts kept, in the same order. */
    let longest = 0;
    const rebuilt = async () => {
      const before = await queues();
      for (const q of Object.values(before)) longest = Math.max(longest, q.length);
      await unlinkTenantKeys(h.redis, k);
      await h.loader.load(t);
      expect(await queues()).toEqual(before);
      expect(await mirrorDifferences(h, t)).toEqual([]);
    };
    const payloads = [];
    for (let e = 1; e <= 400; e++) {
      const { meta, command } = randomEvent(r, t, e);
      const w = toWrite(await h.engine.apply(meta, command));
      if (!w) continue;
      payloads.push(w.payload);
      expect(await h.writer.write(w.payload, w.entryId)).toBe('committed');
      // rebuild now and then, and whenever holds queue behind others (rare with this mix)
      const now = await queues();
      if (e % 50 === 0 || Object.values(now).some((q) => q.length > 1)) await rebuilt();
    }
    // the run must have made units wait, and filled some, and queued holds behind others
    expect(payloads.some((p) => p.movements.some((m) => m.kind === 'backordered'))).toBe(true);
    expect(payloads.some((p) => p.movements.some((m) => m.kind === 'preordered'))).toBe(true);
    expect(payloads.some((p) => p.outcome.filled?.length)).toBe(true);
    expect(longest).toBeGreaterThan(1);
    for (const p of payloads) {
      const found = await findPayload(h.knex, p.tenant, p.source, p.id);
      expect(found && announced(found)).toEqual(announced(p));
    }
    expect(await mirrorDifferences(h, t)).toEqual([]);
  });
});
