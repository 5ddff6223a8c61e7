/**
 * A real engine wired to a real ledger for one test file: its own database and key prefix,
 * the tenant loader as the engine's `ensureTenant`, and readers that compare what Redis,
 * stock_levels and the ledger each say.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Engine, type ApplyResult } from '../../src/engine/engine.js';
import { splitPair, TenantKeys } from '../../src/engine/keys.js';
import type { Command, EventMeta, OutboxPayload } from '../../src/domain/types.js';
import { createKnex, type Knex } from '../../src/ledger/db.js';
import { findPayload } from '../../src/ledger/find-payload.js';
import { holdFields, type ReservationRow } from '../../src/ledger/hold-hash.js';
import { TenantLoader } from '../../src/ledger/load-tenant.js';
import { LedgerWriter } from '../../src/ledger/writer.js';
import {
  createTestDatabase,
  dropRedisPrefix,
  dropTestDatabase,
  TEST_REDIS_URL,
  uniqueName,
} from '../support/isolation.js';

export const DEDUP_TTL_SECONDS = 3600;
export const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface Harness {
  url: string;
  prefix: string;
  knex: Knex;
  redis: Redis;
  loader: TenantLoader;
  engine: Engine;
  writer: LedgerWriter;
  keys(tenant: string): TenantKeys;
  close(): Promise<void>;
}

/** `server`: a MySQL server URL without a database; the shared one unless given. */
export async function createHarness(
  label: string,
  batchSize = 2000,
  server?: string,
): Promise<Harness> {
  const url = await createTestDatabase(label, server);
  const prefix = uniqueName(label);
  // as the worker's ledger pool, which the writer uses here too
  const knex = createKnex(url, { logger, multipleStatements: true });
  const redis = new Redis(TEST_REDIS_URL);
  const loader = new TenantLoader({
    knex,
    redis,
    prefix,
    dedupTtlSeconds: DEDUP_TTL_SECONDS,
    logger,
  });
  const engine = new Engine(redis, {
    prefix,
    dedupTtlSeconds: DEDUP_TTL_SECONDS,
    ensureTenant: loader.ensureTenant,
  });
  const writer = new LedgerWriter({ knex, redis, prefix, logger, batchSize });
  return {
    url,
    prefix,
    knex,
    redis,
    loader,
    engine,
    writer,
    keys: (tenant) => new TenantKeys(prefix, tenant),
    async close() {
      await writer.close();
      await dropRedisPrefix(redis, prefix);
      await redis.quit();
      await knex.destroy();
      await dropTestDatabase(url);
    },
  };
}

/** A small deterministic PRNG (mulberry32), so a failing run can be replayed from its seed. */
export function prng(seed: number): { int(min: number, max: number): number; pick<T>(xs: T[]): T } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return { int, pick: (xs) => xs[int(0, xs.length - 1)]! };
}

const SKUS = ['SKU-A', 'SKU-B', 'sku-a', 'SKU C/9'];
const LOCATIONS = ['default', 'wh-2'];

/** One random event of the commerce vocabulary over a small space of ids (so they collide). */
export function randomEvent(
  r: ReturnType<typeof prng>,
  tenant: string,
  n: number,
): { meta: EventMeta; command: Command } {
  const sku = r.pick(SKUS);
  const loc = r.pick(LOCATIONS);
  const lines = () =>
    Array.from({ length: r.int(1, 3) }, () => ({
      sku: r.pick(SKUS),
      locationId: r.pick(LOCATIONS),
      quantity: r.int(1, 4),
    }));
  const cartId = `cart-${r.int(1, 8)}`;
  const orderId = `order-${r.int(1, 10)}`;
  const transferId = `tr-${r.int(1, 4)}`;
  const roll = r.int(1, 100);
  let command: Command;
  if (roll <= 16) command = { op: 'receiveStock', sku, locationId: loc, quantity: r.int(1, 20) };
  else if (roll <= 19)
    command = {
      op: 'adjustStock',
      sku,
      locationId: loc,
      delta: r.pick([-3, -1, 2, 5]),
      reason: 'damage',
    };
  else if (roll <= 21) command = { op: 'countStock', sku, locationId: loc, onHand: r.int(0, 30) };
  else if (roll <= 24)
    command = {
      op: 'configureStock',
      sku,
      locationId: loc,
      reorderLevel: r.int(0, 5),
      ...(r.int(0, 1) ? { reorderQuantity: r.int(1, 50) } : {}),
    };
  else if (roll <= 44)
    command = {
      op: 'reserveCart',
      cartId,
      sku,
      locationId: loc,
      quantity: r.int(1, 4),
      ttlMs: 3_600_000,
    };
  else if (roll <= 49)
    command = {
      op: 'releaseCart',
      mode: 'remove',
      cartId,
      sku,
      ...(r.int(0, 1) ? { quantity: r.int(1, 3) } : {}),
    };
  else if (roll <= 52) command = { op: 'releaseCart', mode: 'clear', cartId };
  else if (roll <= 62)
    command = { op: 'placeOrder', orderId, ...(r.int(0, 3) ? { cartId } : {}), lines: lines() };
  else if (roll <= 70)
    command = {
      op: 'commitOrder',
      orderId,
      paymentId: `pay-${n}`,
      ...(r.int(0, 2) === 0 ? { lines: lines() } : {}),
    };
  else if (roll <= 74)
    command = { op: 'releaseOrder', mode: 'payfail', orderId, paymentId: `pay-${n}` };
  else if (roll <= 78)
    command = {
      op: 'releaseOrder',
      mode: 'cancel',
      orderId,
      ...(r.int(0, 1) ? { reason: 'customer-request' } : {}),
    };
  else if (roll <= 86)
    command = { op: 'fulfilShipment', shipmentId: `ship-${n}`, orderId, lines: lines() };
  else if (roll <= 90)
    command = {
      op: 'returnStock',
      rmaId: `rma-${n}`,
      orderId,
      lines: lines().map((l) => ({
        ...l,
        disposition: r.pick(['restock', 'quarantine'] as const),
      })),
    };
  else if (roll <= 95) {
    const from = r.pick(LOCATIONS);
    command = {
      op: 'shipTransfer',
      transferId,
      fromLocationId: from,
      toLocationId: LOCATIONS.find((l) => l !== from)!,
      lines: [{ sku, quantity: r.int(1, 3) }],
    };
  } else command = { op: 'receiveTransfer', transferId };
  const meta: EventMeta = {
    tenant,
    source: r.pick(['/shop', '/erp']),
    id: `evt-${n}`,
    type: command.op,
    occurredAt:
      r.int(0, 20) === 0 ? 'not a time' : new Date(Date.UTC(2026, 10, 23, 10, 0, n)).toISOString(),
  };
  return { meta, command };
}

/** What the consumer would hand the writer for an apply result (nothing for not-yet). */
export function toWrite(r: ApplyResult): { payload: OutboxPayload; entryId: string } | undefined {
  if (r.status === 'applied') return { payload: r.payload, entryId: r.entryId };
  if (r.status === 'duplicate' && r.pending) return { payload: r.pending, entryId: r.entryId };
  return undefined;
}

export type Figures = [
  onHand: number,
  reserved: number,
  committed: number,
  unavailable: number,
  incoming: number,
];

const pairKey = (sku: string, loc: string) => `${sku}|${loc}`;

/** Figures (and reorder settings) of every stock hash of the tenant, by "sku|location". */
export async function redisStock(
  h: Harness,
  tenant: string,
): Promise<Map<string, { f: Figures; level: number | null; qty: number | null }>> {
  const k = h.keys(tenant);
  const out = new Map<string, { f: Figures; level: number | null; qty: number | null }>();
  for (const key of await scanKeys(h.redis, `${k.base}stock:*`)) {
    const v = await h.redis.hgetall(key);
    const { sku, locationId } = splitPair(key.slice(`${k.base}stock:`.length));
    const n = (x: string | undefined) => (x === undefined ? 0 : Number(x));
    out.set(pairKey(sku, locationId), {
      f: [n(v.onHand), n(v.reserved), n(v.committed), n(v.unavailable), n(v.incoming)],
      level: v.reorderLevel === undefined ? null : Number(v.reorderLevel),
      qty: v.reorderQuantity === undefined ? null : Number(v.reorderQuantity),
    });
  }
  return out;
}

export async function mysqlStock(
  h: Harness,
  tenant: string,
): Promise<
  Map<string, { f: Figures; level: number | null; qty: number | null; available: number }>
> {
  const rows = (await h.knex('stock_levels').where({ tenant })) as Record<string, unknown>[];
  return new Map(
    rows.map((r) => [
      pairKey(String(r.sku), String(r.location_id)),
      {
        f: [
          Number(r.on_hand),
          Number(r.reserved),
          Number(r.committed),
          Number(r.unavailable),
          Number(r.incoming),
        ],
        level: r.reorder_level === null ? null : Number(r.reorder_level),
        qty: r.reorder_quantity === null ? null : Number(r.reorder_quantity),
        available: Number(r.available),
      },
    ]),
  );
}

export async function ledgerSums(h: Harness, tenant: string): Promise<Map<string, Figures>> {
  const rows = (await h
    .knex('inventory_ledger')
    .where({ tenant })
    .groupBy('sku', 'location_id')
    .select('sku', 'location_id')
    .sum({
      on: 'on_hand_delta',
      res: 'reserved_delta',
      com: 'committed_delta',
      una: 'unavailable_delta',
      inc: 'incoming_delta',
    })) as Record<string, unknown>[];
  return new Map(
    rows.map((r) => [
      pairKey(String(r.sku), String(r.location_id)),
      [Number(r.on), Number(r.res), Number(r.com), Number(r.una), Number(r.inc)] as Figures,
    ]),
  );
}

export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out.sort();
}

/** Every hold hash of the tenant: key → fields. */
export async function redisHolds(
  h: Harness,
  tenant: string,
): Promise<Map<string, Record<string, string>>> {
  const k = h.keys(tenant);
  const keys = [
    ...(await scanKeys(h.redis, `${k.base}cart:*`)),
    ...(await scanKeys(h.redis, `${k.base}order:*`)),
    ...(await scanKeys(h.redis, `${k.base}transfer:*`)),
  ];
  const out = new Map<string, Record<string, string>>();
  for (const key of keys) out.set(key, await h.redis.hgetall(key));
  return out;
}

/** Every reservations row of the tenant, as the hash the loader would write: key → fields. */
export async function mysqlHolds(
  h: Harness,
  tenant: string,
): Promise<Map<string, { state: string; fields: Record<string, string> }>> {
  const k = h.keys(tenant);
  const rows = (await h.knex('reservations').where({ tenant })) as ReservationRow[];
  const out = new Map<string, { state: string; fields: Record<string, string> }>();
  for (const r of rows) {
    const key =
      r.ref_type === 'cart'
        ? k.cart(r.ref_id)
        : r.ref_type === 'order'
          ? k.order(r.ref_id)
          : k.transfer(r.ref_id);
    const flat = holdFields(r);
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    out.set(key, { state: r.state, fields });
  }
  return out;
}

/** Ledger sums, stock_levels and Redis must agree on every figure of the tenant. */
export async function mirrorDifferences(h: Harness, tenant: string): Promise<string[]> {
  const [redis, mysql, ledger] = await Promise.all([
    redisStock(h, tenant),
    mysqlStock(h, tenant),
    ledgerSums(h, tenant),
  ]);
  const zero: Figures = [0, 0, 0, 0, 0];
  const diffs: string[] = [];
  for (const key of new Set([...redis.keys(), ...mysql.keys(), ...ledger.keys()])) {
    const r = redis.get(key);
    const m = mysql.get(key);
    const l = ledger.get(key) ?? zero;
    const rf = JSON.stringify(r?.f ?? zero);
    if (rf !== JSON.stringify(m?.f ?? zero) || rf !== JSON.stringify(l)) {
      diffs.push(`${key}: redis ${rf} mysql ${JSON.stringify(m?.f)} ledger ${JSON.stringify(l)}`);
    }
    if ((r?.level ?? null) !== (m?.level ?? null) || (r?.qty ?? null) !== (m?.qty ?? null)) {
      diffs.push(`${key}: reorder redis ${r?.level}/${r?.qty} mysql ${m?.level}/${m?.qty}`);
    }
    if (m && m.available !== m.f[0] - m.f[1] - m.f[3])
      diffs.push(`${key}: available column ${m.available}`);
  }
  diffs.push(...(await waitingDifferences(h, tenant)));
  const rh = await redisHolds(h, tenant);
  const mh = await mysqlHolds(h, tenant);
  for (const [key, fields] of rh) {
    const row = mh.get(key);
    if (!row) diffs.push(`${key}: hold in Redis, no reservations row`);
    else if (JSON.stringify(sorted(fields)) !== JSON.stringify(sorted(row.fields))) {
      diffs.push(
        `${key}: redis ${JSON.stringify(sorted(fields))} mysql ${JSON.stringify(sorted(row.fields))}`,
      );
    }
  }
  for (const [key, row] of mh) {
    // released and expired carts are deleted from Redis; every other hold stays (in the window)
    if (
      !rh.has(key) &&
      !(key.includes(':cart:') && (row.state === 'released' || row.state === 'expired'))
    ) {
      diffs.push(`${key}: ${row.state} row has no Redis hold`);
    }
  }
  return diffs;
}

/**
 * The figures of selling ahead of stock: backordered and preordered (Redis, stock_levels and
 * the ledger's sums), the policy (Redis `pol`/`plim`/`pto` and stock_levels), and the wait
 * queues (a hold is queued at a pair exactly when it has waiting units there).
 */
export async function waitingDifferences(h: Harness, tenant: string): Promise<string[]> {
  const k = h.keys(tenant);
  const diffs: string[] = [];
  const seen = new Map<string, { redis?: string; mysql?: string; ledger?: string }>();
  const at = (key: string) => {
    let v = seen.get(key);
    if (!v) seen.set(key, (v = {}));
    return v;
  };
  const n = (x: unknown) => (x === undefined || x === null ? 0 : Number(x));
  for (const key of await scanKeys(h.redis, `${k.base}stock:*`)) {
    const v = await h.redis.hgetall(key);
    const { sku, locationId } = splitPair(key.slice(`${k.base}stock:`.length));
    const policy = [v.pol ?? 'deny', n(v.plim), v.pto === undefined ? null : Number(v.pto)];
    at(pairKey(sku, locationId)).redis = JSON.stringify([
      n(v.backordered),
      n(v.preordered),
      ...policy,
    ]);
  }
  const rows = (await h.knex('stock_levels').where({ tenant })) as Record<string, unknown>[];
  for (const r of rows) {
    at(pairKey(String(r.sku), String(r.location_id))).mysql = JSON.stringify([
      n(r.backordered),
      n(r.preordered),
      String(r.policy),
      n(r.policy_limit),
      r.preorder_until instanceof Date ? r.preorder_until.getTime() : null,
    ]);
  }
  const sums = (await h
    .knex('inventory_ledger')
    .where({ tenant })
    .groupBy('sku', 'location_id')
    .select('sku', 'location_id')
    .sum({ b: 'backordered_delta', p: 'preordered_delta' })) as Record<string, unknown>[];
  for (const r of sums)
    at(pairKey(String(r.sku), String(r.location_id))).ledger = JSON.stringify([n(r.b), n(r.p)]);
  const none = JSON.stringify([0, 0, 'deny', 0, null]);
  for (const [key, v] of seen) {
    const redis = v.redis ?? none;
    const mysql = v.mysql ?? none;
    const ledger = v.ledger ?? JSON.stringify([0, 0]);
    const figures = JSON.stringify((JSON.parse(redis) as unknown[]).slice(0, 2));
    if (redis !== mysql || figures !== ledger)
      diffs.push(`${key}: waiting/policy redis ${redis} mysql ${mysql} ledger ${ledger}`);
  }
  // queue membership: every waiting line of a Redis hold, and nothing else
  const waiting = new Set<string>();
  for (const [key, fields] of await redisHolds(h, tenant)) {
    // the member is the hold key without the tenant's base: cart:<id> or order:<id>
    const member = key.slice(k.base.length);
    for (const [f, v] of Object.entries(fields)) {
      if ((f.startsWith('b:') || f.startsWith('p:')) && Number(v) > 0)
        waiting.add(`${f.slice(2)}|${member}`);
    }
  }
  const queued = new Set<string>();
  for (const key of await scanKeys(h.redis, `${k.base}wait:*`)) {
    const pair = key.slice(`${k.base}wait:`.length);
    for (const m of await h.redis.zrange(key, 0, -1)) queued.add(`${pair}|${m}`);
  }
  for (const w of waiting) if (!queued.has(w)) diffs.push(`waiting, not queued: ${w}`);
  for (const q of queued) if (!waiting.has(q)) diffs.push(`queued, not waiting: ${q}`);
  return diffs;
}

const sorted = (o: Record<string, string>) =>
  Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

export async function count(h: Harness, table: string, tenant?: string): Promise<number> {
  const q = h.knex(table).count({ n: '*' });
  if (tenant) q.where({ tenant });
  const [row] = (await q) as { n: number | string }[];
  return Number(row!.n);
}

/** What a duplicate of an event re-announces: its identity, outcome and movements. */
export function announced(p: OutboxPayload) {
  return {
    tenant: p.tenant,
    source: p.source,
    id: p.id,
    type: p.type,
    outcome: p.outcome,
    movements: p.movements,
  };
}

/** `announced` of the payload read back from MySQL (what the worker does for a duplicate). */
export async function announcedFromMysql(h: Harness, p: OutboxPayload) {
  const found = await findPayload(h.knex, p.tenant, p.source, p.id);
  return found && announced(found);
}
