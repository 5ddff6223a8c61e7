import type { Knex } from 'knex';

/**
 * BI: shrinkage, the units that left on-hand other than by shipping or transfer, per tenant,
 * day (UTC) and reason code: negative `stock.adjusted` (its `reason`: damage, theft,
 * write-off, ...) and physical counts that found fewer units than expected (reason `count`).
 * Positive adjustments and counts (found stock) are not shrinkage and are left out.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE SQL SECURITY INVOKER VIEW bi_shrinkage_daily AS
    SELECT
      tenant,
      DATE(COALESCE(occurred_at, recorded_at)) AS day,
      reason,
      SUM(-on_hand_delta) AS units_lost,
      COUNT(*) AS movements,
      COUNT(DISTINCT sku) AS skus
    FROM inventory_ledger
    WHERE movement IN ('adjusted', 'counted') AND on_hand_delta < 0
    GROUP BY tenant, DATE(COALESCE(occurred_at, recorded_at)), reason
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP VIEW bi_shrinkage_daily');
}
