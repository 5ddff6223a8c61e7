import type { Knex } from 'knex';

/**
 * A tenant's kits (kit.defined / kit.removed): `components` is the JSON list
 * `[[component sku, quantity], ...]` in byte order of the SKUs, NULL once the kit was removed
 * (the row stays, as `location_skus` keeps unbound rows, so an older change mirrored later
 * never brings it back). The newest change wins (`change_seq`, as in `locations`).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE kits (
      tenant VARCHAR(64) NOT NULL,
      sku VARCHAR(128) NOT NULL,
      components TEXT NULL,
      change_seq CHAR(56) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      PRIMARY KEY (tenant, sku)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE kits');
}
