import type { Knex } from 'knex';

/**
 * The ledger's "one row per event and line" key becomes (event_ref, line_no), in place of the
 * wide (tenant, event_source, event_id, line_no), one of the four indexes every ledger insert
 * maintains. tenant, event_source and event_id stay as columns for BI. One ALTER statement:
 * the column turns NOT NULL, the new key is added and the old one dropped together or not at
 * all. (The other indexes stay: by tenant, SKU and location for history and the sums; by
 * reference; by occurred_at for daily reports.)
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE inventory_ledger
      MODIFY event_ref BIGINT UNSIGNED NOT NULL,
      ADD UNIQUE KEY inventory_ledger_event_line (event_ref, line_no),
      DROP KEY inventory_ledger_line
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE inventory_ledger
      ADD UNIQUE KEY inventory_ledger_line (tenant, event_source, event_id, line_no),
      DROP KEY inventory_ledger_event_line,
      MODIFY event_ref BIGINT UNSIGNED NULL
  `);
}
