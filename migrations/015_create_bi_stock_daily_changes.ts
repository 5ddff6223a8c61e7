import type { Knex } from 'knex';

/**
 * BI: the net change of every figure per tenant, SKU, location and day (UTC, by when the
 * movement happened: the event's `time`, else when it was recorded). Stock on a date is the
 * sum of the changes up to it:
 *   SELECT sku, location_id, SUM(on_hand_change) AS on_hand FROM bi_stock_daily_changes
 *   WHERE tenant = 'acme' AND day <= '2026-11-21' GROUP BY sku, location_id
 * SQL SECURITY INVOKER: a reader needs SELECT on the ledger too (the BI grant gives it), and
 * the view does not depend on the account that ran the migration.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE SQL SECURITY INVOKER VIEW bi_stock_daily_changes AS
    SELECT
      tenant,
      sku,
      location_id,
      DATE(COALESCE(occurred_at, recorded_at)) AS day,
      SUM(on_hand_delta) AS on_hand_change,
      SUM(reserved_delta) AS reserved_change,
      SUM(committed_delta) AS committed_change,
      SUM(unavailable_delta) AS unavailable_change,
      SUM(incoming_delta) AS incoming_change,
      COUNT(*) AS movements
    FROM inventory_ledger
    GROUP BY tenant, sku, location_id, DATE(COALESCE(occurred_at, recorded_at))
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP VIEW bi_stock_daily_changes');
}
