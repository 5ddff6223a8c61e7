import type { Knex } from 'knex';

/** Unit cost per SKU (set with `inventory cost`), for the stock value in `stats`. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE sku_costs (
      tenant VARCHAR(64) NOT NULL,
      sku VARCHAR(128) NOT NULL,
      unit_cost DECIMAL(18,4) NOT NULL,
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      PRIMARY KEY (tenant, sku)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE sku_costs');
}
