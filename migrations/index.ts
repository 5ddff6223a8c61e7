import type { Knex } from 'knex';

/**
 * Every migration, in order. Listed statically (not read from the folder) so the same list
 * runs under tsx, vitest and the compiled build. Append-only: never edit one that has landed.
 * One DDL statement per migration: MySQL commits DDL implicitly, so a migration with two
 * statements can half-apply.
 */
const migrations: Record<string, Knex.Migration> = {};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
