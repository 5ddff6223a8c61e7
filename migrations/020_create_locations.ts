import type { Knex } from 'knex';

/**
 * A tenant's locations (location.upserted): name, routing priority (lower first) and where
 * each ships to (`ships_to`: JSON list of `US` / `US-CA` codes; empty = anywhere). The newest
 * change wins (`change_seq`, as in `reservations`).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE locations (
      tenant VARCHAR(64) NOT NULL,
      location_id VARCHAR(128) NOT NULL,
      name VARCHAR(255) NOT NULL,
      priority INT NOT NULL,
      ships_to TEXT NOT NULL,
      change_seq CHAR(56) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      PRIMARY KEY (tenant, location_id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE locations');
}
