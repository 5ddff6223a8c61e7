import type { Knex } from 'knex';

/**
 * Every drift a reconciliation run confirmed (it was still there on a second look), one row
 * per differing figure or hold field: the auditable record of what was wrong and, with
 * `repaired`, what a `--repair` run put right. The values are the ledger's (the truth), Redis's
 * less `pending_value` (what outbox entries not mirrored yet added), stock_levels' and the
 * reservations row's; `detail` says in words what numbers cannot (states, expiries, jobs).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE reconcile_drifts (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
      run_id BIGINT UNSIGNED NOT NULL,
      tenant VARCHAR(64) NOT NULL,
      kind VARCHAR(32) NOT NULL,
      sku VARCHAR(128) NULL,
      location_id VARCHAR(128) NULL,
      reference_type VARCHAR(16) NULL,
      reference_id VARCHAR(128) NULL,
      field VARCHAR(32) NULL,
      ledger_value BIGINT NULL,
      redis_value BIGINT NULL,
      stock_levels_value BIGINT NULL,
      reservations_value BIGINT NULL,
      pending_value BIGINT NULL,
      detail VARCHAR(512) NULL,
      repaired TINYINT(1) NOT NULL DEFAULT 0,
      detected_at DATETIME(3) NOT NULL,
      PRIMARY KEY (id),
      KEY reconcile_drifts_run (run_id, kind),
      KEY reconcile_drifts_tenant (tenant, detected_at)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE reconcile_drifts');
}
