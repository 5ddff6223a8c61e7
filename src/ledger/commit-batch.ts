import type { Knex } from 'knex';
import {
  latestConfig,
  latestHolds,
  LEDGER_COLUMNS,
  ledgerTuples,
  type MirrorItem,
  PROCESSED_COLUMNS,
  processedTuple,
  RESERVATION_COLUMNS,
  reservationTuple,
  sumDeltas,
} from './mirror-rows.js';
import { isDuplicateKey } from './mysql-errors.js';
import { sqlDateTime } from './sql-time.js';
import { networkStatements } from './mirror-network.js';
import { settingsStatements } from './mirror-settings.js';
import {
  fitsOneStatement,
  insertManyStatements,
  insertTuplesReturningIds,
  insertTuplesStatements,
  runStatements,
  sqlNumber,
  type StatementResult,
  takesMultipleStatements,
} from './sql-batch.js';

export type MirrorResult = 'committed' | 'duplicate' | 'stale';

/**
 * How processed_events keys are numbered in this session: `auto_increment_increment` when one
 * multi-row INSERT gets consecutive keys (innodb_autoinc_lock_mode 0 or 1, MySQL's and
 * MariaDB's documented guarantee), null when it may not (mode 2: the keys are read back).
 */
export type IdStep = number | null;

const AUTOINC =
  '@@innodb_autoinc_lock_mode AS autoinc_mode, @@auto_increment_increment AS autoinc_step';

interface AutoincRow {
  autoinc_mode: number | string;
  autoinc_step: number | string;
}

const idStepOf = (r: AutoincRow): IdStep =>
  Number(r.autoinc_mode) <= 1 && Number(r.autoinc_step) >= 1 ? Number(r.autoinc_step) : null;

async function readIdStep(trx: Knex.Transaction): Promise<IdStep> {
  const [rows] = (await trx.raw(`SELECT ${AUTOINC}`)) as [AutoincRow[]];
  return idStepOf(rows[0]!);
}

/**
 * Reads the tenants' epochs under a shared lock: mirrors of the same tenants run side by
 * side, while a tenant load (which takes the row exclusively to bump the epoch) waits for
 * them, and they for it. So a payload is mirrored only if its epoch is the current one.
 * The same round trip reads how the session numbers new keys (`idStep`; undefined if no
 * tenant is known, when nothing will be inserted anyway).
 */
export async function lockEpochs(
  trx: Knex.Transaction,
  tenants: string[],
): Promise<{ epochs: Map<string, number>; idStep?: IdStep }> {
  const epochs = new Map<string, number>();
  if (tenants.length === 0) return { epochs };
  const [rows] = (await trx.raw(
    `SELECT tenant, epoch, ${AUTOINC} FROM tenant_epochs WHERE tenant IN (${tenants.map(() => '?').join(',')}) LOCK IN SHARE MODE`,
    [...tenants].sort(),
  )) as [({ tenant: string; epoch: number | string } & AutoincRow)[]];
  for (const r of rows) epochs.set(r.tenant, Number(r.epoch));
  return rows[0] ? { epochs, idStep: idStepOf(rows[0]) } : { epochs };
}

const SEP = '\x1f';
const eventKey = (i: MirrorItem) => i.payload.tenant + SEP + i.payload.source + SEP + i.payload.id;

/**
 * The processed_events keys of those of the events that are recorded, by event. Locking, it
 * sees rows committed after this transaction's snapshot was taken (the ones our INSERT just
 * collided with); plain, it reads the rows this transaction inserted.
 */
async function recordedIds(
  trx: Knex.Transaction,
  items: MirrorItem[],
  locking: boolean,
): Promise<Map<string, number>> {
  const groups = new Map<string, { tenant: string; source: string; ids: string[] }>();
  for (const { payload: p } of items) {
    const key = p.tenant + SEP + p.source;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { tenant: p.tenant, source: p.source, ids: [] }));
    g.ids.push(p.id);
  }
  const found = new Map<string, number>();
  for (const g of groups.values()) {
    for (let i = 0; i < g.ids.length; i += 1000) {
      const ids = g.ids.slice(i, i + 1000);
      const [rows] = (await trx.raw(
        `SELECT id, event_id FROM processed_events WHERE tenant = ? AND event_source = ? AND event_id IN (${ids.map(() => '?').join(',')})${locking ? ' LOCK IN SHARE MODE' : ''}`,
        [g.tenant, g.source, ...ids],
      )) as [{ id: number | string; event_id: string }[]];
      for (const r of rows) found.set(g.tenant + SEP + g.source + SEP + r.event_id, Number(r.id));
    }
  }
  return found;
}

/**
 * Records the events not recorded yet (processed_events is the idempotency key of the whole
 * mirror) and returns the ones it recorded, each with its processed_events key. On a collision
 * the insert is undone (the statement, or to a savepoint if it took several), the colliding
 * events are left out, and the rest is inserted again.
 */
async function recordEvents(
  trx: Knex.Transaction,
  items: MirrorItem[],
  idStep: IdStep,
): Promise<Map<MirrorItem, number>> {
  let todo = items;
  const tuples = new Map<MirrorItem, string>(items.map((i) => [i, processedTuple(i)]));
  for (;;) {
    if (todo.length === 0) return new Map();
    let ids: number[] | undefined;
    const rows = todo.map((i) => tuples.get(i)!);
    const insert = (db: Knex.Transaction) =>
      insertTuplesReturningIds(db, `processed_events (${PROCESSED_COLUMNS})`, rows, idStep);
    try {
      // A statement that fails is undone by itself (InnoDB rolls back a statement that hits a
      // duplicate key), so one statement needs no savepoint: two round trips fewer per batch.
      if (fitsOneStatement(rows)) ids = await insert(trx);
      else await trx.transaction(async (sp) => void (ids = await insert(sp)));
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const seen = await recordedIds(trx, todo, true);
      const rest = todo.filter((i) => !seen.has(eventKey(i)));
      // A collision that leaves out none of ours would loop for ever: nothing found, or only
      // rows MySQL's padding equates with ours ('e1' for 'e1 ', an id the schemas now refuse).
      if (rest.length === todo.length) throw err;
      todo = rest;
      continue;
    }
    if (ids) return new Map(todo.map((item, k) => [item, ids![k]!]));
    const read = await recordedIds(trx, todo, false);
    return new Map(
      todo.map((item) => {
        const id = read.get(eventKey(item));
        if (id === undefined) throw new Error(`event ${item.payload.id}: recorded, not found`);
        return [item, id];
      }),
    );
  }
}

/**
 * Appends to `sqls` the statements that write what follows from the recorded events `fresh`:
 * their ledger rows (`refOf`: the SQL of an event's processed_events key), the upserts of the
 * stock figures, configurations, holds, network and settings. None for a table with nothing
 * to write.
 */
function followingStatements(
  fresh: MirrorItem[],
  refOf: (item: MirrorItem) => string,
  sqls: string[],
): void {
  const lines: string[] = [];
  for (const i of fresh) ledgerTuples(i.payload, refOf(i), lines);
  insertTuplesStatements(`inventory_ledger (${LEDGER_COLUMNS})`, lines, '', sqls);
  insertManyStatements(
    'stock_levels (tenant, sku, location_id, on_hand, reserved, committed, unavailable, incoming, backordered, preordered)',
    sumDeltas(fresh).map((d) => [
      d.tenant,
      d.sku,
      d.locationId,
      d.onHand,
      d.reserved,
      d.committed,
      d.unavailable,
      d.incoming,
      d.backordered,
      d.preordered,
    ]),
    `ON DUPLICATE KEY UPDATE on_hand = on_hand + VALUES(on_hand), reserved = reserved + VALUES(reserved),
     committed = committed + VALUES(committed), unavailable = unavailable + VALUES(unavailable),
     incoming = incoming + VALUES(incoming), backordered = backordered + VALUES(backordered),
     preordered = preordered + VALUES(preordered)`,
    sqls,
  );
  // Each assignment sees the columns assigned before it, so the guard column goes last.
  const newerConfig = 'config_seq IS NULL OR VALUES(config_seq) > config_seq';
  const configured = [
    'reorder_level',
    'reorder_quantity',
    'policy',
    'policy_limit',
    'preorder_until',
    'config_seq',
  ];
  insertManyStatements(
    `stock_levels (tenant, sku, location_id, ${configured.join(', ')})`,
    latestConfig(fresh).map((c) => [
      c.tenant,
      c.sku,
      c.locationId,
      c.reorderLevel,
      c.reorderQuantity,
      // a payload of a script older than the policy fields configured a pair that denies
      c.policy ?? 'deny',
      c.policyLimit ?? 0,
      c.preorderUntil == null ? null : sqlDateTime(c.preorderUntil),
      c.seq,
    ]),
    `ON DUPLICATE KEY UPDATE
     ${configured.map((col) => `${col} = IF(${newerConfig}, VALUES(${col}), ${col})`).join(',\n     ')}`,
    sqls,
  );
  const newer = 'VALUES(change_seq) > change_seq';
  const guarded = [
    'state',
    '`lines`',
    'link',
    'paid',
    'payment_id',
    'from_location_id',
    'to_location_id',
    'expires_at',
    'version',
    'updated_at',
    'shipments',
    // last: the IFs before it compare against the change_seq the row had
    'change_seq',
  ].map((c) => `${c} = IF(${newer}, VALUES(${c}), ${c})`);
  insertTuplesStatements(
    `reservations (${RESERVATION_COLUMNS})`,
    latestHolds(fresh).map(reservationTuple),
    `ON DUPLICATE KEY UPDATE ${guarded.join(', ')}`,
    sqls,
  );
  networkStatements(fresh, sqls);
  settingsStatements(fresh, sqls);
}

/** The session variable that holds the first processed_events key of the query recording them. */
const FIRST_REF = '@mirror_first_event_ref';
const SAVEPOINT = 'mirror_record';

/**
 * Records the events and writes what follows from them in one query (`runStatements`), when
 * the connection takes multiple statements and the session numbers one INSERT's keys
 * consecutively (`step`): the ledger rows compute their `event_ref` from the key the INSERT
 * gave the batch's first event. Returns the events it recorded, or undefined, having sent
 * nothing, when it cannot (the caller records them first, then writes the rest).
 *
 * The query opens with a savepoint: on a duplicate key (an event recorded meanwhile, by
 * another writer or an earlier delivery), whichever statement hit it, the query is undone to
 * there (one round trip more, on this rare path only), the colliding events are left out and
 * the rest is sent again, as `recordEvents` does. Any other failure is the caller's: the
 * transaction rolls back whole.
 */
async function recordAndWrite(
  trx: Knex.Transaction,
  items: MirrorItem[],
  step: number,
): Promise<Set<MirrorItem> | undefined> {
  if (!takesMultipleStatements(trx)) return undefined;
  let todo = items;
  for (;;) {
    if (todo.length === 0) return new Set();
    const rows = todo.map(processedTuple);
    // several INSERTs would need several first keys: left to recordEvents (a savepoint each)
    if (!fitsOneStatement(rows)) return undefined;
    const sqls = [`SAVEPOINT ${SAVEPOINT}`];
    insertTuplesStatements(`processed_events (${PROCESSED_COLUMNS})`, rows, '', sqls);
    sqls.push(`SET ${FIRST_REF} = LAST_INSERT_ID()`);
    const offset = new Map(todo.map((item, k) => [item, k * step]));
    followingStatements(todo, (i) => `${FIRST_REF}+${offset.get(i)!}`, sqls);
    let header: StatementResult;
    try {
      header = (await runStatements(trx, sqls))[1]!;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      await trx.raw(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
      const seen = await recordedIds(trx, todo, true);
      const rest = todo.filter((i) => !seen.has(eventKey(i)));
      // as in recordEvents: a collision that leaves out none of ours is not a duplicate
      if (rest.length === todo.length) throw err;
      todo = rest;
      continue;
    }
    const first = Number(header.insertId);
    if (
      header.affectedRows !== todo.length ||
      !(first >= 1) ||
      !Number.isSafeInteger(first + todo.length * step)
    ) {
      throw new Error(
        `INSERT INTO processed_events: ${todo.length} rows gave affectedRows ${header.affectedRows}, insertId ${header.insertId}`,
      );
    }
    return new Set(todo);
  }
}

/**
 * Mirrors payloads inside a transaction whose caller holds the tenants' epochs (`epochs`):
 * the event record, its ledger rows, the stock figures and the hold snapshots, all or none.
 * Returns one result per item, in order. `idStep` is what `lockEpochs` read, if it did.
 *
 * On the writer's pool (createKnex's `multipleStatements`) this is one query, see
 * `recordAndWrite`. Elsewhere, or when the keys must be read back, the events are recorded
 * first (`recordEvents`), then what follows from them is sent, in one query where the
 * connection takes several statements. Whatever fails, the error is the caller's, whose
 * transaction rolls back whole.
 */
export async function mirrorInTransaction(
  trx: Knex.Transaction,
  items: MirrorItem[],
  epochs: Map<string, number>,
  idStep?: IdStep,
): Promise<MirrorResult[]> {
  const results: MirrorResult[] = new Array(items.length);
  const firstOf = new Map<string, number>();
  const candidates: MirrorItem[] = [];
  items.forEach((item, i) => {
    if (epochs.get(item.payload.tenant) !== item.payload.epoch) {
      results[i] = 'stale';
      return;
    }
    const key = eventKey(item);
    if (firstOf.has(key)) {
      results[i] = 'duplicate';
      return;
    }
    firstOf.set(key, i);
    candidates.push(item);
  });
  if (candidates.length === 0) return results;

  const step = idStep === undefined ? await readIdStep(trx) : idStep;
  let recorded: { has(item: MirrorItem): boolean } | undefined =
    step === null ? undefined : await recordAndWrite(trx, candidates, step);
  if (!recorded) {
    const keys = await recordEvents(trx, candidates, step);
    const fresh = candidates.filter((i) => keys.has(i));
    const sqls: string[] = [];
    followingStatements(fresh, (i) => sqlNumber(keys.get(i)!), sqls);
    await runStatements(trx, sqls);
    recorded = keys;
  }
  for (const item of candidates) {
    results[firstOf.get(eventKey(item))!] = recorded.has(item) ? 'committed' : 'duplicate';
  }
  return results;
}

/**
 * Called, inside the transaction that holds the tenant's epoch row shared, for a payload whose
 * epoch is ahead of MySQL's: a load wrote meta, then died before its commit.
 */
export type EpochAheadHandler = (tenant: string, epoch: number) => Promise<void>;

/** Mirrors a batch in one transaction of its own. */
export async function commitBatch(
  knex: Knex,
  items: MirrorItem[],
  onEpochAhead?: EpochAheadHandler,
): Promise<MirrorResult[]> {
  const tenants = [...new Set(items.map((i) => i.payload.tenant))];
  return knex.transaction(async (trx) => {
    const { epochs, idStep } = await lockEpochs(trx, tenants);
    if (onEpochAhead) {
      const ahead = new Map<string, number>();
      for (const { payload: p } of items) {
        // a tenant MySQL has never heard of is not a dead load but a wrong database: leave
        // Redis alone and let the payloads be stale until someone looks
        const known = epochs.get(p.tenant);
        if (known !== undefined && p.epoch > known) ahead.set(p.tenant, p.epoch);
      }
      for (const [tenant, epoch] of ahead) await onEpochAhead(tenant, epoch);
    }
    return mirrorInTransaction(trx, items, epochs, idStep);
  });
}
