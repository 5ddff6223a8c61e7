import type { Knex } from 'knex';

/**
 * One row per tenant the engine has ever loaded. `epoch` counts the times Redis was (re)loaded
 * from MySQL; a payload computed under another epoch describes a Redis state that no longer
 * exists and is never mirrored.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE tenant_epochs (
      tenant VARCHAR(64) NOT NULL,
      epoch BIGINT UNSIGNED NOT NULL,
      loaded_at DATETIME(3) NULL,
      PRIMARY KEY (tenant)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE tenant_epochs');
}
