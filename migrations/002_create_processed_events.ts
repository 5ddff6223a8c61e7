import type { Knex } from 'knex';

/**
 * Every event whose effect is in the ledger, once: the unique key makes mirroring idempotent,
 * and the rows recorded within the de-duplication window become Redis markers again when a
 * tenant is reloaded. `recorded_at` is when the engine applied the event (the time of its
 * outbox entry), so a marker rebuilt from it expires when the original would have.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE processed_events (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
      tenant VARCHAR(64) NOT NULL,
      event_source VARCHAR(255) NOT NULL,
      event_id VARCHAR(128) NOT NULL,
      event_type VARCHAR(64) NOT NULL,
      result VARCHAR(16) NOT NULL,
      reason VARCHAR(64) NULL,
      payload LONGTEXT NOT NULL,
      occurred_at DATETIME(3) NULL,
      recorded_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      PRIMARY KEY (id),
      UNIQUE KEY processed_events_event (tenant, event_source, event_id),
      KEY processed_events_recorded (tenant, recorded_at)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE processed_events');
}
