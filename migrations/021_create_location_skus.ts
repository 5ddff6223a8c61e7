import type { Knex } from 'knex';

/**
 * Which SKUs each location stocks (location.bound / location.unbound). A row per binding
 * ever made; `bound` = 0 once unbound. The newest change wins (`change_seq`).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE location_skus (
      tenant VARCHAR(64) NOT NULL,
      sku VARCHAR(128) NOT NULL,
      location_id VARCHAR(128) NOT NULL,
      bound TINYINT(1) NOT NULL,
      change_seq CHAR(56) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      PRIMARY KEY (tenant, sku, location_id),
      KEY location_skus_location (tenant, location_id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE location_skus');
}
