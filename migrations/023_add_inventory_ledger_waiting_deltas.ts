import type { Knex } from 'knex';

/**
 * Selling ahead of stock (backorders, pre-orders): the change of the two waiting figures, units held by
 * carts and orders under a backorder or pre-order policy and not backed by stock on hand.
 * Both in one ALTER (one statement: added together or not at all); DEFAULT 0 is what every
 * row written before them moved.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE inventory_ledger
      ADD COLUMN backordered_delta INT NOT NULL DEFAULT 0,
      ADD COLUMN preordered_delta INT NOT NULL DEFAULT 0
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    'ALTER TABLE inventory_ledger DROP COLUMN backordered_delta, DROP COLUMN preordered_delta',
  );
}
