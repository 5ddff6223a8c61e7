import type { Knex } from 'knex';

/**
 * Current figures per tenant, SKU and location (fixed name), kept equal to the ledger's sums
 * by updating both in one transaction. `config_seq` is the position (epoch, outbox entry) of
 * the `stock.configured` that set the reorder fields, so a late mirror of an older one never
 * overwrites a newer setting.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE stock_levels (
      tenant VARCHAR(64) NOT NULL,
      sku VARCHAR(128) NOT NULL,
      location_id VARCHAR(128) NOT NULL,
      on_hand BIGINT NOT NULL DEFAULT 0,
      reserved BIGINT NOT NULL DEFAULT 0,
      committed BIGINT NOT NULL DEFAULT 0,
      unavailable BIGINT NOT NULL DEFAULT 0,
      incoming BIGINT NOT NULL DEFAULT 0,
      available BIGINT AS (on_hand - reserved - unavailable) STORED,
      reorder_level INT NULL,
      reorder_quantity INT NULL,
      config_seq CHAR(56) CHARACTER SET ascii COLLATE ascii_bin NULL,
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
      PRIMARY KEY (tenant, sku, location_id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE stock_levels');
}
