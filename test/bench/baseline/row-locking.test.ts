import { createConnection, createPool, type Pool, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command, EventMeta } from '../../../src/domain/types.js';
import { parseMysqlUrl } from '../../../src/ledger/db.js';
import { dropTestDatabase, TEST_MYSQL_SERVER, uniqueName } from '../../support/isolation.js';
import { applyRowLocking, BASELINE_DDL } from './row-locking.js';

// The comparison must be a correct implementation, or beating it proves nothing.
const url = `${TEST_MYSQL_SERVER}/${uniqueName('baseline')}`;
let pool: Pool;

beforeAll(async () => {
  const { database, ...server } = parseMysqlUrl(url);
  const c = await createConnection(server);
  await c.query(`CREATE DATABASE \`${database}\``);
  await c.changeUser({ database });
  for (const ddl of BASELINE_DDL) await c.query(ddl);
  await c.end();
  pool = createPool({ ...server, database, connectionLimit: 16 });
});

afterAll(async () => {
  await pool.end();
  await dropTestDatabase(url);
});

let n = 0;
const meta = (type: string, tenant: string): EventMeta => ({
  tenant,
  source: '/test',
  id: `e${++n}`,
  type,
  occurredAt: new Date().toISOString(),
});
const apply = (tenant: string, type: string, cmd: Command) =>
  applyRowLocking(pool, meta(type, tenant), cmd);

async function stock(tenant: string, sku: string) {
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT on_hand, reserved, committed FROM bl_stock WHERE tenant = ? AND sku = ?',
    [tenant, sku],
  );
  const r = rows[0]!;
  return {
    onHand: Number(r.on_hand),
    reserved: Number(r.reserved),
    committed: Number(r.committed),
  };
}

async function ledgerSums(tenant: string, sku: string) {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT COALESCE(SUM(on_hand_delta), 0) AS on_hand, COALESCE(SUM(reserved_delta), 0) AS reserved
     FROM bl_ledger WHERE tenant = ? AND sku = ?`,
    [tenant, sku],
  );
  return { onHand: Number(rows[0]!.on_hand), reserved: Number(rows[0]!.reserved) };
}

const cartAdd = (cartId: string, sku: string, quantity: number): Command => ({
  op: 'reserveCart',
  cartId,
  sku,
  locationId: 'default',
  quantity,
  ttlMs: 3_600_000,
});

describe('row-locking baseline', () => {
  it('never oversells a hot SKU under parallel reservations', async () => {
    await apply('t1', 'stock.received', {
      op: 'receiveStock',
      sku: 'HOT',
      locationId: 'default',
      quantity: 50,
    });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => apply('t1', 'cart.added', cartAdd(`c${i}`, 'HOT', 1))),
    );
    expect(results.filter((r) => r === 'applied')).toHaveLength(50);
    expect(results.filter((r) => r === 'rejected')).toHaveLength(150);
    expect(await stock('t1', 'HOT')).toEqual({ onHand: 50, reserved: 50, committed: 0 });
    expect(await ledgerSums('t1', 'HOT')).toEqual({ onHand: 50, reserved: 50 });
  });

  it('applies an event once', async () => {
    const m = meta('stock.received', 't2');
    const cmd: Command = { op: 'receiveStock', sku: 'A', locationId: 'default', quantity: 5 };
    expect(await applyRowLocking(pool, m, cmd)).toBe('applied');
    expect(await applyRowLocking(pool, m, cmd)).toBe('duplicate');
    expect(await stock('t2', 'A')).toEqual({ onHand: 5, reserved: 0, committed: 0 });
  });

  it('runs a shopper through cart, order, payment, shipment and return', async () => {
    const t = 't3';
    for (const sku of ['A', 'B', 'C']) {
      await apply(t, 'stock.received', {
        op: 'receiveStock',
        sku,
        locationId: 'default',
        quantity: 10,
      });
    }
    await apply(t, 'cart.added', cartAdd('cart', 'A', 2));
    await apply(t, 'cart.added', cartAdd('cart', 'B', 1));
    // the order takes A x2 from the cart, C x3 more, and not B: B is released
    const lines = [
      { sku: 'A', locationId: 'default', quantity: 2 },
      { sku: 'C', locationId: 'default', quantity: 3 },
    ];
    expect(
      await apply(t, 'order.placed', { op: 'placeOrder', orderId: 'o', cartId: 'cart', lines }),
    ).toBe('applied');
    expect(await stock(t, 'B')).toEqual({ onHand: 10, reserved: 0, committed: 0 });
    expect(await stock(t, 'C')).toEqual({ onHand: 10, reserved: 3, committed: 0 });
    await apply(t, 'payment.succeeded', { op: 'commitOrder', orderId: 'o', paymentId: 'p' });
    expect(await stock(t, 'A')).toEqual({ onHand: 10, reserved: 2, committed: 2 });
    await apply(t, 'shipment.created', {
      op: 'fulfilShipment',
      shipmentId: 's',
      orderId: 'o',
      lines,
    });
    expect(await stock(t, 'C')).toEqual({ onHand: 7, reserved: 0, committed: 0 });
    await apply(t, 'rma.passed', {
      op: 'returnStock',
      rmaId: 'r',
      orderId: 'o',
      lines: [{ sku: 'C', locationId: 'default', quantity: 1, disposition: 'restock' }],
    });
    expect(await stock(t, 'C')).toEqual({ onHand: 8, reserved: 0, committed: 0 });
    for (const sku of ['A', 'B', 'C']) {
      const s = await stock(t, sku);
      expect(await ledgerSums(t, sku)).toEqual({ onHand: s.onHand, reserved: s.reserved });
    }
  });

  it('refuses an order whose extra units are not there, all lines or none', async () => {
    const t = 't4';
    await apply(t, 'stock.received', {
      op: 'receiveStock',
      sku: 'A',
      locationId: 'default',
      quantity: 1,
    });
    await apply(t, 'stock.received', {
      op: 'receiveStock',
      sku: 'B',
      locationId: 'default',
      quantity: 9,
    });
    const r = await apply(t, 'order.placed', {
      op: 'placeOrder',
      orderId: 'o',
      lines: [
        { sku: 'B', locationId: 'default', quantity: 4 },
        { sku: 'A', locationId: 'default', quantity: 2 },
      ],
    });
    expect(r).toBe('rejected');
    expect(await stock(t, 'B')).toEqual({ onHand: 9, reserved: 0, committed: 0 });
  });
});
