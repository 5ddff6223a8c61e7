import type { Knex } from 'knex';
import { pairOf, splitPair } from '../engine/keys.js';
import type { PassContext } from './pass-context.js';
import { bindingRef, kitRef, locationRef, readHashes, type HashesRead } from './pending-outbox.js';
import { encodeKit, parseKit } from '../engine/network.js';
import { callScript } from '../engine/call-script.js';
import type { TenantScope } from './tenant-scope.js';
import { unmirrored, withTenantLock } from './read-snapshot.js';
import { pairsSql, rangeSql, type PairKey } from './stock-sql.js';
import type { Drift } from './types.js';

/** One location, binding or kit whose Redis value is not MySQL's. */
interface Difference {
  /** 'l' locations hash, 'b' bindings hash, 'k' kits hash (restoreNetwork-4.lua) */
  hash: 'l' | 'b' | 'k';
  field: string;
  /** the raw hash value ('' = none) */
  redis: string;
  /** the value MySQL gives it ('' = none) */
  mysql: string;
}

/** What the difference is about, as pending outbox entries name it. */
const refOf = (d: Difference): string =>
  d.hash === 'l' ? locationRef(d.field) : d.hash === 'k' ? kitRef(d.field) : bindingRef(d.field);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Redis compare-and-set attempts within one lock before leaving the drift unrepaired. */
const CAS_ATTEMPTS = 10;

/**
 * Compares the tenant's locations, bindings and kits in Redis (hashes `locs`, `bind`, `kits`)
 * with MySQL (`locations`, `location_skus`, `kits`), which Redis is loaded from. Detection reads each Redis page
 * atomically with the tenant's outbox (changes still there are Redis's lead, not drift), then
 * MySQL. What differs is looked at again after `recheckDelayMs`, exactly this time: under the
 * tenant's lock (no mirror commit meanwhile), MySQL against Redis less the entries MySQL does
 * not have. Only what still differs is a `network-vs-mysql` drift. With `repair`, under the
 * same lock, Redis takes MySQL's values in one atomic step that first checks it still has the
 * values read (restoreNetwork-4.lua) and bumps the network version, so every
 * worker's planner reads the network again. Locations and kits are read whole (a tenant has
 * few); bindings in pages: the
 * bound rows of `location_skus` in key order, then the Redis hash by HSCAN, so neither Redis
 * nor the process holds them all at once.
 */
export async function reconcileNetwork(ctx: PassContext): Promise<void> {
  const { scope } = ctx;
  if (!scope.redisCompared) return;
  const locations = await locationDifferences(scope);
  if (locations === null) return;
  const bindings = await bindingDifferences(ctx);
  if (bindings === null) return;
  const kits = await kitDifferences(scope);
  if (kits === null) return;
  const suspects = [...locations, ...bindings, ...kits];
  if (suspects.length === 0) return;
  await sleep(ctx.recheckDelayMs);
  const ids = locations.map((d) => d.field);
  const pairs = bindings.map((d) => splitPair(d.field));
  const kitSkus = kits.map((d) => d.field);
  const result = await withTenantLock(scope.knex, scope.tenant, async (trx) => {
    let found: Difference[] = [];
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      const exact = await exactDifferences(scope, trx, ids, pairs, kitSkus);
      if (exact === null) return { found, repaired: false, why: '; not repaired: unloaded' };
      found = exact;
      if (found.length === 0 || !ctx.repair) return { found, repaired: false, why: '' };
      const r = (await callScript(
        scope.redis,
        'restoreNetwork',
        [scope.keys.meta, scope.keys.locations, scope.keys.bindings, scope.keys.kits],
        found.flatMap((d) => [d.hash, d.field, d.redis, d.mysql]),
      )) as [number, string?];
      if (r[0] === 1) return { found, repaired: true, why: '' };
      if (r[0] === -1) return { found, repaired: false, why: '; not repaired: unloaded' };
      // an event changed one of them since the read: read again
    }
    return { found, repaired: false, why: '; not repaired: kept changing' };
  });
  await ctx.tally.report(
    result.found.map((d) => toDrift(scope.tenant, d, result.repaired, result.why)),
  );
}

function toDrift(tenant: string, d: Difference, repaired: boolean, why: string): Drift {
  if (d.hash === 'k') {
    return {
      tenant,
      kind: 'network-vs-mysql',
      referenceType: 'kit',
      referenceId: d.field,
      field: 'kit',
      detail: `Redis ${d.redis || 'none'}, MySQL ${d.mysql || 'none'}${why}`,
      repaired,
    };
  }
  if (d.hash === 'l') {
    return {
      tenant,
      kind: 'network-vs-mysql',
      referenceType: 'location',
      referenceId: d.field,
      field: 'location',
      detail: `Redis ${d.redis || 'none'}, MySQL ${d.mysql || 'none'}${why}`,
      repaired,
    };
  }
  const { sku, locationId } = splitPair(d.field);
  return {
    tenant,
    kind: 'network-vs-mysql',
    sku,
    locationId,
    field: 'bound',
    redis: d.redis === '' ? 0 : 1,
    ledger: d.mysql === '' ? 0 : 1,
    detail: `location_skus says ${d.mysql === '' ? 'unbound' : 'bound'}${why}`,
    repaired,
  };
}

/** A location's value as the scripts and the loader write it, in one comparable form. */
function canonical(json: string): string {
  try {
    const v = JSON.parse(json) as { name?: unknown; priority?: unknown; shipsTo?: unknown };
    // Lua's cjson writes an empty list as {}
    const shipsTo = Array.isArray(v.shipsTo) ? (v.shipsTo as unknown[]) : [];
    return JSON.stringify([v.name, v.priority, shipsTo]);
  } catch {
    return json; // unreadable: it differs from whatever MySQL has
  }
}

/** A kit's value (JSON [[sku, quantity], ...]) in one comparable form. */
function canonicalKit(json: string): string {
  try {
    return encodeKit(parseKit(json));
  } catch {
    return json; // unreadable: it differs from whatever MySQL has
  }
}

/** `kits` rows defined now (those of `skus`, or all), as the loader writes them into Redis. */
async function mysqlKits(
  db: Knex | Knex.Transaction,
  tenant: string,
  skus?: string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (skus?.length === 0) return out;
  const only = skus ? ` AND sku IN (${skus.map(() => '?').join(',')})` : '';
  const [rows] = (await db.raw(
    `SELECT sku, components FROM kits WHERE tenant = ? AND components IS NOT NULL${only}`,
    [tenant, ...(skus ?? [])],
  )) as [{ sku: string; components: string }[]];
  for (const r of rows) out.set(r.sku, canonicalKit(r.components));
  return out;
}

function kitsDiffering(
  ahead: Set<string>,
  inRedis: Record<string, string>,
  inMysql: Map<string, string>,
  skus: Iterable<string>,
): Difference[] {
  const out: Difference[] = [];
  for (const sku of skus) {
    if (ahead.has(kitRef(sku))) continue;
    const redis = inRedis[sku] ?? '';
    const mysql = inMysql.get(sku) ?? '';
    if ((redis && canonicalKit(redis)) !== mysql) out.push({ hash: 'k', field: sku, redis, mysql });
  }
  return out;
}

/** The kits that differ now, or null when the tenant cannot be compared. */
async function kitDifferences(scope: TenantScope): Promise<Difference[] | null> {
  const read = await readNetwork(scope, [scope.keys.kits]);
  const ahead = aheadOf(scope, read);
  if (ahead === null) return null;
  const inRedis = read.hashes[0] ?? {};
  const inMysql = await mysqlKits(scope.knex, scope.tenant);
  const skus = new Set([...inMysql.keys(), ...Object.keys(inRedis)]);
  return kitsDiffering(ahead, inRedis, inMysql, skus);
}

/** Fields of the network hashes (all when none are named), atomically with the outbox. */
const readNetwork = (scope: TenantScope, hashes: string[], fields?: string[]) =>
  readHashes(scope.redis, scope.keys, hashes, scope.outbox, scope.maxOutboxEntries, fields);

/** Changes waiting in the outbox (what Redis is ahead by), or null when not comparable. */
function aheadOf(scope: TenantScope, read: HashesRead): Set<string> | null {
  if (read.epoch === null) return null;
  if (read.pending === null) {
    scope.stopRedis(`outbox longer than ${scope.maxOutboxEntries} entries: Redis not compared`);
    return null;
  }
  return new Set(read.pending.flatMap((e) => e.network));
}

/** `locations` rows (those of `ids`, or all), as the loader writes them into Redis. */
async function mysqlLocations(
  db: Knex | Knex.Transaction,
  tenant: string,
  ids?: string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (ids?.length === 0) return out;
  const only = ids ? ` AND location_id IN (${ids.map(() => '?').join(',')})` : '';
  const [rows] = (await db.raw(
    `SELECT location_id, name, priority, ships_to FROM locations WHERE tenant = ?${only}`,
    [tenant, ...(ids ?? [])],
  )) as [{ location_id: string; name: string; priority: number; ships_to: string }[]];
  for (const r of rows) {
    const shipsTo = JSON.parse(r.ships_to) as string[];
    out.set(r.location_id, JSON.stringify({ name: r.name, priority: Number(r.priority), shipsTo }));
  }
  return out;
}

/** Which of the pairs `location_skus` has bound. */
async function mysqlBindings(
  db: Knex | Knex.Transaction,
  tenant: string,
  pairs: PairKey[],
): Promise<Set<string>> {
  if (pairs.length === 0) return new Set();
  const p = pairsSql(pairs);
  const [rows] = (await db.raw(
    `SELECT sku, location_id FROM location_skus WHERE tenant = ? AND bound = 1${p.sql}`,
    [tenant, ...p.args],
  )) as [{ sku: string; location_id: string }[]];
  return new Set(rows.map((r) => pairOf(r.sku, r.location_id)));
}

function locationsDiffering(
  ahead: Set<string>,
  inRedis: Record<string, string>,
  inMysql: Map<string, string>,
  ids: Iterable<string>,
): Difference[] {
  const out: Difference[] = [];
  for (const id of ids) {
    if (ahead.has(locationRef(id))) continue;
    const redis = inRedis[id] ?? '';
    const mysql = inMysql.get(id) ?? '';
    if ((redis && canonical(redis)) !== (mysql && canonical(mysql)))
      out.push({ hash: 'l', field: id, redis, mysql });
  }
  return out;
}

function bindingsDiffering(
  ahead: Set<string>,
  inRedis: Record<string, string>,
  inMysql: Set<string>,
  pairs: PairKey[],
): Difference[] {
  const out: Difference[] = [];
  for (const p of pairs) {
    const pair = pairOf(p.sku, p.locationId);
    if (ahead.has(bindingRef(pair))) continue;
    const redis = inRedis[pair] ?? '';
    const mysql = inMysql.has(pair) ? '1' : '';
    if ((redis === '' ? '' : '1') !== mysql) out.push({ hash: 'b', field: pair, redis, mysql });
  }
  return out;
}

/** The locations that differ now, or null when the tenant cannot be compared. */
async function locationDifferences(scope: TenantScope): Promise<Difference[] | null> {
  const k = scope.keys;
  const read = await readNetwork(scope, [k.locations]);
  const ahead = aheadOf(scope, read);
  if (ahead === null) return null;
  const inRedis = read.hashes[0] ?? {};
  const inMysql = await mysqlLocations(scope.knex, scope.tenant);
  const ids = new Set([...inMysql.keys(), ...Object.keys(inRedis)]);
  return locationsDiffering(ahead, inRedis, inMysql, ids);
}

/** The bindings that differ now, in pages from both sides, or null when not comparable. */
async function bindingDifferences(ctx: PassContext): Promise<Difference[] | null> {
  const { scope } = ctx;
  const out = new Map<string, Difference>();
  const add = (found: Difference[] | null): boolean => {
    if (found === null) return false;
    for (const d of found) out.set(refOf(d), d);
    return true;
  };
  // every binding MySQL has, in key order
  let after: PairKey | undefined;
  for (;;) {
    ctx.checkAborted();
    const r = rangeSql({ after });
    const [rows] = (await scope.knex.raw(
      `SELECT sku, location_id FROM location_skus WHERE tenant = ? AND bound = 1${r.sql}
        ORDER BY sku, location_id LIMIT ?`,
      [scope.tenant, ...r.args, scope.pageSize],
    )) as [{ sku: string; location_id: string }[]];
    if (rows.length === 0) break;
    const page = rows.map((row) => ({ sku: row.sku, locationId: row.location_id }));
    if (!add(await compareBindings(scope, page))) return null;
    after = page[page.length - 1];
  }
  // every binding Redis has (SCAN order; a field may come twice)
  let cursor = '0';
  do {
    ctx.checkAborted();
    const [next, flat] = await scope.redis.hscan(
      scope.keys.bindings,
      cursor,
      'COUNT',
      scope.pageSize,
    );
    cursor = next;
    const page: PairKey[] = [];
    for (let i = 0; i < flat.length; i += 2) page.push(splitPair(flat[i]!));
    if (page.length > 0 && !add(await compareBindings(scope, page))) return null;
  } while (cursor !== '0');
  return [...out.values()];
}

/**
 * Under the tenant's lock: the given locations and bindings that differ between MySQL and
 * Redis less what the outbox entries MySQL does not have changed (null: tenant not loaded).
 */
async function exactDifferences(
  scope: TenantScope,
  trx: Knex.Transaction,
  ids: string[],
  pairs: PairKey[],
  kitSkus: string[],
): Promise<Difference[] | null> {
  const k = scope.keys;
  const fields = [...ids, ...pairs.map((p) => pairOf(p.sku, p.locationId)), ...kitSkus];
  const read = await readNetwork(scope, [k.locations, k.bindings, k.kits], fields);
  if (read.epoch === null || read.pending === null) return null;
  const open = await unmirrored(
    trx,
    scope.tenant,
    read.pending.filter((e) => e.network.length > 0),
  );
  const ahead = new Set(open.flatMap((e) => e.network));
  const [locs, binds, kits] = read.hashes.map((h) => h ?? {}) as [
    Record<string, string>,
    Record<string, string>,
    Record<string, string>,
  ];
  return [
    ...locationsDiffering(ahead, locs, await mysqlLocations(trx, scope.tenant, ids), ids),
    ...bindingsDiffering(ahead, binds, await mysqlBindings(trx, scope.tenant, pairs), pairs),
    ...kitsDiffering(ahead, kits, await mysqlKits(trx, scope.tenant, kitSkus), kitSkus),
  ];
}

/** Redis's and MySQL's view of these bindings (detection); the ones that differ. */
async function compareBindings(scope: TenantScope, pairs: PairKey[]): Promise<Difference[] | null> {
  const k = scope.keys;
  const read = await readNetwork(
    scope,
    [k.bindings],
    pairs.map((p) => pairOf(p.sku, p.locationId)),
  );
  const ahead = aheadOf(scope, read);
  if (ahead === null) return null;
  const inMysql = await mysqlBindings(scope.knex, scope.tenant, pairs);
  return bindingsDiffering(ahead, read.hashes[0] ?? {}, inMysql, pairs);
}
