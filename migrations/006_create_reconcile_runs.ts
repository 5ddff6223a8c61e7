import type { Knex } from 'knex';

/**
 * One row per nightly reconciliation run, for BI and the on-call: when it ran, whether it
 * repaired, what it covered and what it found. `status` is running, clean, drift, incomplete
 * (some tenant could only be partly compared) or failed (`error` says why).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE reconcile_runs (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
      started_at DATETIME(3) NOT NULL,
      finished_at DATETIME(3) NULL,
      repair TINYINT(1) NOT NULL DEFAULT 0,
      status VARCHAR(16) NOT NULL,
      tenant_filter VARCHAR(64) NULL,
      tenants INT UNSIGNED NOT NULL DEFAULT 0,
      stock_checked BIGINT UNSIGNED NOT NULL DEFAULT 0,
      holds_checked BIGINT UNSIGNED NOT NULL DEFAULT 0,
      drifts INT UNSIGNED NOT NULL DEFAULT 0,
      repaired INT UNSIGNED NOT NULL DEFAULT 0,
      error VARCHAR(1024) NULL,
      PRIMARY KEY (id),
      KEY reconcile_runs_started (started_at)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE reconcile_runs');
}
