import type { Knex } from 'knex';

/**
 * BI: units sold (shipped) and returned per tenant, SKU and day (UTC, every location). Sold
 * counts shipments, not orders: an order placed and never shipped has sold nothing yet.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE SQL SECURITY INVOKER VIEW bi_units_sold_daily AS
    SELECT
      tenant,
      sku,
      DATE(COALESCE(occurred_at, recorded_at)) AS day,
      SUM(CASE WHEN movement = 'shipped' THEN -on_hand_delta ELSE 0 END) AS units_sold,
      SUM(CASE WHEN movement = 'returned' THEN on_hand_delta ELSE 0 END) AS units_returned
    FROM inventory_ledger
    WHERE movement IN ('shipped', 'returned')
    GROUP BY tenant, sku, DATE(COALESCE(occurred_at, recorded_at))
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP VIEW bi_units_sold_daily');
}
