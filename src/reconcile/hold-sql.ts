import type { Knex } from 'knex';
import { pairOf } from '../engine/keys.js';
import type { ReservationRow } from '../ledger/hold-hash.js';

/** The holds the reconciliation compares: carts and orders (transfers hold no stock). */
export type HoldKindChecked = 'cart' | 'order';
export const HOLD_KINDS: readonly HoldKindChecked[] = ['cart', 'order'];

type Db = Knex | Knex.Transaction;

export interface IdRange {
  after?: string | undefined;
  upto?: string | undefined;
}

function rangeSql(column: string, r: IdRange): { sql: string; args: string[] } {
  let sql = '';
  const args: string[] = [];
  if (r.after !== undefined) {
    sql += ` AND ${column} > ?`;
    args.push(r.after);
  }
  if (r.upto !== undefined) {
    sql += ` AND ${column} <= ?`;
    args.push(r.upto);
  }
  return { sql, args };
}

const marks = (n: number) => Array.from({ length: n }, () => '?').join(',');

/** A page of one kind's reference ids from `table`, in the range, in key order, at most `limit`. */
async function idsPage(
  db: Db,
  from: { table: string; id: string; type: string },
  tenant: string,
  kind: HoldKindChecked,
  range: IdRange,
  limit: number,
): Promise<string[]> {
  const r = rangeSql(from.id, range);
  const [rows] = (await db.raw(
    `SELECT DISTINCT ${from.id} AS id FROM ${from.table}
      WHERE tenant = ? AND ${from.type} = ?${r.sql} ORDER BY ${from.id} LIMIT ?`,
    [tenant, kind, ...r.args, limit],
  )) as [{ id: string }[]];
  return rows.map((x) => x.id);
}

/** Ids of `reservations` rows of one kind in the range, in key order, at most `limit`. */
export const reservationIdsPage = (
  db: Db,
  tenant: string,
  kind: HoldKindChecked,
  range: IdRange,
  limit: number,
): Promise<string[]> =>
  idsPage(
    db,
    { table: 'reservations', id: 'ref_id', type: 'ref_type' },
    tenant,
    kind,
    range,
    limit,
  );

/** References of one kind the ledger has rows for, in the range, in key order, at most `limit`. */
export const ledgerRefIdsPage = (
  db: Db,
  tenant: string,
  kind: HoldKindChecked,
  range: IdRange,
  limit: number,
): Promise<string[]> =>
  idsPage(
    db,
    { table: 'inventory_ledger', id: 'reference_id', type: 'reference_type' },
    tenant,
    kind,
    range,
    limit,
  );

export async function reservationsOf(
  db: Db,
  tenant: string,
  kind: HoldKindChecked,
  ids: string[],
): Promise<Map<string, ReservationRow>> {
  const out = new Map<string, ReservationRow>();
  if (ids.length === 0) return out;
  const [rows] = (await db.raw(
    `SELECT ref_type, ref_id, state, \`lines\`, link, paid, payment_id, from_location_id,
            to_location_id, expires_at, version, updated_at, shipments
       FROM reservations WHERE tenant = ? AND ref_type = ? AND ref_id IN (${marks(ids.length)})`,
    [tenant, kind, ...ids],
  )) as [ReservationRow[]];
  for (const r of rows) out.set(r.ref_id, r);
  return out;
}

/** The units a hold has at one pair: held (reserved, committed when paid) and waiting. */
export interface HoldUnits {
  reserved: number;
  committed: number;
  backordered: number;
  preordered: number;
}

export const HOLD_UNITS = ['reserved', 'committed', 'backordered', 'preordered'] as const;

export const noUnits = (): HoldUnits => ({
  reserved: 0,
  committed: 0,
  backordered: 0,
  preordered: 0,
});

/** The units a reference has, per pair, as the ledger sums them. */
export type LedgerHeld = Map<string, HoldUnits>;

export async function ledgerHeldOf(
  db: Db,
  tenant: string,
  kind: HoldKindChecked,
  ids: string[],
): Promise<Map<string, LedgerHeld>> {
  const out = new Map<string, LedgerHeld>();
  if (ids.length === 0) return out;
  const [rows] = (await db.raw(
    `SELECT reference_id, sku, location_id, SUM(reserved_delta) AS reserved,
            SUM(committed_delta) AS committed, SUM(backordered_delta) AS backordered,
            SUM(preordered_delta) AS preordered
       FROM inventory_ledger
      WHERE tenant = ? AND reference_type = ? AND reference_id IN (${marks(ids.length)})
      GROUP BY reference_id, sku, location_id`,
    [tenant, kind, ...ids],
  )) as [
    {
      reference_id: string;
      sku: string;
      location_id: string;
      reserved: string;
      committed: string;
      backordered: string;
      preordered: string;
    }[],
  ];
  for (const r of rows) {
    let held = out.get(r.reference_id);
    if (!held) out.set(r.reference_id, (held = new Map()));
    held.set(pairOf(r.sku, r.location_id), {
      reserved: Number(r.reserved),
      committed: Number(r.committed),
      backordered: Number(r.backordered),
      preordered: Number(r.preordered),
    });
  }
  return out;
}

/** Which of the references MySQL knows (a reservations row or ledger rows). */
export async function knownRefs(
  db: Db,
  tenant: string,
  kind: HoldKindChecked,
  ids: string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const m = marks(ids.length);
  const [rows] = (await db.raw(
    `SELECT ref_id AS id FROM reservations WHERE tenant = ? AND ref_type = ? AND ref_id IN (${m})
     UNION SELECT DISTINCT reference_id FROM inventory_ledger
      WHERE tenant = ? AND reference_type = ? AND reference_id IN (${m})`,
    [tenant, kind, ...ids, tenant, kind, ...ids],
  )) as [{ id: string }[]];
  return new Set(rows.map((r) => r.id));
}

export async function countReservations(db: Db, tenant: string): Promise<number> {
  const [rows] = (await db.raw(
    "SELECT COUNT(*) AS n FROM reservations WHERE tenant = ? AND ref_type IN ('cart', 'order')",
    [tenant],
  )) as [{ n: number | string }[]];
  return Number(rows[0]?.n ?? 0);
}
