import type { Knex } from 'knex';

/**
 * The MySQL accounts `inventory bi-grant` created, so that it and `bi-revoke` touch those and
 * no other account. A table of ours because neither server keeps such a mark portably: MySQL 8
 * has account comments (`CREATE USER … COMMENT`), MariaDB 10.11 has none.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE bi_accounts (
      user VARCHAR(32) NOT NULL,
      host VARCHAR(255) NOT NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      PRIMARY KEY (user, host)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE bi_accounts');
}
