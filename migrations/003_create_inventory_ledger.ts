import type { Knex } from 'knex';

/**
 * The append-only ledger BI reads (fixed name): one row per movement of one SKU at one
 * location. `qty` is the movement's headline quantity; the five deltas are exact, so the sums
 * per SKU and location equal `stock_levels`. `reason` is 128 wide because it carries the
 * event's own reason (an id string of up to 128 characters), not only our short codes.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE inventory_ledger (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
      tenant VARCHAR(64) NOT NULL,
      sku VARCHAR(128) NOT NULL,
      location_id VARCHAR(128) NOT NULL,
      movement VARCHAR(32) NOT NULL,
      qty INT NOT NULL,
      on_hand_delta INT NOT NULL,
      reserved_delta INT NOT NULL,
      committed_delta INT NOT NULL,
      unavailable_delta INT NOT NULL,
      incoming_delta INT NOT NULL,
      reason VARCHAR(128) NOT NULL DEFAULT '',
      reference_type VARCHAR(16) NOT NULL,
      reference_id VARCHAR(128) NOT NULL,
      event_source VARCHAR(255) NOT NULL,
      event_id VARCHAR(128) NOT NULL,
      event_type VARCHAR(64) NOT NULL,
      line_no SMALLINT UNSIGNED NOT NULL,
      occurred_at DATETIME(3) NULL,
      recorded_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      PRIMARY KEY (id),
      UNIQUE KEY inventory_ledger_line (tenant, event_source, event_id, line_no),
      KEY inventory_ledger_stock (tenant, sku, location_id, id),
      KEY inventory_ledger_reference (tenant, reference_type, reference_id),
      KEY inventory_ledger_occurred (occurred_at)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE inventory_ledger');
}
