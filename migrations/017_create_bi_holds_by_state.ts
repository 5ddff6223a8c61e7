import type { Knex } from 'knex';

/**
 * BI: holds per tenant, kind (cart, order, transfer) and state, with the units they hold now
 * (the sum of the lines' `held`; for a transfer, the units in transit), from the mirrored
 * `reservations` snapshots. JSON_TABLE: MariaDB 10.6+, MySQL 8.0+.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE SQL SECURITY INVOKER VIEW bi_holds_by_state AS
    SELECT
      r.tenant,
      r.ref_type AS kind,
      r.state,
      COUNT(*) AS holds,
      COALESCE(SUM((
        SELECT SUM(l.held)
        FROM JSON_TABLE(r.\`lines\`, '$[*]' COLUMNS (held BIGINT PATH '$.held')) AS l
      )), 0) AS units_held,
      SUM(r.paid) AS paid,
      MIN(r.created_at) AS oldest_created_at,
      MAX(r.updated_at) AS last_updated_at
    FROM reservations AS r
    GROUP BY r.tenant, r.ref_type, r.state
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP VIEW bi_holds_by_state');
}
