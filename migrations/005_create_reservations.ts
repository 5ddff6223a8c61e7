import type { Knex } from 'knex';

/**
 * The latest snapshot of every hold (cart, order) and transfer. `change_seq` orders snapshots
 * by (epoch, outbox entry id): unlike `version`, which restarts at 1 when a released cart's
 * id is used again, it only grows, so a late mirror of an older snapshot never wins.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE reservations (
      tenant VARCHAR(64) NOT NULL,
      ref_type VARCHAR(16) NOT NULL,
      ref_id VARCHAR(128) NOT NULL,
      state VARCHAR(16) NOT NULL,
      \`lines\` LONGTEXT NOT NULL,
      link VARCHAR(128) NULL,
      paid TINYINT(1) NOT NULL DEFAULT 0,
      payment_id VARCHAR(128) NULL,
      from_location_id VARCHAR(128) NULL,
      to_location_id VARCHAR(128) NULL,
      expires_at DATETIME(3) NULL,
      version INT UNSIGNED NOT NULL,
      change_seq CHAR(56) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      PRIMARY KEY (tenant, ref_type, ref_id),
      KEY reservations_state (tenant, state),
      KEY reservations_expires (expires_at)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE reservations');
}
