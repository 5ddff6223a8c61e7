/**
 * THE COMPARISON, not the worker: the usual way commerce platforms move stock, one MySQL
 * transaction per event that locks the stock rows it touches (`SELECT … FOR UPDATE`),
 * checks, updates them, and inserts its ledger rows, with the event's id recorded in the
 * same transaction for de-duplication. Rows are locked in one order (SKU, location), so
 * events on the same SKUs queue on the row locks instead of deadlocking.
 *
 * It implements the commands of the benchmark's workloads (stock received, cart added,
 * order placed, payment succeeded, shipment created, return) with the same outcomes as the
 * worker on those workloads: holds per cart and order, all-or-nothing reservations.
 */
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { Command, EventMeta, Line } from '../../../src/domain/types.js';

export const BASELINE_DDL = [
  `CREATE TABLE bl_stock (
    tenant VARCHAR(64) NOT NULL, sku VARCHAR(128) NOT NULL, location_id VARCHAR(128) NOT NULL,
    on_hand BIGINT NOT NULL DEFAULT 0, reserved BIGINT NOT NULL DEFAULT 0,
    committed BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, sku, location_id))`,
  `CREATE TABLE bl_holds (
    tenant VARCHAR(64) NOT NULL, kind VARCHAR(8) NOT NULL, ref VARCHAR(128) NOT NULL,
    sku VARCHAR(128) NOT NULL, location_id VARCHAR(128) NOT NULL,
    qty BIGINT NOT NULL, paid TINYINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, kind, ref, sku, location_id))`,
  `CREATE TABLE bl_ledger (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    tenant VARCHAR(64) NOT NULL, sku VARCHAR(128) NOT NULL, location_id VARCHAR(128) NOT NULL,
    movement VARCHAR(24) NOT NULL, qty BIGINT NOT NULL,
    on_hand_delta BIGINT NOT NULL, reserved_delta BIGINT NOT NULL,
    committed_delta BIGINT NOT NULL,
    reference_type VARCHAR(16) NULL, reference_id VARCHAR(128) NULL,
    event_source VARCHAR(255) NOT NULL, event_id VARCHAR(128) NOT NULL, line_no INT NOT NULL,
    recorded_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY bl_ledger_event (tenant, event_source, event_id, line_no),
    KEY bl_ledger_sku (tenant, sku, location_id))`,
  `CREATE TABLE bl_processed (
    tenant VARCHAR(64) NOT NULL, source VARCHAR(255) NOT NULL, id VARCHAR(128) NOT NULL,
    type VARCHAR(64) NOT NULL, result VARCHAR(16) NOT NULL DEFAULT 'applied',
    recorded_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (tenant, source, id))`,
];

export type BaselineResult = 'applied' | 'rejected' | 'duplicate';

interface StockRow extends RowDataPacket {
  sku: string;
  location_id: string;
  on_hand: number;
  reserved: number;
}

interface HoldRow extends RowDataPacket {
  sku: string;
  location_id: string;
  qty: number;
  paid: number;
}

type Movement = {
  sku: string;
  locationId: string;
  movement: string;
  onHand: number;
  reserved: number;
  committed?: number;
  refType: string;
  refId: string;
};

const slKey = (sku: string, loc: string) => `${sku}\x1f${loc}`;

/** Locks the stock rows of these lines in (sku, location) order; missing rows are absent. */
async function lockStock(
  c: PoolConnection,
  tenant: string,
  lines: { sku: string; locationId: string }[],
): Promise<Map<string, StockRow>> {
  const keys = [...new Map(lines.map((l) => [slKey(l.sku, l.locationId), l])).values()].sort(
    (a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : a.locationId < b.locationId ? -1 : 1),
  );
  const out = new Map<string, StockRow>();
  if (keys.length === 0) return out;
  const [rows] = await c.query<StockRow[]>(
    `SELECT sku, location_id, on_hand, reserved FROM bl_stock
     WHERE tenant = ? AND (sku, location_id) IN (${keys.map(() => '(?, ?)').join(', ')})
     ORDER BY sku, location_id FOR UPDATE`,
    [tenant, ...keys.flatMap((k) => [k.sku, k.locationId])],
  );
  for (const r of rows) out.set(slKey(r.sku, r.location_id), r);
  return out;
}

async function lockHold(
  c: PoolConnection,
  tenant: string,
  kind: 'cart' | 'order',
  ref: string,
): Promise<HoldRow[]> {
  const [rows] = await c.query<HoldRow[]>(
    `SELECT sku, location_id, qty, paid FROM bl_holds
     WHERE tenant = ? AND kind = ? AND ref = ? ORDER BY sku, location_id FOR UPDATE`,
    [tenant, kind, ref],
  );
  return rows;
}

/** Applies the stock deltas of the movements and inserts their ledger rows. */
async function write(c: PoolConnection, meta: EventMeta, moves: Movement[]): Promise<void> {
  if (moves.length === 0) return;
  const byRow = new Map<
    string,
    { sku: string; loc: string; onHand: number; reserved: number; committed: number }
  >();
  for (const m of moves) {
    const k = slKey(m.sku, m.locationId);
    const r = byRow.get(k) ?? {
      sku: m.sku,
      loc: m.locationId,
      onHand: 0,
      reserved: 0,
      committed: 0,
    };
    r.onHand += m.onHand;
    r.reserved += m.reserved;
    r.committed += m.committed ?? 0;
    byRow.set(k, r);
  }
  for (const r of byRow.values()) {
    await c.query(
      `INSERT INTO bl_stock (tenant, sku, location_id, on_hand, reserved, committed)
       VALUES (?, ?, ?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE on_hand = on_hand + VALUES(on_hand),
         reserved = reserved + VALUES(reserved), committed = committed + VALUES(committed)`,
      [meta.tenant, r.sku, r.loc, r.onHand, r.reserved, r.committed],
    );
  }
  await c.query(
    `INSERT INTO bl_ledger (tenant, sku, location_id, movement, qty, on_hand_delta,
       reserved_delta, committed_delta, reference_type, reference_id, event_source, event_id,
       line_no) VALUES ?`,
    [
      moves.map((m, i) => [
        meta.tenant,
        m.sku,
        m.locationId,
        m.movement,
        Math.abs(m.onHand || m.reserved || (m.committed ?? 0)),
        m.onHand,
        m.reserved,
        m.committed ?? 0,
        m.refType,
        m.refId,
        meta.source,
        meta.id,
        i,
      ]),
    ],
  );
}

const available = (s: StockRow | undefined) => (s ? Number(s.on_hand) - Number(s.reserved) : 0);

/** Reserves all of `want` (sku-location → qty) or nothing: true if every line had stock. */
function enough(stock: Map<string, StockRow>, want: Map<string, number>): boolean {
  for (const [k, q] of want) if (q > 0 && available(stock.get(k)) < q) return false;
  return true;
}

async function upsertHold(
  c: PoolConnection,
  tenant: string,
  kind: 'cart' | 'order',
  ref: string,
  line: Line,
): Promise<void> {
  await c.query(
    `INSERT INTO bl_holds (tenant, kind, ref, sku, location_id, qty) VALUES (?, ?, ?, ?, ?, ?)
     ON DUPLICATE KEY UPDATE qty = qty + VALUES(qty)`,
    [tenant, kind, ref, line.sku, line.locationId, line.quantity],
  );
}

/** The body of one event's transaction; returns what became of it. */
async function applyCommand(
  c: PoolConnection,
  meta: EventMeta,
  cmd: Command,
): Promise<'applied' | 'rejected'> {
  const t = meta.tenant;
  switch (cmd.op) {
    case 'receiveStock': {
      await lockStock(c, t, [cmd]);
      await write(c, meta, [
        {
          sku: cmd.sku,
          locationId: cmd.locationId,
          movement: 'received',
          onHand: cmd.quantity,
          reserved: 0,
          refType: 'stock',
          refId: meta.id,
        },
      ]);
      return 'applied';
    }
    case 'reserveCart': {
      // the baseline does not route: a cart names its location, else `default`
      const line = { ...cmd, locationId: cmd.locationId ?? 'default' };
      const stock = await lockStock(c, t, [line]);
      const k = slKey(line.sku, line.locationId);
      if (!enough(stock, new Map([[k, cmd.quantity]]))) return 'rejected';
      await upsertHold(c, t, 'cart', cmd.cartId, line);
      await write(c, meta, [
        {
          sku: cmd.sku,
          locationId: line.locationId,
          movement: 'reserved',
          onHand: 0,
          reserved: cmd.quantity,
          refType: 'cart',
          refId: cmd.cartId,
        },
      ]);
      return 'applied';
    }
    case 'placeOrder': {
      // the cart's hold converts; what it lacks is reserved, what the order does not take released
      const cart = cmd.cartId ? await lockHold(c, t, 'cart', cmd.cartId) : [];
      const want = new Map<string, number>();
      for (const l of cmd.lines) {
        const k = slKey(l.sku, l.locationId);
        want.set(k, (want.get(k) ?? 0) + l.quantity);
      }
      const delta = new Map(want);
      for (const h of cart) {
        const k = slKey(h.sku, h.location_id);
        delta.set(k, (delta.get(k) ?? 0) - Number(h.qty));
      }
      const stock = await lockStock(
        c,
        t,
        [...delta.keys()].map((k) => {
          const [sku, locationId] = k.split('\x1f') as [string, string];
          return { sku, locationId };
        }),
      );
      if (!enough(stock, delta)) return 'rejected';
      const moves: Movement[] = [];
      for (const [k, d] of delta) {
        if (d === 0) continue;
        const [sku, locationId] = k.split('\x1f') as [string, string];
        moves.push({
          sku,
          locationId,
          movement: d > 0 ? 'reserved' : 'released',
          onHand: 0,
          reserved: d,
          refType: 'order',
          refId: cmd.orderId,
        });
      }
      if (cmd.cartId) {
        await c.query('DELETE FROM bl_holds WHERE tenant = ? AND kind = ? AND ref = ?', [
          t,
          'cart',
          cmd.cartId,
        ]);
      }
      for (const l of cmd.lines) await upsertHold(c, t, 'order', cmd.orderId, l);
      await write(c, meta, moves);
      return 'applied';
    }
    case 'commitOrder': {
      const hold = await lockHold(c, t, 'order', cmd.orderId);
      if (hold.length === 0 || hold.some((h) => h.paid)) return 'applied';
      await c.query('UPDATE bl_holds SET paid = 1 WHERE tenant = ? AND kind = ? AND ref = ?', [
        t,
        'order',
        cmd.orderId,
      ]);
      await lockStock(
        c,
        t,
        hold.map((h) => ({ sku: h.sku, locationId: h.location_id })),
      );
      await write(
        c,
        meta,
        hold.map((h) => ({
          sku: h.sku,
          locationId: h.location_id,
          movement: 'committed',
          onHand: 0,
          reserved: 0,
          committed: Number(h.qty),
          refType: 'order',
          refId: cmd.orderId,
        })),
      );
      return 'applied';
    }
    case 'fulfilShipment': {
      const hold = await lockHold(c, t, 'order', cmd.orderId);
      await lockStock(c, t, cmd.lines);
      const held = new Map(hold.map((h) => [slKey(h.sku, h.location_id), Number(h.qty)]));
      const paid = hold.some((h) => h.paid);
      const moves: Movement[] = cmd.lines.map((l) => {
        const k = slKey(l.sku, l.locationId);
        const fromHold = Math.min(l.quantity, held.get(k) ?? 0);
        held.set(k, (held.get(k) ?? 0) - fromHold);
        return {
          sku: l.sku,
          locationId: l.locationId,
          movement: 'shipped',
          onHand: -l.quantity,
          reserved: -fromHold,
          committed: paid ? -fromHold : 0,
          refType: 'order',
          refId: cmd.orderId,
        };
      });
      for (const [k, q] of held) {
        const [sku, locationId] = k.split('\x1f') as [string, string];
        await c.query(
          'UPDATE bl_holds SET qty = ? WHERE tenant = ? AND kind = ? AND ref = ? AND sku = ? AND location_id = ?',
          [q, t, 'order', cmd.orderId, sku, locationId],
        );
      }
      await write(c, meta, moves);
      return 'applied';
    }
    case 'returnStock': {
      await lockStock(c, t, cmd.lines);
      await write(
        c,
        meta,
        cmd.lines.map((l) => ({
          sku: l.sku,
          locationId: l.locationId,
          movement: 'returned',
          onHand: l.quantity,
          reserved: 0,
          refType: 'rma',
          refId: cmd.rmaId,
        })),
      );
      return 'applied';
    }
    default:
      throw new Error(`the baseline does not implement ${cmd.op}`);
  }
}

const RETRYABLE = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);

/**
 * One event, one transaction: record the event (a duplicate stops here), lock, check,
 * update, insert the ledger rows, commit. A deadlock or lock wait timeout is retried.
 */
export async function applyRowLocking(
  pool: Pool,
  meta: EventMeta,
  cmd: Command,
): Promise<BaselineResult> {
  for (let attempt = 1; ; attempt++) {
    const c = await pool.getConnection();
    try {
      await c.query('START TRANSACTION');
      const [ins] = await c.query<import('mysql2').ResultSetHeader>(
        'INSERT IGNORE INTO bl_processed (tenant, source, id, type) VALUES (?, ?, ?, ?)',
        [meta.tenant, meta.source, meta.id, meta.type],
      );
      if (ins.affectedRows === 0) {
        await c.query('ROLLBACK');
        return 'duplicate';
      }
      const result = await applyCommand(c, meta, cmd);
      if (result === 'rejected') {
        await c.query(
          'UPDATE bl_processed SET result = ? WHERE tenant = ? AND source = ? AND id = ?',
          ['rejected', meta.tenant, meta.source, meta.id],
        );
      }
      await c.query('COMMIT');
      return result;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      const code = (e as { code?: string }).code;
      if (code && RETRYABLE.has(code) && attempt < 20) continue;
      throw e;
    } finally {
      c.release();
    }
  }
}
