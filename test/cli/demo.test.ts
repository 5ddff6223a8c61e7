import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestWorker, type TestWorker } from '../support/worker.js';
import { inventory } from './run.js';

/** `inventory demo` against a worker whose cart TTL for the demo's tenant is 2 s. */
let w: TestWorker;
beforeAll(async () => {
  w = await startTestWorker('demo', { CART_TTL_BY_TENANT: 'demo=2' });
});
afterAll(async () => {
  await w?.cleanup();
});

describe('npm run demo', () => {
  test('runs the scenario and ends with the figures docs/operations.md documents', async () => {
    const env = {
      AMQP_URL: w.amqpUrl,
      MYSQL_URL: w.config.MYSQL_URL,
      REDIS_PREFIX: w.config.REDIS_PREFIX,
    };
    const r = await inventory(['demo'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/5 got a mug, 3 were refused/);
    expect(r.stdout).toMatch(/expired: its 2 caps are available again/);
    const after = r.stdout.slice(r.stdout.indexOf('After'));
    expect(after).toMatch(/^DEMO-CAP\s+default\s+5\s+0\s+0\s+0\s+5\s*$/m);
    expect(after).toMatch(/^DEMO-MUG\s+default\s+1\s+0\s+0\s+0\s+1\s+2$/m);
    expect(after).toMatch(/^DEMO-TEE-M\s+default\s+6\s+0\s+0\s+0\s+6\s*$/m);

    // docs/tables.md's BI figures after one demo run ("What they return after the demo")
    const knex = w.worker.services.knex;
    const q = async (sql: string) =>
      ((await knex.raw(sql))[0] as Record<string, unknown>[]).map((o) =>
        Object.values(o)
          .map((v) => String(v))
          .join(' '),
      );
    expect(
      await q(
        "SELECT sku, units_sold, units_returned FROM bi_units_sold_daily WHERE tenant = 'demo' ORDER BY sku",
      ),
    ).toEqual(['DEMO-CAP 2 0', 'DEMO-MUG 4 0', 'DEMO-TEE-M 5 1']);
    expect(
      await q(
        "SELECT kind, state, holds, units_held FROM bi_holds_by_state WHERE tenant = 'demo' ORDER BY kind, state",
      ),
    ).toEqual([
      'cart converted 6 0',
      'cart expired 1 0',
      'order fulfilled 7 0',
      'order released 1 0',
    ]);
    expect(
      await q("SELECT reason, units_lost FROM bi_shrinkage_daily WHERE tenant = 'demo'"),
    ).toEqual(['damaged 1']);
    expect(
      await q(
        "SELECT sku, SUM(on_hand_change) FROM bi_stock_daily_changes WHERE tenant = 'demo' AND day <= UTC_DATE() GROUP BY sku ORDER BY sku",
      ),
    ).toEqual(['DEMO-CAP 5', 'DEMO-MUG 1', 'DEMO-TEE-M 6']);
  });
});
