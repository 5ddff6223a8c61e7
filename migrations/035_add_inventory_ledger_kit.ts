import type { Knex } from 'knex';

/**
 * Kits (kit.defined): a ledger row of a component the event named through a kit says which
 * kit (`kit`) and how many of the row's units that kit's lines came to (`kit_qty`, at most
 * the size of `qty`; the rest were the SKU on its own). NULL on every other row, and on every
 * row written before. One statement: both columns together (added in place, no table copy).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'ALTER TABLE inventory_ledger ADD COLUMN kit VARCHAR(128) NULL, ADD COLUMN kit_qty INT NULL',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE inventory_ledger DROP COLUMN kit, DROP COLUMN kit_qty');
}
