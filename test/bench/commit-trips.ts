/**
 * Round trips and latency of one ledger commit (`commitBatch`), on its own database, removed
 * afterwards. Counts what one commit of `batch` mixed payloads sends (knex 'query' events are
 * round trips; the session's `Questions` counts the statements in them) on a pool of one
 * connection, with the session's `Com_…` counters that moved, then times `commits` commits of `small` payloads each, one after another, as
 * the writer commits at moderate load.
 *
 * The payloads are the mirror benchmark's checkout flow (test/bench/mirror.ts); in the
 * counted batch one payload also carries a configuration, one a location and a binding, one
 * tenant settings, so every table the commit writes gets a statement.
 *
 * Run: `npx tsx test/bench/commit-trips.ts [batch=100] [small=20] [commits=300]`
 */
import { pathToFileURL } from 'node:url';
import { commitBatch } from '../../src/ledger/commit-batch.js';
import { createKnex, type Knex } from '../../src/ledger/db.js';
import type { MirrorItem } from '../../src/ledger/mirror-rows.js';
import { createTestDatabase, dropTestDatabase } from '../support/isolation.js';
import { checkoutPayloads } from './mirror.js';

const TENANTS = ['acme', 'globex', 'initech', 'umbrella'];

/** The session's statement counters: `Questions` and every `Com_…`. */
async function counters(knex: Knex): Promise<Map<string, number>> {
  const [rows] = (await knex.raw(
    "SHOW SESSION STATUS WHERE Variable_name = 'Questions' OR Variable_name LIKE 'Com\\_%'",
  )) as [{ Variable_name: string; Value: string }[]];
  return new Map(rows.map((r) => [r.Variable_name, Number(r.Value)]));
}

/** Payloads of `n` events from the `from`-th on, with fresh ids (`tag`). */
function take(all: MirrorItem[], from: number, n: number, tag: string): MirrorItem[] {
  return all.slice(from, from + n).map((i) => ({
    entryId: i.entryId,
    payload: { ...i.payload, id: `${tag}-${i.payload.id}` },
  }));
}

function withEveryTable(items: MirrorItem[]): MirrorItem[] {
  const [a, b, c] = items;
  a!.payload = {
    ...a!.payload,
    config: [
      {
        sku: 'SKU-00001',
        locationId: 'default',
        reorderLevel: 5,
        reorderQuantity: 20,
        policy: 'backorder',
        policyLimit: 10,
        preorderUntil: null,
      },
    ],
  };
  b!.payload = {
    ...b!.payload,
    network: [
      { kind: 'location', locationId: 'wh-north', name: 'North', priority: 3, shipsTo: ['DE'] },
      { kind: 'binding', sku: 'SKU-00001', locationId: 'wh-north', bound: true },
    ],
  };
  c!.payload = {
    ...c!.payload,
    settings: {
      cartTtlSeconds: 900,
      checkoutTtlSeconds: null,
      defaultReorderLevel: 3,
      setAt: { cartTtlSeconds: Date.now() },
    },
  };
  return items;
}

export async function benchCommitTrips(opts: {
  batch: number;
  small: number;
  commits: number;
}): Promise<{
  roundTrips: number;
  statements: number;
  commands: Record<string, number>;
  sent: string[];
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
}> {
  const url = await createTestDatabase('bench_trips');
  // as the worker's ledger pool
  const knex = createKnex(url, { max: 1, multipleStatements: true });
  try {
    await knex('tenant_epochs').insert(TENANTS.map((tenant) => ({ tenant, epoch: 1 })));
    const all: MirrorItem[] = [...checkoutPayloads(opts.batch + opts.small * (opts.commits + 10))];
    const sent: string[] = [];
    const onQuery = (q: { sql: string }) => sent.push(q.sql.slice(0, 60).replace(/\s+/g, ' '));
    // warm the pool's one connection and the tables' pages
    await commitBatch(knex, take(all, 0, opts.small, 'warm'));
    const before = await counters(knex);
    knex.on('query', onQuery);
    const counted = withEveryTable(take(all, 0, opts.batch, 'count'));
    const results = await commitBatch(knex, counted);
    knex.off('query', onQuery);
    // minus the SHOW STATUS that reads the after figures
    const after = await counters(knex);
    const statements = after.get('Questions')! - before.get('Questions')! - 1;
    const commands: Record<string, number> = {};
    for (const [name, n] of after) {
      const d = n - (before.get(name) ?? 0) - (name === 'Com_show_status' ? 1 : 0);
      if (name.startsWith('Com_') && d !== 0) commands[name] = d;
    }
    if (results.some((r) => r !== 'committed')) throw new Error(`not committed: ${results}`);

    const times: number[] = [];
    let from = opts.batch;
    for (let k = 0; k < opts.commits + 10; k++, from += opts.small) {
      const items = take(all, from, opts.small, 'lat');
      const started = process.hrtime.bigint();
      await commitBatch(knex, items);
      // the first ten warm up
      if (k >= 10) times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => Math.round(times[Math.floor(q * (times.length - 1))]! * 100) / 100;
    return {
      roundTrips: sent.length,
      statements,
      commands,
      sent,
      p50Ms: at(0.5),
      p90Ms: at(0.9),
      p99Ms: at(0.99),
      meanMs: Math.round((times.reduce((s, t) => s + t, 0) / times.length) * 100) / 100,
    };
  } finally {
    await knex.destroy();
    await dropTestDatabase(url);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [batch = 100, small = 20, commits = 300] = process.argv.slice(2).map(Number);
  benchCommitTrips({ batch, small, commits }).then(
    (r) => console.log(JSON.stringify(r, null, 1)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
