import type { Knex } from 'knex';

/**
 * BI: bi_stock_daily_changes (migration 015) gains the two waiting figures of migration 023,
 * `backordered_change` and `preordered_change`, after the columns it had (a reader selecting
 * those by name sees no difference). CREATE OR REPLACE keeps the view's grants.
 */
const view = (waiting: boolean) => `
  CREATE OR REPLACE SQL SECURITY INVOKER VIEW bi_stock_daily_changes AS
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
    COUNT(*) AS movements${
      waiting
        ? `,
    SUM(backordered_delta) AS backordered_change,
    SUM(preordered_delta) AS preordered_change`
        : ''
    }
  FROM inventory_ledger
  GROUP BY tenant, sku, location_id, DATE(COALESCE(occurred_at, recorded_at))
`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(view(true));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(view(false));
}
