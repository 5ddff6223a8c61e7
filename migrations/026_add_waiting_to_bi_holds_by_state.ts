import type { Knex } from 'knex';

/**
 * BI: bi_holds_by_state (migration 017) gains `units_waiting`, the units the holds have
 * waiting for stock (the lines' `backordered` + `preordered`, absent when 0), after the
 * columns it had. `units_held` stays the units backed by stock on hand. CREATE OR REPLACE
 * keeps the view's grants.
 */
const view = (waiting: boolean) => `
  CREATE OR REPLACE SQL SECURITY INVOKER VIEW bi_holds_by_state AS
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
    MAX(r.updated_at) AS last_updated_at${
      waiting
        ? `,
    COALESCE(SUM((
      SELECT SUM(COALESCE(l.backordered, 0) + COALESCE(l.preordered, 0))
      FROM JSON_TABLE(r.\`lines\`, '$[*]' COLUMNS (
        backordered BIGINT PATH '$.backordered',
        preordered BIGINT PATH '$.preordered'
      )) AS l
    )), 0) AS units_waiting`
        : ''
    }
  FROM reservations AS r
  GROUP BY r.tenant, r.ref_type, r.state
`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(view(true));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(view(false));
}
