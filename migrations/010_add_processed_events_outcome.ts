import type { Knex } from 'knex';

/**
 * A compact record of each event instead of its whole payload. `outcome` holds the outcome's
 * details (short lines, refused reference, low-stock and shortage lines) as JSON, and is NULL
 * when `result` and `reason` say it all, as they do for most events. The movements are
 * `inventory_ledger`'s rows of the event (`event_ref`, migration 011), so storing them again
 * here doubled what every mirrored event wrote; hold snapshots live in `reservations`.
 *
 * Events recorded before this migration keep their JSON in `payload`; the writer now leaves it
 * empty (''), which keeps this an instant ADD COLUMN rather than a rebuild of the table.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE processed_events ADD COLUMN outcome LONGTEXT NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE processed_events DROP COLUMN outcome');
}
