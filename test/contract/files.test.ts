/**
 * The contract's files (docs/schemas/, docs/asyncapi.yaml) are what the code generates now, the
 * AsyncAPI document parses cleanly, names every event type the code knows, and its examples
 * validate against their schemas.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromFile, Parser } from '@asyncapi/parser';
import { describe, expect, test } from 'vitest';
import { consumers } from '../../consumers/index.js';
import { ASYNCAPI_FILE } from '../../src/contract/asyncapi.js';
import { CONSUMED_EXAMPLES, PUBLISHED_EXAMPLES } from '../../src/contract/examples.js';
import { contractFiles } from '../../src/contract/files.js';
import { SCHEMAS_DIR } from '../../src/contract/json-schemas.js';
import { ANNOUNCEMENT_TYPES, dataschemaOf } from '../../src/domain/announcement-schemas.js';
import { contractAjv, contractViolation } from '../support/contract.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Diagnostics of @asyncapi/parser tolerated, by code: `asyncapi-latest-version` (information:
 * 3.1.0 exists; the contract is written to 3.0.0, which every AsyncAPI 3 tool reads).
 */
const TOLERATED = new Set(['asyncapi-latest-version']);
/** Spectral severities: 0 error, 1 warning, 2 information, 3 hint. */
const WARNING = 1;

const listFiles = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(`${dir}/${e.name}`) : [`${dir}/${e.name}`],
  );

describe('generated contract files', () => {
  test('every checked-in file equals a fresh generation (npm run schemas), and no other', async () => {
    const fresh = await contractFiles();
    const stale = [...fresh].filter(([path, text]) => {
      try {
        return readFileSync(join(ROOT, path), 'utf8') !== text;
      } catch {
        return true;
      }
    });
    expect(
      stale.map(([p]) => p),
      'out of date: run npm run schemas',
    ).toEqual([]);
    const extra = listFiles(SCHEMAS_DIR).filter((f) => f.endsWith('.json') && !fresh.has(f));
    expect(extra, 'schema files nothing generates').toEqual([]);
  });

  test('a schema per consumed type and per published type, the published $id its dataschema', () => {
    const { idOf } = contractAjv();
    for (const type of consumers.keys()) expect(idOf(`consumed/${type}.json`)).toContain(type);
    for (const type of ANNOUNCEMENT_TYPES)
      expect(idOf(`published/${type}.json`)).toBe(dataschemaOf(type));
  });

  test('every example validates against its schema', () => {
    for (const [type, data] of Object.entries(CONSUMED_EXAMPLES)) {
      const e = { specversion: '1.0', id: 'x-1', source: '/shop', type, data };
      expect(contractViolation('consumed', e), type).toBeUndefined();
    }
    for (const [type, data] of Object.entries(PUBLISHED_EXAMPLES)) {
      const e = {
        specversion: '1.0',
        id: 'x#y#0',
        source:
          type === 'inventory.drift-detected' ? '/inventory-worker/reconcile' : '/inventory-worker',
        type,
        time: '2026-11-23T10:15:00Z',
        tenant: 'acme',
        datacontenttype: 'application/json',
        dataschema: dataschemaOf(type as never),
        data,
      };
      expect(contractViolation('published', e), type).toBeUndefined();
    }
  });

  test('the published envelope holds an announcement to the dataschema of its own type', () => {
    const e = {
      specversion: '1.0',
      id: 'x#y#0',
      source: '/inventory-worker',
      type: 'inventory.shortage',
      time: '2026-11-23T10:15:00Z',
      tenant: 'acme',
      datacontenttype: 'application/json',
      dataschema: dataschemaOf('inventory.low-stock'),
      data: PUBLISHED_EXAMPLES['inventory.shortage'],
    };
    expect(contractViolation('published', e)).toMatch(/dataschema/);
    expect(
      contractViolation('published', {
        ...e,
        dataschema: dataschemaOf('inventory.shortage'),
        extra: 1,
      }),
    ).toMatch(/additional/);
  });
});

describe('docs/asyncapi.yaml', () => {
  test('parses with @asyncapi/parser: no error, no warning but the tolerated ones', async () => {
    const parser = new Parser();
    const { document, diagnostics } = await fromFile(parser, join(ROOT, ASYNCAPI_FILE)).parse();
    const serious = diagnostics
      .filter((d) => d.severity <= WARNING && !TOLERATED.has(String(d.code)))
      .map((d) => `${d.code} ${d.path.join('.')}: ${d.message}`);
    expect(serious).toEqual([]);
    expect(document).toBeDefined();

    // every event type the code knows, with the exchange it travels on, and its payload resolved
    const messages = new Map(
      document!
        .allMessages()
        .all()
        .map((m) => [m.name(), m]),
    );
    for (const type of [...consumers.keys(), ...ANNOUNCEMENT_TYPES]) {
      const m = messages.get(type);
      expect(m, type).toBeDefined();
      expect(m!.payload()?.allOf()?.length, type).toBe(2);
      expect(m!.examples().length, type).toBeGreaterThan(0);
    }
    const exchangeOf = (address: string) =>
      document!
        .channels()
        .all()
        .filter((c) => c.bindings().has('amqp'))
        .map((c) => c.bindings().get('amqp')!.json() as { exchange?: { name: string } })
        .find((b) => b.exchange?.name === address);
    expect(exchangeOf('commerce.events')).toBeDefined();
    expect(exchangeOf('inventory.events')).toBeDefined();
    const queues = document!
      .channels()
      .all()
      .map((c) => c.address());
    expect(queues).toEqual(
      expect.arrayContaining([
        'inventory.commerce-events',
        'inventory.retry.1s',
        'inventory.retry.10s',
        'inventory.retry.60s',
        'inventory.dlq',
      ]),
    );
  });

  test('a broken document is reported (the check can fail)', async () => {
    const parser = new Parser();
    const text = readFileSync(join(ROOT, ASYNCAPI_FILE), 'utf8').replace(
      'action: receive',
      'action: listen',
    );
    const { diagnostics } = await parser.parse(text, { source: join(ROOT, ASYNCAPI_FILE) });
    expect(diagnostics.some((d) => d.severity === 0)).toBe(true);
  });
});
