/**
 * Reconciliation throughput and memory: SKU-locations compared per second (Redis hash,
 * stock_levels row and ledger sums each), and the peak RSS of the process while it runs, on a
 * database and key prefix of its own, removed afterwards.
 *
 * Seeds one tenant with N SKU-locations: one stock_levels row and one ledger row each (bulk
 * INSERTs), and the matching Redis stock hashes and tenant meta (pipelined). The state is
 * clean, so the run must report no drift.
 *
 * Run alone: `npx tsx test/bench/reconcile.ts [skuLocations]` (default 100000); with
 * `NODE_OPTIONS=--expose-gc` it also reports the live heap before and after the run.
 */
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { pairOf, TenantKeys } from '../../src/engine/keys.js';
import { Engine } from '../../src/engine/engine.js';
import { createKnex, type Knex } from '../../src/ledger/db.js';
import { insertMany, type SqlValue } from '../../src/ledger/sql-batch.js';
import { LedgerWriter } from '../../src/ledger/writer.js';
import { reconcile } from '../../src/reconcile/index.js';
import {
  createTestDatabase,
  dropRedisPrefix,
  dropTestDatabase,
  testRedis,
  uniqueName,
} from '../support/isolation.js';

const TENANT = 'bench';
const LOCATIONS = ['default', 'wh-east', 'wh-west', 'store-1'];
const SEED_BATCH = 5000;

const pairAt = (i: number) => ({
  sku: `SKU-${String(Math.floor(i / LOCATIONS.length)).padStart(7, '0')}`,
  locationId: LOCATIONS[i % LOCATIONS.length]!,
  onHand: 10 + (i % 97),
});

async function seedMysql(knex: Knex, n: number): Promise<void> {
  await knex('tenant_epochs').insert({ tenant: TENANT, epoch: 1 });
  // the ledger's key by processed_events row (migration 011), when the schema has it
  const [refColumn] = (await knex.raw("SHOW COLUMNS FROM inventory_ledger LIKE 'event_ref'")) as [
    unknown[],
  ];
  const withRef = refColumn.length > 0;
  for (let start = 0; start < n; start += SEED_BATCH) {
    const levels: SqlValue[][] = [];
    const ledger: SqlValue[][] = [];
    for (let i = start; i < Math.min(n, start + SEED_BATCH); i++) {
      const p = pairAt(i);
      levels.push([TENANT, p.sku, p.locationId, p.onHand]);
      ledger.push([
        TENANT,
        p.sku,
        p.locationId,
        'received',
        p.onHand,
        p.onHand,
        0,
        0,
        0,
        0,
        'receipt',
        `po-${i}`,
        '/bench',
        `seed-${i}`,
        'stock.received',
        0,
        ...(withRef ? [i + 1] : []),
      ]);
    }
    await insertMany(knex, 'stock_levels (tenant, sku, location_id, on_hand)', levels);
    await insertMany(
      knex,
      'inventory_ledger (tenant, sku, location_id, movement, qty, on_hand_delta, reserved_delta, ' +
        'committed_delta, unavailable_delta, incoming_delta, reference_type, reference_id, ' +
        `event_source, event_id, event_type, line_no${withRef ? ', event_ref' : ''})`,
      ledger,
    );
  }
}

async function seedRedis(
  redis: ReturnType<typeof testRedis>,
  keys: TenantKeys,
  n: number,
): Promise<void> {
  for (let start = 0; start < n; start += SEED_BATCH * 2) {
    const pipe = redis.pipeline();
    for (let i = start; i < Math.min(n, start + SEED_BATCH * 2); i++) {
      const p = pairAt(i);
      pipe.hset(
        keys.stock(pairOf(p.sku, p.locationId)),
        'onHand',
        p.onHand,
        'reserved',
        0,
        'committed',
        0,
        'unavailable',
        0,
        'incoming',
        0,
      );
    }
    await pipe.exec();
  }
  await redis.hset(keys.meta, 'epoch', 1, 'isc', 1);
}

export async function benchReconcile(opts: { skuLocations: number; pageSize?: number }): Promise<{
  skuLocationsPerSecond: number;
  seconds: number;
  peakRssMb: number;
  skuLocations: number;
  /** RSS just before the run (after seeding), for comparison with the peak */
  rssBeforeMb: number;
  /** only when run with --expose-gc: live heap (after a full GC) before and after the run */
  heapBeforeMb?: number;
  heapAfterMb?: number;
  drifts: number;
}> {
  const n = opts.skuLocations;
  const url = await createTestDatabase('bench_reconcile');
  const prefix = uniqueName('bench_reconcile');
  const knex = createKnex(url, { max: 4 });
  const redis = testRedis();
  const logger = pino({ level: 'warn' });
  const keys = new TenantKeys(prefix, TENANT);
  try {
    await seedMysql(knex, n);
    await seedRedis(redis, keys, n);
    const engine = new Engine(redis, {
      prefix,
      dedupTtlSeconds: 3600,
      ensureTenant: async () => undefined,
    });
    const writer = new LedgerWriter({ knex, redis, prefix, logger });
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const heapBefore = process.memoryUsage().heapUsed;
    let peak = rssBefore;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 100);
    const started = process.hrtime.bigint();
    let summary;
    try {
      summary = await reconcile(
        { knex, redis, prefix, engine, writer, logger, cartJobState: async () => 'unknown' },
        { tenant: TENANT, ...(opts.pageSize ? { pageSize: opts.pageSize } : {}) },
      );
    } finally {
      clearInterval(sampler);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    peak = Math.max(peak, process.memoryUsage().rss);
    // with --expose-gc: live heap after the run, to tell garbage not yet collected from growth
    global.gc?.();
    const heapAfter = global.gc ? process.memoryUsage().heapUsed : undefined;
    await writer.close();
    if (summary.stockChecked !== n)
      throw new Error(`checked ${summary.stockChecked} SKU-locations, expected ${n}`);
    const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
    return {
      skuLocationsPerSecond: Math.round(n / seconds),
      seconds: Math.round(seconds * 100) / 100,
      peakRssMb: mb(peak),
      skuLocations: n,
      rssBeforeMb: mb(rssBefore),
      ...(heapAfter !== undefined
        ? { heapBeforeMb: mb(heapBefore), heapAfterMb: mb(heapAfter) }
        : {}),
      drifts: summary.drifts,
    };
  } finally {
    await dropRedisPrefix(redis, prefix);
    await redis.quit();
    await knex.destroy();
    await dropTestDatabase(url);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const skuLocations = Number(process.argv[2] ?? 100_000);
  benchReconcile({ skuLocations }).then(
    (r) => console.log(JSON.stringify(r)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
