/**
 * The ledger on a server whose sql_mode has NO_BACKSLASH_ESCAPES (a private MariaDB started
 * with it: the shared server's mode is never changed). Every value we send is escaped on the
 * client with backslashes (the mirror's own literals, and knex's and mysql2's `?`), which such
 * a server reads as plain characters: a quote in an id would end the literal, and a crafted
 * id ran CURRENT_USER() inside the mirror's INSERT. Each session turns the mode off and checks
 * it (src/ledger/db.ts). Generated ids full of quotes, backslashes, wildcards and SQL
 * look-alikes, and text with NULs and other control characters, are mirrored, stored byte for
 * byte, read back by the tenant loader, the reconciliation and the CLI, and nothing else
 * happens.
 */
import fc from 'fast-check';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idString } from '../../src/domain/schemas.js';
import type { Command, EventMeta, OutboxPayload } from '../../src/domain/types.js';
import { checkSession, connectServer, parseMysqlUrl } from '../../src/ledger/db.js';
import { reconcile } from '../../src/reconcile/index.js';
import { inventory } from '../cli/run.js';
import { PrivateMariaDb } from '../faults/support/private.js';
import {
  createHarness,
  logger,
  mirrorDifferences,
  scanKeys,
  toWrite,
  type Harness,
} from './harness.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 20);

let db: PrivateMariaDb | undefined;
let h: Harness;

beforeAll(async () => {
  db = await PrivateMariaDb.start(['--sql-mode=NO_BACKSLASH_ESCAPES']);
  h = await createHarness('sql_mode', 2000, db.server);
}, 180_000);

afterAll(async () => {
  await h?.close();
  await db?.close();
});

/** The hex of the UTF-8 bytes: what MySQL's HEX() of the column must be. */
const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase();

/** What slips through the client's escaping when the server does not read backslashes. */
const LOOK_ALIKES = [
  "\\', CURRENT_USER(), '",
  "x', CURRENT_USER(), 'y",
  "' OR '1'='1",
  "'); DROP TABLE stock_levels; --",
  "\\'",
  '\\',
  "''",
  '%_%',
  '? ?? :sku $1',
  "_binary'x'",
  "N'x' 0x27 X'27'",
  '\\0\\n\\Z\\b',
  '*/ /* -- #',
];
const PIECES = [
  "'",
  '"',
  '\\',
  '%',
  '_',
  '?',
  '`',
  ';',
  '--',
  '#',
  '(',
  ')',
  ',',
  ' ',
  'a',
  'Z',
  '9',
  'é',
  '😀',
  '\u00a0',
];
/** Characters the mirror escapes specially; allowed in free text (a location's name). */
const CONTROLS = ['\0', '\b', '\t', '\n', '\r', '\x1a'];

const pieces = (from: string[], max: number) =>
  fc.array(fc.constantFrom(...from), { minLength: 1, maxLength: max }).map((p) => p.join(''));
/** Ids the worker accepts, as hostile to SQL as they come. */
const sqlId = fc
  .oneof(
    fc.constantFrom(...LOOK_ALIKES),
    pieces(PIECES, 16),
    fc.tuple(fc.constantFrom(...LOOK_ALIKES), pieces(PIECES, 6)).map(([a, b]) => a + b),
  )
  .filter((s) => s.length <= 100 && idString.safeParse(s).success);
const freeText = pieces([...PIECES, ...CONTROLS, ...LOOK_ALIKES], 20).filter(
  (s) => s.length <= 255,
);

const world = fc.record({
  source: sqlId,
  eventId: sqlId,
  location: sqlId,
  name: freeText,
  skus: fc.uniqueArray(sqlId, { minLength: 1, maxLength: 3 }),
  reference: sqlId,
  reason: sqlId,
  cart: sqlId,
  order: sqlId,
  payment: sqlId,
  kit: sqlId,
});
type World = typeof world extends fc.Arbitrary<infer T> ? T : never;

let tenants = 0;

/** The kit's SKU: `w.kit`, made to differ from its components'. */
const kitSku = (w: World): string => (w.skus.includes(w.kit) ? `${w.kit}K` : w.kit);

/**
 * A location, its bindings, a kit of its SKUs, receipts, a configuration, an adjustment, a cart,
 * an order, paid.
 */
function events(w: World): { meta: EventMeta; command: Command }[] {
  const L = w.location;
  const [first] = w.skus as [string, ...string[]];
  const commands: Command[] = [
    { op: 'upsertLocation', locationId: L, name: w.name, priority: 1, shipsTo: [] },
    { op: 'bindLocation', locationId: L, skus: w.skus, bound: true },
    {
      op: 'defineKit',
      sku: kitSku(w),
      components: w.skus.map((sku) => ({ sku, quantity: 2 })),
    },
    ...w.skus.map((sku): Command => ({
      op: 'receiveStock',
      sku,
      locationId: L,
      quantity: 5,
      reference: w.reference,
    })),
    { op: 'configureStock', sku: first, locationId: L, reorderLevel: 1 },
    { op: 'adjustStock', sku: first, locationId: L, delta: -1, reason: w.reason },
    { op: 'reserveCart', cartId: w.cart, sku: first, locationId: L, quantity: 2, ttlMs: 3_600_000 },
    {
      op: 'placeOrder',
      orderId: w.order,
      cartId: w.cart,
      lines: [{ sku: first, locationId: L, quantity: 1 }],
    },
    { op: 'commitOrder', orderId: w.order, paymentId: w.payment },
  ];
  const tenant = `sqlmode${++tenants}`;
  return commands.map((command, n) => ({
    meta: {
      tenant,
      source: w.source,
      // two digits: the ledger rows are compared in the order of their event ids' hex
      id: `${w.eventId}#${String(n).padStart(2, '0')}`,
      type: command.op,
      occurredAt: '2026-11-23T10:15:00.000Z',
    },
    command,
  }));
}

async function mirror(list: { meta: EventMeta; command: Command }[]): Promise<OutboxPayload[]> {
  const payloads: OutboxPayload[] = [];
  for (const { meta, command } of list) {
    const w = toWrite(await h.engine.apply(meta, command));
    if (!w) throw new Error(`${meta.id}: nothing applied`);
    expect(await h.writer.write(w.payload, w.entryId)).toBe('committed');
    payloads.push(w.payload);
  }
  return payloads;
}

const hexRows = async (sql: string, args: unknown[]) =>
  ((await h.knex.raw(sql, args as never)) as [Record<string, string>[]])[0];

/** What MySQL holds of the tenant, as hex, next to what the payloads say it must hold. */
async function expectStoredVerbatim(w: World, tenant: string, payloads: OutboxPayload[]) {
  expect(
    await hexRows(
      'SELECT HEX(event_source) s, HEX(event_id) i FROM processed_events WHERE tenant = ? ORDER BY id',
      [tenant],
    ),
  ).toEqual(payloads.map((p) => ({ s: hex(p.source), i: hex(p.id) })));
  const movements = payloads.flatMap((p) =>
    p.movements.map((m) => ({
      sku: hex(m.sku),
      loc: hex(m.locationId),
      reason: hex(m.reason ?? ''),
      ref: hex(m.referenceId),
      src: hex(p.source),
      id: hex(p.id),
    })),
  );
  expect(
    await hexRows(
      `SELECT HEX(sku) sku, HEX(location_id) loc, HEX(reason) reason, HEX(reference_id) ref,
              HEX(event_source) src, HEX(event_id) id
         FROM inventory_ledger WHERE tenant = ? ORDER BY id`,
      [tenant],
    ),
  ).toEqual(movements);
  expect(
    await hexRows(
      'SELECT HEX(sku) sku, HEX(location_id) loc FROM stock_levels WHERE tenant = ? ORDER BY sku',
      [tenant],
    ),
  ).toEqual(
    [...w.skus]
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
      .map((s) => ({ sku: hex(s), loc: hex(w.location) })),
  );
  expect(
    await hexRows('SELECT HEX(location_id) loc, HEX(name) name FROM locations WHERE tenant = ?', [
      tenant,
    ]),
  ).toEqual([{ loc: hex(w.location), name: hex(w.name) }]);
  const kits = await hexRows('SELECT HEX(sku) sku, components FROM kits WHERE tenant = ?', [
    tenant,
  ]);
  expect(kits.map((k) => [k.sku, JSON.parse(k.components!) as unknown])).toEqual([
    [
      hex(kitSku(w)),
      [...w.skus]
        .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
        .map((sku) => [sku, 2]),
    ],
  ]);
  const holds = (await h
    .knex('reservations')
    .where({ tenant })
    .orderBy('ref_type')
    .select('ref_type', 'ref_id', 'payment_id', 'lines')) as {
    ref_type: string;
    ref_id: string;
    payment_id: string | null;
    lines: string;
  }[];
  expect(holds.map((r) => [r.ref_type, hex(r.ref_id), r.payment_id && hex(r.payment_id)])).toEqual([
    ['cart', hex(w.cart), null],
    ['order', hex(w.order), hex(w.payment)],
  ]);
  const orderLines = JSON.parse(holds[1]!.lines) as { sku: string; locationId: string }[];
  expect(orderLines.map((l) => [l.sku, l.locationId])).toEqual([[w.skus[0], w.location]]);
  expect(await mirrorDifferences(h, tenant)).toEqual([]);
}

describe('the ledger under sql_mode NO_BACKSLASH_ESCAPES', () => {
  it('the server has the mode; our sessions run without it', async () => {
    const { host, port, user, password } = parseMysqlUrl(h.url);
    const raw = await createConnection({ host, port, user, password });
    let global: string;
    let start: string;
    try {
      const [[row]] = (await raw.query(
        'SELECT @@GLOBAL.sql_mode AS global, @@SESSION.sql_mode AS start',
      )) as unknown as [[{ global: string; start: string }]];
      ({ global, start } = row);
    } finally {
      await raw.end();
    }
    expect(global.split(',')).toContain('NO_BACKSLASH_ESCAPES');
    expect(start.split(',')).toContain('NO_BACKSLASH_ESCAPES');
    const [[session]] = (await h.knex.raw('SELECT @@SESSION.sql_mode AS mode')) as [
      [{ mode: string }],
    ];
    expect(session.mode.split(',')).not.toContain('NO_BACKSLASH_ESCAPES');
    // the rest of the mode a session starts with is kept (mysql2 asks for IGNORE_SPACE)
    expect(session.mode.split(',').sort()).toEqual(
      start
        .split(',')
        .filter((m) => m !== 'NO_BACKSLASH_ESCAPES')
        .sort(),
    );
  });

  it('a session that kept the mode, or lost UTC, is refused', () => {
    expect(() =>
      checkSession([{ sqlMode: 'STRICT_TRANS_TABLES', timeZone: '+00:00' }]),
    ).not.toThrow();
    expect(() => checkSession([{ sqlMode: '', timeZone: '+00:00' }])).not.toThrow();
    expect(() =>
      checkSession([{ sqlMode: 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES', timeZone: '+00:00' }]),
    ).toThrow(/NO_BACKSLASH_ESCAPES/);
    expect(() => checkSession([{ sqlMode: '', timeZone: 'SYSTEM' }])).toThrow(/time_zone SYSTEM/);
    expect(() => checkSession([])).toThrow(/not usable/);
  });

  it("raw connections (bi-grant's) fill in values under the same session: a password with quotes and backslashes", async () => {
    const password = "p\\'; SET PASSWORD = PASSWORD('x') -- \\";
    const admin = await connectServer(h.url);
    try {
      await admin.query('CREATE USER ?@? IDENTIFIED BY ?', ['sqlmode_bi', '%', password]);
    } finally {
      await admin.end();
    }
    const { host, port } = parseMysqlUrl(h.url);
    const bi = await createConnection({ host, port, user: 'sqlmode_bi', password });
    try {
      const [[me]] = (await bi.query('SELECT CURRENT_USER() AS me')) as unknown as [
        [{ me: string }],
      ];
      expect(me.me).toBe('sqlmode_bi@%');
    } finally {
      await bi.end();
    }
  });

  it('mirrors generated hostile ids and text byte for byte; reload and reconciliation agree', async () => {
    await fc.assert(
      fc.asyncProperty(world, async (w) => {
        const list = events(w);
        const tenant = list[0]!.meta.tenant;
        const payloads = await mirror(list);
        await expectStoredVerbatim(w, tenant, payloads);

        // Redis lost the tenant: the loader reads it all back from MySQL
        const kits = await h.redis.hgetall(h.keys(tenant).kits);
        const keys = await scanKeys(h.redis, h.keys(tenant).all);
        await h.redis.del(...keys);
        await h.loader.ensureTenant(tenant);
        expect(await mirrorDifferences(h, tenant)).toEqual([]);
        const reloaded = await h.redis.hgetall(h.keys(tenant).kits);
        expect(Object.keys(reloaded)).toEqual(Object.keys(kits));
        for (const [sku, json] of Object.entries(kits))
          expect(JSON.parse(reloaded[sku]!)).toEqual(JSON.parse(json));

        const summary = await reconcile(
          {
            knex: h.knex,
            redis: h.redis,
            prefix: h.prefix,
            engine: h.engine,
            writer: h.writer,
            logger,
            cartJobState: () => Promise.resolve('delayed'),
          },
          { tenant },
        );
        expect(summary).toMatchObject({ status: 'clean', drifts: 0 });
      }),
      { numRuns: RUNS },
    );
    // nothing ran but inserts: the tables are all there, nothing of another tenant
    const [tables] = (await h.knex.raw(
      'SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE()',
    )) as [[{ n: number }]];
    expect(Number(tables[0].n)).toBeGreaterThanOrEqual(12);
  });

  it('the CLI reads the same rows back (history, reservations)', async () => {
    const w: World = {
      source: "\\', CURRENT_USER(), '",
      eventId: "x', CURRENT_USER(), 'y",
      location: "' OR '1'='1",
      name: "a\0b\\'c",
      skus: ["O'Brien \\' OR 1=1 -- %_"],
      reference: "\\'); SELECT 1; --",
      reason: "\\'",
      cart: "cart \\' x",
      order: "order '' y",
      payment: 'pay \\',
      kit: "kit \\' x",
    };
    const list = events(w);
    const tenant = list[0]!.meta.tenant;
    const payloads = await mirror(list);
    await expectStoredVerbatim(w, tenant, payloads);
    const env = { MYSQL_URL: h.url };
    const history = await inventory(['history', w.skus[0]!, '--tenant', tenant, '--json'], env);
    expect(history.code, history.stderr).toBe(0);
    const moves = (JSON.parse(history.stdout) as { movements: Record<string, unknown>[] })
      .movements;
    // newest first
    const expected = payloads
      .flatMap((p) => p.movements.map((m) => ({ m, p })))
      .filter(({ m }) => m.sku === w.skus[0])
      .map(({ m, p }) => [m.locationId, m.referenceId, p.id])
      .reverse();
    expect(moves.map((m) => [m.location_id, m.reference_id, m.event_id])).toEqual(expected);
    const held = await inventory(['reservations', w.order, '--tenant', tenant, '--json'], env);
    expect(held.code, held.stderr).toBe(0);
    expect(JSON.parse(held.stdout)).toMatchObject([
      { kind: 'order', id: w.order, paymentId: w.payment, lines: [{ sku: w.skus[0] }] },
    ]);
  }, 180_000);
});
