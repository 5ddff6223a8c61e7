/**
 * Ledger mirror throughput: ledger rows per second through LedgerWriter (group commit into
 * MySQL, outbox deletes in Redis), on its own database and key prefix, removed afterwards.
 *
 * Payloads are shaped as the scripts write them for a checkout flow (cart add, order placed
 * from the cart, payment, shipment; and stock receipts): 1–3 lines per order over a few
 * thousand SKUs, hold snapshots included, so every table the mirror writes gets its share.
 *
 * Run alone: `npx tsx test/bench/mirror.ts [rows] [concurrency]` (concurrency: the writer's
 * default unless given).
 */
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import type { HoldSnapshot, Movement, OutboxPayload } from '../../src/domain/types.js';
import { createKnex } from '../../src/ledger/db.js';
import { LedgerWriter, type WriteResult } from '../../src/ledger/writer.js';
import {
  createTestDatabase,
  dropRedisPrefix,
  dropTestDatabase,
  testRedis,
  uniqueName,
} from '../support/isolation.js';

const TENANTS = ['acme', 'globex', 'initech', 'umbrella'];
const SKUS = 5000;
const LOCATIONS = ['default', 'wh-east', 'wh-west'];

export interface Generated {
  payload: OutboxPayload;
  entryId: string;
}

export function* checkoutPayloads(rows: number): Generator<Generated, void, undefined> {
  let n = 0;
  let made = 0;
  let ms = Date.now() - 60_000;
  let rand = 42;
  const next = (k: number) => {
    rand = (Math.imul(rand, 1103515245) + 12345) >>> 0;
    return rand % k;
  };
  const emit = (
    tenant: string,
    type: string,
    movements: Movement[],
    holds: HoldSnapshot[],
  ): Generated => {
    made += movements.length;
    n++;
    return {
      entryId: `${ms++}-0`,
      payload: {
        tenant,
        source: '/shop/checkout',
        id: `bench-${n}`,
        type,
        occurredAt: new Date(ms).toISOString(),
        epoch: 1,
        outcome: { result: 'applied' },
        movements,
        holds,
        config: [],
      },
    };
  };
  const mv = (
    sku: string,
    locationId: string,
    kind: Movement['kind'],
    d: number[],
    refType: string,
    refId: string,
  ): Movement => ({
    sku,
    locationId,
    kind,
    onHand: d[0] ?? 0,
    reserved: d[1] ?? 0,
    committed: d[2] ?? 0,
    unavailable: d[3] ?? 0,
    incoming: d[4] ?? 0,
    referenceType: refType,
    referenceId: refId,
    reason: '',
  });
  while (made < rows) {
    const tenant = TENANTS[next(TENANTS.length)]!;
    const lines = Array.from({ length: 1 + next(3) }, () => ({
      sku: `SKU-${String(next(SKUS)).padStart(5, '0')}`,
      locationId: LOCATIONS[next(LOCATIONS.length)]!,
      quantity: 1 + next(3),
    }));
    const cart = `cart-${n}`;
    const order = `order-${n}`;
    for (const l of lines) {
      yield emit(
        tenant,
        'stock.received',
        [mv(l.sku, l.locationId, 'received', [l.quantity * 2], 'receipt', `po-${n}`)],
        [],
      );
    }
    const first = lines[0]!;
    yield emit(
      tenant,
      'cart.added',
      [mv(first.sku, first.locationId, 'reserved', [0, first.quantity], 'cart', cart)],
      [
        {
          kind: 'cart',
          id: cart,
          state: 'open',
          version: 1,
          expiresAt: ms + 3_600_000,
          lines: [{ sku: first.sku, locationId: first.locationId, held: first.quantity }],
        },
      ],
    );
    const orderLines = lines.map((l) => ({
      sku: l.sku,
      locationId: l.locationId,
      held: l.quantity,
      ordered: l.quantity,
      shipped: 0,
    }));
    yield emit(
      tenant,
      'order.placed',
      lines
        .slice(1)
        .map((l) => mv(l.sku, l.locationId, 'reserved', [0, l.quantity], 'order', order)),
      [
        { kind: 'cart', id: cart, state: 'converted', version: 2, link: order, lines: [] },
        { kind: 'order', id: order, state: 'placed', version: 1, link: cart, lines: orderLines },
      ],
    );
    yield emit(
      tenant,
      'payment.succeeded',
      lines.map((l) => mv(l.sku, l.locationId, 'committed', [0, 0, l.quantity], 'order', order)),
      [
        {
          kind: 'order',
          id: order,
          state: 'paid',
          version: 2,
          link: cart,
          paid: true,
          paymentId: `pay-${n}`,
          lines: orderLines,
        },
      ],
    );
    yield emit(
      tenant,
      'shipment.created',
      lines.map((l) =>
        mv(l.sku, l.locationId, 'shipped', [-l.quantity, -l.quantity, -l.quantity], 'order', order),
      ),
      [
        {
          kind: 'order',
          id: order,
          state: 'fulfilled',
          version: 3,
          link: cart,
          paid: true,
          paymentId: `pay-${n}`,
          lines: orderLines.map((l) => ({ ...l, held: 0, shipped: l.ordered })),
        },
      ],
    );
  }
}

export async function benchMirror(opts: {
  rows: number;
  batchSize?: number;
  concurrency?: number;
}): Promise<{
  rowsPerSecond: number;
  rows: number;
  seconds: number;
  events: number;
}> {
  const url = await createTestDatabase('bench_mirror');
  const prefix = uniqueName('bench_mirror');
  // as the worker's ledger pool
  const knex = createKnex(url, { multipleStatements: true });
  const redis = testRedis();
  try {
    await knex('tenant_epochs').insert(TENANTS.map((tenant) => ({ tenant, epoch: 1 })));
    const items = [...checkoutPayloads(opts.rows)];
    const rows = items.reduce((s, i) => s + i.payload.movements.length, 0);
    const writer = new LedgerWriter({
      knex,
      redis,
      prefix,
      logger: pino({ level: 'warn' }),
      batchSize: opts.batchSize ?? 2000,
      ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    });
    const started = process.hrtime.bigint();
    const results: Promise<WriteResult>[] = items.map((i) => writer.write(i.payload, i.entryId));
    const settled = await Promise.all(results);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await writer.close();
    const notCommitted = settled.filter((r) => r !== 'committed').length;
    if (notCommitted > 0) throw new Error(`${notCommitted} payloads were not committed`);
    const [{ n }] = (await knex('inventory_ledger').count({ n: '*' })) as [{ n: number }];
    if (Number(n) !== rows) throw new Error(`ledger has ${n} rows, expected ${rows}`);
    return { rowsPerSecond: Math.round(rows / seconds), rows, seconds, events: items.length };
  } finally {
    await dropRedisPrefix(redis, prefix);
    await redis.quit();
    await knex.destroy();
    await dropTestDatabase(url);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = Number(process.argv[2] ?? 200_000);
  const concurrency = process.argv[3] ? Number(process.argv[3]) : undefined;
  benchMirror({ rows, ...(concurrency ? { concurrency } : {}) }).then(
    (r) => console.log(JSON.stringify(r)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
