import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { NIGHTLY_RECONCILE, ReconcileJobs } from '../../jobs/reconcile.js';
import { reconcile } from '../../src/reconcile/index.js';
import { collectAnnouncements, createTestVhost, deleteTestVhost } from '../support/rabbit.js';
import { waitFor } from '../support/worker.js';
import { createReconcileHarness, events, logger, type ReconcileHarness } from './harness.js';
import { redisTargetOf } from '../../src/engine/redis-client.js';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;

let h: ReconcileHarness;
let vhost: { vhost: string; url: string };
beforeAll(async () => {
  h = await createReconcileHarness('rec_cli');
  vhost = await createTestVhost('rec_cli');
});
afterAll(async () => {
  await h?.close();
  if (vhost) await deleteTestVhost(vhost.vhost);
});

/** `npx tsx src/cli.ts reconcile …` on the harness's database and prefix: exit code and output. */
async function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run('npx', ['tsx', 'src/cli.ts', 'reconcile', ...args], {
      cwd: ROOT,
      env: {
        ...process.env,
        MYSQL_URL: h.config.MYSQL_URL,
        REDIS_PREFIX: h.prefix,
        AMQP_URL: vhost.url,
        LOG_LEVEL: 'silent',
      },
      timeout: 120_000,
    });
    return { code: 0, stdout };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    if (typeof err.code !== 'number') throw e;
    return { code: err.code, stdout: err.stdout ?? '' };
  }
}

describe('inventory reconcile (CLI)', () => {
  test('exit 0 and a summary when clean; exit 3, JSON and an announcement when drift was found', async () => {
    const e = events('cli');
    await h.apply(e(), { op: 'receiveStock', sku: 'A', locationId: 'default', quantity: 10 });
    const clean = await cli(['--tenant', 'cli']);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(
      /^run \d+ clean: 0 drift\(s\), 0 repaired; 1 tenant\(s\), 1 stock pair\(s\), 0 hold\(s\) checked/m,
    );

    await h.s.redis.hincrby(h.stockKey('cli', 'A'), 'onHand', 4);
    const announced = await collectAnnouncements(vhost.url);
    try {
      const drift = await cli(['--tenant', 'cli', '--json']);
      expect(drift.code).toBe(3);
      const summary = JSON.parse(drift.stdout) as {
        runId: number;
        status: string;
        drifts: number;
        firstDrifts: unknown[];
      };
      expect(summary).toMatchObject({
        status: 'drift',
        drifts: 1,
        firstDrifts: [
          {
            kind: 'redis-vs-ledger',
            sku: 'A',
            field: 'onHand',
            ledger: 10,
            redis: 14,
            repaired: false,
          },
        ],
      });
      await waitFor(() => announced.events.length > 0, 10_000, 'inventory.drift-detected');
      expect(announced.events).toEqual([
        expect.objectContaining({
          type: 'inventory.drift-detected',
          data: expect.objectContaining({
            runId: summary.runId,
            drifts: 1,
            byKind: { 'redis-vs-ledger': 1 },
          }),
        }),
      ]);

      const repaired = await cli(['--tenant', 'cli', '--repair']);
      expect(repaired.code).toBe(3);
      expect(repaired.stdout).toMatch(/^redis-vs-ledger\s+1$/m);
      expect(repaired.stdout).toMatch(/: 1 drift\(s\), 1 repaired;/);
      expect((await cli(['--tenant', 'cli'])).code).toBe(0);
    } finally {
      await announced.close();
    }
  });
});

describe('the nightly job (jobs/reconcile.ts)', () => {
  test('upserts the scheduler from config and runs a reconciliation per job', async () => {
    const runs: { repair: boolean }[] = [];
    const jobs = new ReconcileJobs({
      redis: redisTargetOf(h.config),
      redisPrefix: h.prefix,
      cron: '0 3 * * *',
      repair: true,
      logger,
      run: async (data, signal) => {
        runs.push(data);
        return reconcile(
          { ...h.s, prefix: h.prefix, logger, cartJobState: (id) => h.jobs.getJobState(id) },
          { ...data, tenant: 'job', signal },
        );
      },
    });
    try {
      await jobs.start();
      expect(await jobs.queue.getJobScheduler(NIGHTLY_RECONCILE)).toMatchObject({
        key: NIGHTLY_RECONCILE,
        pattern: '0 3 * * *',
        tz: 'UTC',
        template: { data: { repair: true } },
      });
      // one scheduler however often workers start
      await jobs.start();
      expect(await jobs.queue.getJobSchedulersCount()).toBe(1);

      await h.apply(events('job')(), {
        op: 'receiveStock',
        sku: 'J',
        locationId: 'default',
        quantity: 3,
      });
      await h.s.knex('stock_levels').where({ tenant: 'job', sku: 'J' }).update({ on_hand: 4 });
      const job = await jobs.queue.add('reconcile', { repair: true });
      await waitFor(async () => (await job.getState()) === 'completed', 30_000, 'reconcile job');
      const done = await jobs.queue.getJob(job.id!);
      expect(done?.returnvalue).toMatchObject({ status: 'drift', drifts: 1, repaired: 1 });
      expect(runs).toEqual([{ repair: true }]);
      expect(
        await h.s.knex('stock_levels').where({ tenant: 'job', sku: 'J' }).first(),
      ).toMatchObject({ on_hand: 3 });
    } finally {
      await jobs.close();
    }
  });
});
