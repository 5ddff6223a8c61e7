import type { Knex } from 'knex';
import { pairOf } from '../engine/keys.js';
import type { Figures } from './types.js';

/** A stock pair as MySQL keys it. */
export interface PairKey {
  sku: string;
  locationId: string;
}

export interface StockLevel extends PairKey {
  figures: Figures;
  reorderLevel: number | null;
  reorderQuantity: number | null;
  /** the selling policy as the stock hash keeps it (see copyTenant's policyFields) */
  policy: PolicyColumns;
}

export interface PolicyColumns {
  policy: string;
  policy_limit: number | string;
  preorder_until: Date | null;
}

export interface LedgerSum extends PairKey {
  figures: Figures;
}

/** Pages are bounded by (after, upto] in MySQL's own order (never compared in JS). */
export interface PairRange {
  after?: PairKey | undefined;
  upto?: PairKey | undefined;
}

export function rangeSql(r: PairRange): { sql: string; args: string[] } {
  let sql = '';
  const args: string[] = [];
  // `sku >= ?` / `sku <= ?` give the optimizer a range to seek to; the OR alone makes it scan
  // the tenant's whole index from its start on every page
  if (r.after) {
    sql += ' AND sku >= ? AND (sku > ? OR location_id > ?)';
    args.push(r.after.sku, r.after.sku, r.after.locationId);
  }
  if (r.upto) {
    sql += ' AND sku <= ? AND (sku < ? OR location_id <= ?)';
    args.push(r.upto.sku, r.upto.sku, r.upto.locationId);
  }
  return { sql, args };
}

export function pairsSql(pairs: PairKey[]): { sql: string; args: string[] } {
  return {
    sql: ` AND (${pairs.map(() => '(sku = ? AND location_id = ?)').join(' OR ')})`,
    args: pairs.flatMap((p) => [p.sku, p.locationId]),
  };
}

type Num = number | string;

interface PairRow {
  sku: string;
  location_id: string;
}

interface FigureRow {
  on_hand: Num;
  reserved: Num;
  committed: Num;
  unavailable: Num;
  incoming: Num;
  backordered: Num;
  preordered: Num;
}

interface StockRow extends FigureRow, PolicyColumns {
  sku: string;
  location_id: string;
  reorder_level: number | null;
  reorder_quantity: number | null;
}

const figuresOf = (r: FigureRow): Figures => ({
  onHand: Number(r.on_hand),
  reserved: Number(r.reserved),
  committed: Number(r.committed),
  unavailable: Number(r.unavailable),
  incoming: Number(r.incoming),
  backordered: Number(r.backordered),
  preordered: Number(r.preordered),
});

const STOCK_COLUMNS =
  'sku, location_id, on_hand, reserved, committed, unavailable, incoming, backordered, ' +
  'preordered, reorder_level, reorder_quantity, policy, policy_limit, preorder_until';

const toLevel = (r: StockRow): StockLevel => ({
  sku: r.sku,
  locationId: r.location_id,
  figures: figuresOf(r),
  reorderLevel: r.reorder_level,
  reorderQuantity: r.reorder_quantity,
  policy: { policy: r.policy, policy_limit: r.policy_limit, preorder_until: r.preorder_until },
});

/** `stock_levels` rows of the tenant in the range, in key order, at most `limit`. */
export async function stockLevelsPage(
  db: Knex | Knex.Transaction,
  tenant: string,
  range: PairRange,
  limit: number,
): Promise<StockLevel[]> {
  const r = rangeSql(range);
  const [rows] = (await db.raw(
    `SELECT ${STOCK_COLUMNS} FROM stock_levels WHERE tenant = ?${r.sql}
      ORDER BY sku, location_id LIMIT ?`,
    [tenant, ...r.args, limit],
  )) as [StockRow[]];
  return rows.map(toLevel);
}

const SUMS =
  'SUM(on_hand_delta) AS on_hand, SUM(reserved_delta) AS reserved, SUM(committed_delta) AS committed, ' +
  'SUM(unavailable_delta) AS unavailable, SUM(incoming_delta) AS incoming, ' +
  'SUM(backordered_delta) AS backordered, SUM(preordered_delta) AS preordered';

/** The ledger's sums per pair of the tenant in the range, in key order, at most `limit` pairs. */
export async function ledgerSumsPage(
  db: Knex | Knex.Transaction,
  tenant: string,
  range: PairRange,
  limit: number,
): Promise<LedgerSum[]> {
  const r = rangeSql(range);
  const [rows] = (await db.raw(
    `SELECT sku, location_id, ${SUMS} FROM inventory_ledger WHERE tenant = ?${r.sql}
      GROUP BY sku, location_id ORDER BY sku, location_id LIMIT ?`,
    [tenant, ...r.args, limit],
  )) as [(FigureRow & PairRow)[]];
  return rows.map((row) => ({
    sku: row.sku,
    locationId: row.location_id,
    figures: figuresOf(row),
  }));
}

/** `stock_levels` rows of the given pairs, by pair. */
export async function stockLevelsOf(
  db: Knex | Knex.Transaction,
  tenant: string,
  pairs: PairKey[],
): Promise<Map<string, StockLevel>> {
  const out = new Map<string, StockLevel>();
  if (pairs.length === 0) return out;
  const p = pairsSql(pairs);
  const [rows] = (await db.raw(
    `SELECT ${STOCK_COLUMNS} FROM stock_levels WHERE tenant = ?${p.sql}`,
    [tenant, ...p.args],
  )) as [StockRow[]];
  for (const row of rows) out.set(pairOf(row.sku, row.location_id), toLevel(row));
  return out;
}

/** The ledger's sums of the given pairs, by pair (pairs without rows are absent). */
export async function ledgerSumsOf(
  db: Knex | Knex.Transaction,
  tenant: string,
  pairs: PairKey[],
): Promise<Map<string, Figures>> {
  const out = new Map<string, Figures>();
  if (pairs.length === 0) return out;
  const p = pairsSql(pairs);
  const [rows] = (await db.raw(
    `SELECT sku, location_id, ${SUMS} FROM inventory_ledger WHERE tenant = ?${p.sql}
      GROUP BY sku, location_id`,
    [tenant, ...p.args],
  )) as [(FigureRow & PairRow)[]];
  for (const row of rows) out.set(pairOf(row.sku, row.location_id), figuresOf(row));
  return out;
}

/** Which of the pairs MySQL knows (a stock_levels row or ledger rows). */
export async function knownPairs(
  db: Knex | Knex.Transaction,
  tenant: string,
  pairs: PairKey[],
): Promise<Set<string>> {
  const out = new Set<string>();
  if (pairs.length === 0) return out;
  const p = pairsSql(pairs);
  const [rows] = (await db.raw(
    `SELECT sku, location_id FROM stock_levels WHERE tenant = ?${p.sql}
     UNION SELECT DISTINCT sku, location_id FROM inventory_ledger WHERE tenant = ?${p.sql}`,
    [tenant, ...p.args, tenant, ...p.args],
  )) as [{ sku: string; location_id: string }[]];
  for (const row of rows) out.add(pairOf(row.sku, row.location_id));
  return out;
}

export async function countStockLevels(db: Knex, tenant: string): Promise<number> {
  const [rows] = (await db.raw('SELECT COUNT(*) AS n FROM stock_levels WHERE tenant = ?', [
    tenant,
  ])) as [{ n: Num }[]];
  return Number(rows[0]?.n ?? 0);
}
