import type { Knex } from 'knex';

/**
 * A tenant's settings (tenant.configured), one row per tenant: the cart TTL, the checkout TTL
 * and the default reorder level, NULL where the environment's default applies. Each setting
 * keeps the CloudEvents `time` of the event that last set or cleared it (`*_set_at`): a
 * tenant.configured older than that leaves it alone, and a rebuilt Redis gets them back.
 * `event_source`, `event_id`: the last event that changed the row. The newest change wins
 * (`change_seq`, as in `locations`).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE tenant_settings (
      tenant VARCHAR(64) NOT NULL,
      cart_ttl_seconds INT NULL,
      checkout_ttl_seconds INT NULL,
      default_reorder_level INT NULL,
      cart_ttl_set_at DATETIME(3) NULL,
      checkout_ttl_set_at DATETIME(3) NULL,
      default_reorder_level_set_at DATETIME(3) NULL,
      event_source VARCHAR(255) NOT NULL,
      event_id VARCHAR(128) NOT NULL,
      change_seq CHAR(56) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      PRIMARY KEY (tenant)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE tenant_settings');
}
