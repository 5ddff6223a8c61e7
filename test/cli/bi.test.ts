import { randomBytes } from 'node:crypto';
import { createConnection, type Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseMysqlUrl } from '../../src/ledger/db.js';
import { publishEvents } from '../support/rabbit.js';
import { startTestWorker, waitFor, type TestWorker } from '../support/worker.js';
import { inventory } from './run.js';

/**
 * A small known scenario over three days, then what BI sees through a read-only account made
 * by `inventory bi-grant`: the bi_* views and docs/tables.md's example queries, with their figures.
 */
let w: TestWorker;
let env: Record<string, string>;
let bi: Connection;
const T = 'bi';
const user = `bi_${randomBytes(4).toString('hex')}`;
const password = randomBytes(12).toString('hex');

const DAY1 = '2026-11-20T09:00:00Z';
const DAY2 = '2026-11-21T10:00:00Z';
const DAY3 = '2026-11-22T11:00:00Z';
let n = 0;
const ev = (type: string, data: Record<string, unknown>, time?: string) => ({
  type,
  id: `bi-${++n}`,
  tenant: T,
  ...(time ? { time } : {}),
  data,
});

async function publishAndWait(events: ReturnType<typeof ev>[]): Promise<void> {
  await publishEvents(w.amqpUrl, events);
  const knex = w.worker.services.knex;
  await waitFor(
    async () =>
      Number(((await knex('processed_events').count({ n: '*' })) as { n: number }[])[0]?.n) === n,
    30_000,
    `${n} events in the ledger`,
  );
}

beforeAll(async () => {
  w = await startTestWorker('bi');
  env = { AMQP_URL: w.amqpUrl, MYSQL_URL: w.config.MYSQL_URL, REDIS_PREFIX: w.config.REDIS_PREFIX };
  // one phase at a time: each depends on the one before
  await publishAndWait([
    ev('stock.received', { sku: 'A', quantity: 100 }, DAY1),
    ev('stock.received', { sku: 'B', quantity: 50 }, DAY1),
  ]);
  await publishAndWait([
    ev('cart.added', { cartId: 'c1', sku: 'A', quantity: 2 }, DAY2),
    ev('order.placed', { orderId: 'o2', lines: [{ sku: 'A', quantity: 5 }] }, DAY2),
  ]);
  await publishAndWait([
    ev('order.placed', { orderId: 'o1', cartId: 'c1', lines: [{ sku: 'A', quantity: 2 }] }, DAY2),
    ev('payment.succeeded', { orderId: 'o2', paymentId: 'p2' }, DAY2),
  ]);
  await publishAndWait([
    ev('payment.succeeded', { orderId: 'o1', paymentId: 'p1' }, DAY2),
    ev(
      'shipment.created',
      { shipmentId: 's2', orderId: 'o2', lines: [{ sku: 'A', quantity: 3 }] },
      DAY2,
    ),
  ]);
  await publishAndWait([
    ev(
      'shipment.created',
      { shipmentId: 's1', orderId: 'o1', lines: [{ sku: 'A', quantity: 2 }] },
      DAY2,
    ),
  ]);
  await publishAndWait([
    ev('rma.passed', { rmaId: 'r1', orderId: 'o1', lines: [{ sku: 'A', quantity: 1 }] }, DAY3),
    ev('stock.adjusted', { sku: 'A', delta: -4, reason: 'damage' }, DAY3),
    ev('stock.adjusted', { sku: 'B', delta: -2, reason: 'theft' }, DAY3),
    ev('cart.added', { cartId: 'c2', sku: 'B', quantity: 1 }), // today, still open
  ]);
  await publishAndWait([
    ev('stock.counted', { sku: 'B', onHand: 45 }, DAY3), // 48 expected: 3 missing
    ev('stock.adjusted', { sku: 'A', delta: 1, reason: 'found' }, DAY3), // not shrinkage
  ]);

  // TCP from here comes from 127.0.0.1 (the server may not resolve it to 'localhost')
  const granted = await inventory(['bi-grant', '--user', user, '--host', '127.0.0.1'], {
    ...env,
    BI_PASSWORD: password,
  });
  expect(granted.stderr).toBe('');
  expect(granted.code).toBe(0);
  const { host, port, database } = parseMysqlUrl(w.config.MYSQL_URL);
  bi = await createConnection({ host, port, user, password, database, dateStrings: true });
});

afterAll(async () => {
  await bi?.end();
  if (env) await inventory(['bi-revoke', '--user', user, '--host', '127.0.0.1', '--yes'], env);
  await w?.cleanup();
});

const rows = async (sql: string, values: unknown[] = []) =>
  (await bi.query(sql, values))[0] as Record<string, unknown>[];

/** Numbers come back as strings from SUM over BIGINT (DECIMAL): compare as numbers. */
const numbers = (r: Record<string, unknown>[]) =>
  r.map((o) =>
    Object.fromEntries(
      Object.entries(o).map(([k, v]) => [
        k,
        typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v,
      ]),
    ),
  );

describe('BI through a read-only account', () => {
  test('stock on a date, from the daily changes view and from the ledger itself', async () => {
    const onDate = (day: string) =>
      rows(
        `SELECT sku, SUM(on_hand_change) AS on_hand, SUM(reserved_change) AS reserved
         FROM bi_stock_daily_changes WHERE tenant = ? AND day <= ? GROUP BY sku ORDER BY sku`,
        [T, day],
      ).then(numbers);
    expect(await onDate('2026-11-19')).toEqual([]);
    expect(await onDate('2026-11-20')).toEqual([
      { sku: 'A', on_hand: 100, reserved: 0 },
      { sku: 'B', on_hand: 50, reserved: 0 },
    ]);
    expect(await onDate('2026-11-21')).toEqual([
      { sku: 'A', on_hand: 95, reserved: 2 },
      { sku: 'B', on_hand: 50, reserved: 0 },
    ]);
    expect(await onDate('2026-11-22')).toEqual([
      { sku: 'A', on_hand: 93, reserved: 2 },
      { sku: 'B', on_hand: 45, reserved: 0 },
    ]);
    // docs/tables.md's raw-ledger form (index: inventory_ledger_stock), end of 2026-11-21 UTC
    expect(
      numbers(
        await rows(
          `SELECT sku, location_id, SUM(on_hand_delta) AS on_hand
           FROM inventory_ledger
           WHERE tenant = ? AND occurred_at < ? + INTERVAL 1 DAY
           GROUP BY sku, location_id ORDER BY sku, location_id`,
          [T, '2026-11-21'],
        ),
      ),
    ).toEqual([
      { sku: 'A', location_id: 'default', on_hand: 95 },
      { sku: 'B', location_id: 'default', on_hand: 50 },
    ]);
    // and today's sums are stock_levels
    expect(
      numbers(
        await rows(
          'SELECT sku, on_hand, reserved, available FROM stock_levels WHERE tenant = ? ORDER BY sku',
          [T],
        ),
      ),
    ).toEqual([
      { sku: 'A', on_hand: 93, reserved: 2, available: 91 },
      { sku: 'B', on_hand: 45, reserved: 1, available: 44 },
    ]);
  });

  test('units sold per SKU per day', async () => {
    expect(
      numbers(
        await rows(
          'SELECT sku, day, units_sold, units_returned FROM bi_units_sold_daily WHERE tenant = ? ORDER BY sku, day',
          [T],
        ),
      ),
    ).toEqual([
      { sku: 'A', day: '2026-11-21', units_sold: 5, units_returned: 0 },
      { sku: 'A', day: '2026-11-22', units_sold: 0, units_returned: 1 },
    ]);
    // docs/tables.md's raw-ledger form (index: inventory_ledger_movement_time)
    expect(
      numbers(
        await rows(
          `SELECT sku, DATE(occurred_at) AS day, SUM(-on_hand_delta) AS units
           FROM inventory_ledger
           WHERE tenant = ? AND movement = 'shipped'
             AND occurred_at >= ? AND occurred_at < ?
           GROUP BY sku, DATE(occurred_at) ORDER BY sku, day`,
          [T, '2026-11-01', '2026-12-01'],
        ),
      ),
    ).toEqual([{ sku: 'A', day: '2026-11-21', units: 5 }]);
  });

  test('holds by state', async () => {
    expect(
      numbers(
        await rows(
          'SELECT kind, state, holds, units_held, paid FROM bi_holds_by_state WHERE tenant = ? ORDER BY kind, state',
          [T],
        ),
      ),
    ).toEqual([
      { kind: 'cart', state: 'converted', holds: 1, units_held: 0, paid: 0 },
      { kind: 'cart', state: 'open', holds: 1, units_held: 1, paid: 0 },
      { kind: 'order', state: 'fulfilled', holds: 1, units_held: 0, paid: 1 },
      { kind: 'order', state: 'paid', holds: 1, units_held: 2, paid: 1 },
    ]);
  });

  test('shrinkage by reason code', async () => {
    expect(
      numbers(
        await rows(
          'SELECT day, reason, units_lost, movements FROM bi_shrinkage_daily WHERE tenant = ? ORDER BY reason',
          [T],
        ),
      ),
    ).toEqual([
      { day: '2026-11-22', reason: 'count', units_lost: 3, movements: 1 },
      { day: '2026-11-22', reason: 'damage', units_lost: 4, movements: 1 },
      { day: '2026-11-22', reason: 'theft', units_lost: 2, movements: 1 },
    ]);
  });

  test('the account reads only what BI needs, and writes nothing', async () => {
    await expect(
      bi.query("INSERT INTO stock_levels (tenant, sku, location_id) VALUES ('bi', 'X', 'default')"),
    ).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
    await expect(
      bi.query("DELETE FROM inventory_ledger WHERE tenant = 'bi'"),
    ).rejects.toMatchObject({
      code: 'ER_TABLEACCESS_DENIED_ERROR',
    });
    await expect(bi.query('SELECT COUNT(*) FROM processed_events')).rejects.toMatchObject({
      code: 'ER_TABLEACCESS_DENIED_ERROR',
    });
    await expect(bi.query('CREATE TABLE t (x INT)')).rejects.toMatchObject({
      code: expect.stringMatching(/DENIED/) as unknown,
    });
    // nothing changed
    expect(
      numbers(await rows('SELECT COUNT(*) AS n FROM stock_levels WHERE tenant = ?', [T])),
    ).toEqual([{ n: 2 }]);
  });
});
