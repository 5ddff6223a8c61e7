import { afterEach, describe, expect, test } from 'vitest';
import { migrationSource } from '../../migrations/index.js';
import { createKnex, migrate } from '../../src/ledger/db.js';
import { dropTestDatabase, TEST_MYSQL_SERVER, uniqueName } from '../support/isolation.js';

/**
 * Workers that start together on a new database (`docker compose up --scale worker=3`) all
 * start: their migrations queue on a named lock instead of failing on knex's.
 */
describe('migrate', () => {
  let url = '';
  afterEach(async () => {
    if (url) await dropTestDatabase(url);
  });

  test('several processes at once on a new database: each succeeds, every migration runs once', async () => {
    url = `${TEST_MYSQL_SERVER}/${uniqueName('migrate')}`;
    const all = (await migrationSource.getMigrations([])).map((m) => String(m));
    const runs = await Promise.allSettled([1, 2, 3, 4].map(() => migrate(url)));
    expect(runs.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    const applied = runs.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    expect(applied.sort()).toEqual([...all].sort());
    const knex = createKnex(url);
    try {
      expect(await knex('knex_migrations').count({ n: '*' })).toEqual([{ n: all.length }]);
    } finally {
      await knex.destroy();
    }
  });

  test("knex's lock left set by a migrator that died mid-migration does not block the next", async () => {
    url = `${TEST_MYSQL_SERVER}/${uniqueName('migrate')}`;
    await migrate(url);
    const knex = createKnex(url);
    try {
      await knex('knex_migrations_lock').update({ is_locked: 1 });
      expect(await migrate(url)).toEqual([]);
      expect(await knex('knex_migrations_lock').pluck('is_locked')).toEqual([0]);
    } finally {
      await knex.destroy();
    }
  });
});
