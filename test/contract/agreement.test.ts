/**
 * The schema and the worker agree: over a generated sample of events (valid examples with one or
 * two mutations), what the checked-in JSON Schema rejects is exactly what the worker refuses as
 * `invalid` and dead-letters, but for the refinements the schemas cannot express, each named.
 * The bulk runs the worker's parse path directly (decode → parseEvent); a smaller sample goes
 * through a real worker and broker, to the DLQ or to processed_events.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { E2E } from '../e2e/harness.js';
import { contractViolation } from '../support/contract.js';
import { collectAnnouncements, publishEvents } from '../support/rabbit.js';
import { waitFor } from '../support/worker.js';
import {
  CONSUMED_TYPES,
  mutate,
  mutation,
  refinementBroken,
  validEvent,
  type Mutation,
  workerVerdict,
  type Json,
} from './mutations.js';

type Obj = { [k: string]: Json };

interface Sample {
  event: Obj;
  body: Buffer;
}

const sample = (n: number) =>
  fc
    .tuple(fc.constantFrom(...CONSUMED_TYPES), fc.array(mutation, { minLength: 1, maxLength: 2 }))
    .map(([type, ms]): Sample => {
      const event = ms.reduce((e, m) => mutate(e, m), validEvent(type, n));
      // what goes on the wire: the worker reads these bytes, the schema their JSON
      const body = Buffer.from(JSON.stringify(event));
      return { event: JSON.parse(body.toString()) as Obj, body };
    });

const schemaSays = (e: Obj): boolean => contractViolation('consumed', e) === undefined;

describe('the schema and the worker agree on what is invalid', () => {
  test('parse path: a generated sample of 3,000 events', () => {
    const tally = { valid: 0, invalid: 0, refinements: new Map<string, number>() };
    fc.assert(
      fc.property(sample(0), ({ event, body }) => {
        const schema = schemaSays(event);
        const worker = workerVerdict(body, event.type as string);
        // anything the worker refuses for these events is a contract matter
        if (!worker.ok) expect(worker.reason).toBe('invalid');
        if (schema === worker.ok) {
          if (schema) tally.valid++;
          else tally.invalid++;
          return;
        }
        const known = refinementBroken(event);
        expect(
          known,
          `schema ${schema ? 'accepts' : 'rejects'}, worker ${worker.ok ? 'accepts' : 'refuses'}: ` +
            `${worker.ok ? '' : worker.message} ${contractViolation('consumed', event) ?? ''}`,
        ).toBeDefined();
        tally.refinements.set(known!, (tally.refinements.get(known!) ?? 0) + 1);
      }),
      { numRuns: 3_000, seed: Number(process.env.CONTRACT_SEED ?? 20261202) },
    );
    console.log(
      `agreement: ${tally.valid} valid, ${tally.invalid} invalid for both; ` +
        `refinements only the worker checks: ${JSON.stringify(Object.fromEntries(tally.refinements))}`,
    );
    // the sample is worth something: both verdicts occur, and each refinement is exercised
    expect(tally.valid).toBeGreaterThan(100);
    expect(tally.invalid).toBeGreaterThan(1_000);
    expect([...tally.refinements.keys()].sort()).toEqual(
      ['kit-components-distinct', 'place-trimmed-length', 'transfer-locations-differ'].sort(),
    );
  });

  test('every example is valid to both, and each refinement alone is refused by the worker only', () => {
    for (const type of CONSUMED_TYPES) {
      const e = validEvent(type, 1);
      expect(schemaSays(e), type).toBe(true);
      expect(workerVerdict(Buffer.from(JSON.stringify(e)), type), type).toEqual({ ok: true });
    }
    const same = mutate(validEvent('transfer.shipped', 2), { kind: 'same-locations' });
    expect(schemaSays(same)).toBe(true);
    expect(workerVerdict(Buffer.from(JSON.stringify(same)), 'transfer.shipped').ok).toBe(false);
    const blank = validEvent('order.placed', 3);
    (blank.data as Obj).shippingAddress = { country: '   ' };
    expect(schemaSays(blank)).toBe(true);
    expect(workerVerdict(Buffer.from(JSON.stringify(blank)), 'order.placed').ok).toBe(false);
    for (const self of [true, false]) {
      const kit = mutate(validEvent('kit.defined', 8), { kind: 'kit-component', self });
      expect(schemaSays(kit)).toBe(true);
      expect(workerVerdict(Buffer.from(JSON.stringify(kit)), 'kit.defined').ok).toBe(false);
    }
    // expressed in the schema, though zod checks it with a refinement: delta is not 0
    const zero = mutate(validEvent('stock.adjusted', 4), { kind: 'zero-delta' });
    expect(schemaSays(zero)).toBe(false);
    expect(workerVerdict(Buffer.from(JSON.stringify(zero)), 'stock.adjusted').ok).toBe(false);
    // expressed too (anyOf of required): tenant.configured names at least one setting
    const none = validEvent('tenant.configured', 7);
    none.data = { other: 1 };
    expect(schemaSays(none)).toBe(false);
    expect(workerVerdict(Buffer.from(JSON.stringify(none)), 'tenant.configured').ok).toBe(false);
  });

  test('lengths count code points in both (zod 4 and JSON Schema), not UTF-16 units', () => {
    const e = validEvent('cart.added', 5);
    for (const [n, ok] of [
      [128, true],
      [129, false],
    ] as const) {
      (e.data as Obj).cartId = '\ud83d\ude00'.repeat(n); // n code points, 2n UTF-16 units
      expect(workerVerdict(Buffer.from(JSON.stringify(e)), 'cart.added').ok, `${n}`).toBe(ok);
      expect(schemaSays(e), `${n}`).toBe(ok);
    }
  });

  test('the shared publish helper refuses a valid-looking invalid event, unless told', async () => {
    const e = validEvent('cart.added', 6) as { type: string; id: string };
    ((e as unknown as Obj).data as Obj).quantity = 0;
    await expect(publishEvents('amqp://unused', [e])).rejects.toThrow(/breaks its schema/);
  });
});

describe('through a real worker: the DLQ gets exactly what the schema rejects', () => {
  let h: E2E;
  beforeAll(async () => {
    h = await E2E.start('contract', {}, { announcements: false });
  });
  afterAll(async () => {
    await h?.close();
  });

  test('a generated sample of 150 events, and each refinement', async () => {
    const tenant = h.tenant('ct');
    // transfer.received before its shipment waits through the retry tiers (71 s): left out here
    const types = CONSUMED_TYPES.filter((t) => t !== 'transfer.received');
    const generated = fc.sample(
      fc.tuple(fc.constantFrom(...types), fc.array(mutation, { minLength: 0, maxLength: 2 })),
      { numRuns: 150, seed: Number(process.env.CONTRACT_SEED ?? 20261202) },
    );
    // and one event breaking each refinement, so the real path shows them too
    const refinements: [string, Mutation[]][] = [
      ['transfer.created', [{ kind: 'same-locations' }]],
      ['order.placed', [{ kind: 'place', value: '   ' }]],
      ['kit.defined', [{ kind: 'kit-component', self: true }]],
      ['kit.defined', [{ kind: 'kit-component', self: false }]],
    ];
    const samples = [...generated, ...refinements].map(([type, ms], n) => {
      const event = ms.reduce((e, m) => mutate(e, m), validEvent(type, n, tenant));
      // the tenant is never mutated away: every event stays this test's; publishEvents fills
      // in specversion and source when absent, so the verdicts are on what it sends
      return JSON.parse(
        JSON.stringify({ specversion: '1.0', source: '/test', ...event, tenant }),
      ) as Obj;
    });
    // through the shared helper, told these break the contract on purpose; an id that is not a
    // string cannot be an AMQP message-id, so those go raw
    const stringIds = samples.filter((e) => typeof e.id === 'string');
    await publishEvents(h.url, stringIds as { type: string; id: string }[], { invalid: true });
    await h.publishRaw(
      samples
        .filter((e) => typeof e.id !== 'string')
        .map((e) => ({
          routingKey: e.type as string,
          body: Buffer.from(JSON.stringify(e)),
          options: { contentType: 'application/cloudevents+json' },
        })),
    );

    const dead = new Map<number, string>();
    const collect = async () => {
      for (const m of await h.takeDeadLetters()) {
        const body = JSON.parse(m.content.toString()) as Obj;
        dead.set(body.sampleNo as number, String(m.properties.headers?.['x-error-reason']));
      }
    };
    await waitFor(
      async () => {
        await collect();
        return dead.size > 0;
      },
      30_000,
      'dead letters',
    );
    await h.quiesce(60_000);
    await collect();

    const key = (e: Obj) => JSON.stringify([e.source, e.id]);
    const kept = samples.filter((e) => !dead.has(e.sampleNo as number));
    const rows = (await h
      .knex('processed_events')
      .where({ tenant })
      .select('event_source', 'event_id')) as { event_source: string; event_id: string }[];
    const processed = new Set(rows.map((r) => JSON.stringify([r.event_source, r.event_id])));
    // every event not dead-lettered was recorded (duplicates of one id once)
    expect(kept.filter((e) => !processed.has(key(e))).map((e) => e.sampleNo)).toEqual([]);

    const known = samples.filter((e) => refinementBroken(e)).map((e) => e.sampleNo as number);
    const disagree = samples
      .filter((e) => !known.includes(e.sampleNo as number))
      .filter((e) => schemaSays(e) === dead.has(e.sampleNo as number))
      .map(
        (e) =>
          `#${String(e.sampleNo)} ${String(e.type)}: schema ${schemaSays(e) ? 'accepts' : 'rejects'}, ` +
          `worker ${dead.has(e.sampleNo as number) ? `dead-lettered (${dead.get(e.sampleNo as number)})` : 'applied'}`,
      );
    expect(disagree).toEqual([]);
    for (const reason of dead.values()) expect(reason).toMatch(/^invalid: /);
    console.log(
      `broker sample: ${samples.length} events, ${dead.size} dead-lettered, ${kept.length} ` +
        `recorded, ${known.length} breaking a refinement only the worker checks`,
    );
    expect(known.length).toBeGreaterThanOrEqual(refinements.length);
    // a refinement the schema accepts is refused by the worker; one it rejects may pass the
    // worker (a country of 64 characters and a space: too long as sent, not once trimmed)
    for (const e of samples.filter((s) => known.includes(s.sampleNo as number) && schemaSays(s)))
      expect(dead.has(e.sampleNo as number), `refinement #${String(e.sampleNo)}`).toBe(true);
    expect(dead.size).toBeGreaterThan(30);
    expect(kept.length).toBeGreaterThan(10);
  });

  test('the announcement collector fails loudly on an announcement that breaks its schema', async () => {
    const c = await collectAnnouncements(h.url);
    const good = {
      specversion: '1.0',
      id: '/test#x#0',
      source: '/inventory-worker',
      type: 'inventory.shortage',
      time: '2026-11-23T10:15:00.000Z',
      tenant: 'acme',
      datacontenttype: 'application/json',
      dataschema: 'urn:inventory-worker:schema:inventory.shortage:v1',
      data: {
        causationId: 'x',
        causationSource: '/test',
        causationType: 'stock.counted',
        sku: 'A',
        locationId: 'default',
        available: -1,
      },
    };
    // as the worker publishes: valid, then one whose data lost a field
    const bad = { ...good, id: '/test#x#1', data: { ...good.data, available: undefined } };
    await h.publishRaw(
      [good, bad].map((e) => ({
        exchange: 'inventory.events',
        routingKey: e.type,
        body: Buffer.from(JSON.stringify(e)),
        options: { contentType: 'application/cloudevents+json', messageId: e.id },
      })),
    );
    await waitFor(() => c.events.length === 2, 10_000, 'both announcements');
    expect(c.violations).toHaveLength(1);
    expect(c.violations[0]).toMatch(/inventory.shortage \/test#x#1 breaks its schema.*available/);
    expect(() => c.assertValid()).toThrow(/break the contract/);
    await expect(c.close()).rejects.toThrow(/break the contract/);
  });
});
