/**
 * Helpers for tests that drive the Lua engine against real Redis: an Engine whose tenants
 * are "loaded" by writing the epoch (the MySQL loader is not involved), and readers that
 * take figures and holds straight from the Redis hashes.
 */
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { Engine, type ApplyResult, type EngineOptions } from '../../src/engine/engine.js';
import { InventoryModel, type ModelResult } from '../../src/domain/model.js';
import { pairOf, TenantKeys } from '../../src/engine/keys.js';
import type { InventoryView } from '../../src/domain/invariants.js';
import type {
  Command,
  EventMeta,
  HoldKind,
  StockFigures,
  StockRecord,
} from '../../src/domain/types.js';

export const DEDUP_TTL_SECONDS = 3600;

export function testEngine(
  redis: Redis,
  prefix: string,
  now?: () => number,
  more: Partial<EngineOptions> = {},
): Engine {
  return new Engine(redis, {
    ...more,
    prefix,
    dedupTtlSeconds: DEDUP_TTL_SECONDS,
    ensureTenant: async (t) => {
      await redis.hset(new TenantKeys(prefix, t).meta, 'epoch', 1, 'isc', 1);
    },
    ...(now ? { now } : {}),
  });
}

/** Orders Redis stream entry ids (ms-seq) as the stream does. */
export function compareEntryIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}

/** Makes event envelopes with unique ids for one tenant. */
export function eventMaker(tenant: string, source = '/test') {
  let n = 0;
  return (type = 'test.event', id?: string): EventMeta => ({
    tenant,
    source,
    id: id ?? `e${++n}`,
    type,
    occurredAt: '2026-11-23T10:15:00Z',
  });
}

export type Applied = Extract<ApplyResult, { status: 'applied' }>;

/** What the engine and the model both return, without the stream ids, to compare. */
export const comparable = (r: ApplyResult | ModelResult) =>
  r.status === 'applied'
    ? {
        status: r.status,
        outcome: r.payload.outcome,
        movements: r.payload.movements,
        holds: r.payload.holds,
        kits: r.payload.kits,
      }
    : r;

/**
 * One tenant run on the engine and on a model side by side, at `now`: `step` applies a command
 * to both and expects the same result; `run` also expects it applied, and returns the payload.
 */
export function twinTenant(engine: Engine, tenant: string, now: number) {
  const ev = eventMaker(tenant);
  const model = new InventoryModel();
  const step = async (c: Command, id?: string) => {
    const meta = ev(c.op, id);
    const got = await engine.apply(meta, c);
    const want = model.apply(meta, c, now, DEDUP_TTL_SECONDS);
    expect(comparable(got), JSON.stringify(c)).toEqual(comparable(want));
    return got;
  };
  const run = async (c: Command, id?: string) => {
    const got = await step(c, id);
    if (got.status !== 'applied') throw new Error(`not applied: ${JSON.stringify(got)}`);
    return got.payload;
  };
  return { step, run, model };
}

/** Applies and asserts the event was applied (not duplicate / not-yet): returns it. */
export async function mustApply(engine: Engine, meta: EventMeta, c: Command): Promise<Applied> {
  const r = await engine.apply(meta, c);
  if (r.status !== 'applied') throw new Error(`expected applied, got ${JSON.stringify(r)}`);
  return r;
}

const num = (v: string | undefined): number => (v === undefined ? 0 : Number(v));

export async function readFigures(
  redis: Redis,
  keys: TenantKeys,
  sku: string,
  locationId: string,
): Promise<StockFigures & { available: number }> {
  const h = await redis.hgetall(keys.stock(pairOf(sku, locationId)));
  const f = {
    onHand: num(h.onHand),
    reserved: num(h.reserved),
    committed: num(h.committed),
    unavailable: num(h.unavailable),
    incoming: num(h.incoming),
    backordered: num(h.backordered),
    preordered: num(h.preordered),
  };
  return { ...f, available: f.onHand - f.reserved - f.unavailable };
}

export interface HoldRead {
  kind: HoldKind;
  id: string;
  fields: Record<string, string>;
}

/** Figures and settings of a stock hash (`pol`, `plim`, `pto`: the selling-ahead policy). */
function stockRecord(h: Record<string, string>): StockRecord {
  const r: StockRecord = {
    onHand: num(h.onHand),
    reserved: num(h.reserved),
    committed: num(h.committed),
    unavailable: num(h.unavailable),
    incoming: num(h.incoming),
    backordered: num(h.backordered),
    preordered: num(h.preordered),
  };
  if (h.reorderLevel !== undefined) r.reorderLevel = Number(h.reorderLevel);
  if (h.reorderQuantity !== undefined) r.reorderQuantity = Number(h.reorderQuantity);
  if (h.pol === 'backorder' || h.pol === 'preorder') r.policy = h.pol;
  if (h.plim !== undefined) r.policyLimit = Number(h.plim);
  if (h.pto !== undefined) r.preorderUntil = Number(h.pto);
  return r;
}

/** A hold line's figures by pair, from its `h:`, `b:` and `p:` fields. */
function holdLines(f: Record<string, string>) {
  const lines = new Map<string, { held: number; backordered?: number; preordered?: number }>();
  const field = { 'h:': 'held', 'b:': 'backordered', 'p:': 'preordered' } as const;
  for (const [k, v] of Object.entries(f)) {
    const name = field[k.slice(0, 2) as keyof typeof field];
    if (!name) continue;
    const p = k.slice(2);
    const l = lines.get(p) ?? { held: 0 };
    l[name] = Number(v);
    lines.set(p, l);
  }
  return lines;
}

/** Reads every named stock pair and hold of a tenant in one round trip. */
export async function readView(
  redis: Redis,
  keys: TenantKeys,
  pairs: readonly string[],
  holds: readonly { kind: HoldKind; id: string }[],
): Promise<InventoryView & { stocks: Map<string, StockRecord>; raw: HoldRead[] }> {
  const pipe = redis.pipeline();
  for (const p of pairs) pipe.hgetall(keys.stock(p));
  for (const h of holds) pipe.hgetall(keys[h.kind](h.id));
  const replies = (await pipe.exec()) ?? [];
  const values = replies.map(([err, v]) => {
    if (err) throw err;
    return v as Record<string, string>;
  });
  const stocks = new Map<string, StockRecord>();
  pairs.forEach((p, i) => stocks.set(p, stockRecord(values[i]!)));
  const raw: HoldRead[] = holds.map((h, i) => ({ ...h, fields: values[pairs.length + i]! }));
  return {
    tenant: keys.tenant,
    stocks,
    holds: raw
      .filter((h) => Object.keys(h.fields).length > 0)
      .map((h) => ({
        kind: h.kind,
        id: h.id,
        state: h.fields.st,
        paid: h.fields.c === '1',
        lines: holdLines(h.fields),
      })),
    raw,
  };
}

/** The wait queue of each pair, members first in line first, with their places. */
export async function readWaits(
  redis: Redis,
  keys: TenantKeys,
  pairs: readonly string[],
): Promise<Record<string, [member: string, place: number][]>> {
  const pipe = redis.pipeline();
  for (const p of pairs) pipe.zrange(keys.wait(p), 0, -1, 'WITHSCORES');
  const replies = (await pipe.exec()) ?? [];
  const out: Record<string, [string, number][]> = {};
  replies.forEach(([err, v], i) => {
    if (err) throw err;
    const flat = v as string[];
    if (flat.length === 0) return;
    const q: [string, number][] = [];
    for (let j = 0; j < flat.length; j += 2) q.push([flat[j]!, Number(flat[j + 1])]);
    out[pairs[i]!] = q;
  });
  return out;
}

/** Every key under the prefix with its type and content, for "nothing changed" checks. */
export async function dumpPrefix(redis: Redis, prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      const type = await redis.type(k);
      if (type === 'hash') out[k] = await redis.hgetall(k);
      else if (type === 'string') out[k] = await redis.get(k);
      else if (type === 'stream') out[k] = await redis.xrange(k, '-', '+');
      else out[k] = type;
    }
  } while (cursor !== '0');
  return out;
}
