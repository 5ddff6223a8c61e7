import type { Knex } from 'knex';

/** What BI and the CLI read about a tenant's locations, bindings, transfers and unit costs. */

export interface LocationRow {
  locationId: string;
  name: string;
  priority: number;
  shipsTo: string[];
  /** SKUs the location stocks (bound) */
  skus: number;
}

/** The tenant's locations in routing order (priority, then id), with how many SKUs each stocks. */
export async function listLocations(knex: Knex, tenant: string): Promise<LocationRow[]> {
  const [rows] = (await knex.raw(
    `SELECT l.location_id, l.name, l.priority, l.ships_to,
            (SELECT COUNT(*) FROM location_skus b
              WHERE b.tenant = l.tenant AND b.location_id = l.location_id AND b.bound = 1) AS skus
       FROM locations l WHERE l.tenant = ? ORDER BY l.priority, l.location_id`,
    [tenant],
  )) as [{ location_id: string; name: string; priority: number; ships_to: string; skus: number }[]];
  return rows.map((r) => ({
    locationId: r.location_id,
    name: r.name,
    priority: Number(r.priority),
    shipsTo: JSON.parse(r.ships_to) as string[],
    skus: Number(r.skus),
  }));
}

/** The locations that stock a SKU (bound), by id. */
export async function locationsOfSku(knex: Knex, tenant: string, sku: string): Promise<string[]> {
  const rows = (await knex('location_skus')
    .where({ tenant, sku, bound: 1 })
    .orderBy('location_id')
    .select('location_id')) as { location_id: string }[];
  return rows.map((r) => r.location_id);
}

export interface TransferRow {
  transferId: string;
  state: string;
  fromLocationId: string | null;
  toLocationId: string | null;
  /** units planned or shipped (`ordered` of the lines) */
  units: number;
  inTransit: number;
  received: number;
  lines: { sku: string; ordered: number; inTransit: number; received: number }[];
  updatedAt: Date;
}

/** Transfers of a tenant, newest first (optionally in one state). */
export async function listTransfers(
  knex: Knex,
  tenant: string,
  options: { state?: string; limit?: number } = {},
): Promise<TransferRow[]> {
  const q = knex('reservations')
    .where({ tenant, ref_type: 'transfer' })
    .orderBy('updated_at', 'desc')
    .limit(options.limit ?? 100)
    .select('ref_id', 'state', 'lines', 'from_location_id', 'to_location_id', 'updated_at');
  if (options.state) void q.andWhere({ state: options.state });
  const rows = (await q) as {
    ref_id: string;
    state: string;
    lines: string;
    from_location_id: string | null;
    to_location_id: string | null;
    updated_at: Date;
  }[];
  return rows.map((r) => {
    const parsed = JSON.parse(r.lines) as {
      sku: string;
      held: number;
      ordered?: number;
      shipped?: number;
    }[];
    const lines = parsed.map((l) => ({
      sku: l.sku,
      ordered: l.ordered ?? 0,
      inTransit: l.held,
      received: l.shipped ?? 0,
    }));
    const sum = (f: 'ordered' | 'inTransit' | 'received') => lines.reduce((s, l) => s + l[f], 0);
    return {
      transferId: r.ref_id,
      state: r.state,
      fromLocationId: r.from_location_id,
      toLocationId: r.to_location_id,
      units: sum('ordered'),
      inTransit: sum('inTransit'),
      received: sum('received'),
      lines,
      updatedAt: r.updated_at,
    };
  });
}

/** Sets (or, with null, removes) a SKU's unit cost. */
export async function setUnitCost(
  knex: Knex,
  tenant: string,
  sku: string,
  unitCost: number | null,
): Promise<void> {
  if (unitCost === null) {
    await knex('sku_costs').where({ tenant, sku }).delete();
    return;
  }
  await knex.raw(
    `INSERT INTO sku_costs (tenant, sku, unit_cost) VALUES (?, ?, ?)
     ON DUPLICATE KEY UPDATE unit_cost = VALUES(unit_cost), updated_at = CURRENT_TIMESTAMP(3)`,
    [tenant, sku, unitCost],
  );
}

export interface StockValue {
  /** sum of on-hand × unit cost over the SKUs that have a cost */
  value: number;
  /** units on hand those SKUs have */
  unitsValued: number;
  /** SKUs with stock on hand and no unit cost (not in `value`) */
  skusWithoutCost: number;
}

/** The value of the stock on hand at unit cost, where a cost is configured. */
export async function stockValue(knex: Knex, tenant: string): Promise<StockValue> {
  const [rows] = (await knex.raw(
    `SELECT COALESCE(SUM(CASE WHEN c.unit_cost IS NULL THEN 0 ELSE s.on_hand * c.unit_cost END), 0) AS value,
            COALESCE(SUM(CASE WHEN c.unit_cost IS NULL THEN 0 ELSE s.on_hand END), 0) AS units_valued,
            COUNT(DISTINCT CASE WHEN c.unit_cost IS NULL AND s.on_hand <> 0 THEN s.sku END) AS without_cost
       FROM stock_levels s
       LEFT JOIN sku_costs c ON c.tenant = s.tenant AND c.sku = s.sku
      WHERE s.tenant = ?`,
    [tenant],
  )) as [{ value: string | number; units_valued: string | number; without_cost: number }[]];
  const r = rows[0];
  return {
    value: Math.round(Number(r?.value ?? 0) * 10_000) / 10_000,
    unitsValued: Number(r?.units_valued ?? 0),
    skusWithoutCost: Number(r?.without_cost ?? 0),
  };
}
