/**
 * The id rule of docs/events.md (Validation): on top of 1–128 printable characters, no
 * whitespace at either end, no zero-width or bidirectional controls, no unpaired surrogates.
 * Generated ids that break it are refused, by the schemas and by the decoder (the envelope's
 * `id` and `source`, and the ids in `data`); generated printable ids without them are accepted
 * as they are. The character sets are written out here from the Unicode tables, not taken from
 * the code under test. No services needed.
 */
import type { ConsumeMessage } from 'amqplib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode } from '../../src/broker/decode.js';
import { idString, sourceString } from '../../src/domain/schemas.js';
import { PermanentError } from '../../src/errors/permanent-error.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 2000);

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);
/** Unicode's White_Space property (PropList.txt). */
const WHITE_SPACE = [
  ...range(0x09, 0x0d),
  0x20,
  0x85,
  0xa0,
  0x1680,
  ...range(0x2000, 0x200a),
  0x2028,
  0x2029,
  0x202f,
  0x205f,
  0x3000,
];
/** Zero-width characters and bidirectional controls (marks, embeddings, overrides, isolates). */
const INVISIBLE = [
  ...range(0x200b, 0x200f),
  ...range(0x202a, 0x202e),
  ...range(0x2060, 0x2064),
  ...range(0x2066, 0x2069),
  0xfeff,
];
const isControl = (cp: number) => cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f);
const isSurrogate = (cp: number) => cp >= 0xd800 && cp <= 0xdfff;
const refusedAnywhere = new Set(INVISIBLE);
const whiteSpace = new Set(WHITE_SPACE);

const codePoint = fc.oneof(
  { arbitrary: fc.integer({ min: 0x21, max: 0x7e }), weight: 3 },
  { arbitrary: fc.integer({ min: 0x80, max: 0x3000 }), weight: 1 },
  { arbitrary: fc.integer({ min: 0x3000, max: 0x10ffff }), weight: 1 },
);
/** A character an id may begin or end with. */
const edgeChar = codePoint
  .filter(
    (cp) => !isControl(cp) && !isSurrogate(cp) && !whiteSpace.has(cp) && !refusedAnywhere.has(cp),
  )
  .map((cp) => String.fromCodePoint(cp));
const anyOf = (cps: number[]) => fc.constantFrom(...cps).map((cp) => String.fromCodePoint(cp));
/** Inside an id, whitespace is allowed (control characters never are). */
const innerChar = fc.oneof(
  { arbitrary: edgeChar, weight: 4 },
  { arbitrary: anyOf(WHITE_SPACE.filter((cp) => !isControl(cp))), weight: 1 },
);
/** Up to 62 characters, so at most 124 UTF-16 code units even when all are astral. */
const goodId = fc.oneof(
  edgeChar,
  fc
    .tuple(edgeChar, fc.array(innerChar, { maxLength: 60 }), edgeChar)
    .map(([a, mid, b]) => a + mid.join('') + b),
);
/** `c` put into `id` at a generated position (which may split a surrogate pair). */
const inserted = (c: fc.Arbitrary<string>) =>
  fc
    .tuple(goodId, c, fc.nat())
    .map(([id, ch, at]) => {
      const i = at % (id.length + 1);
      return id.slice(0, i) + ch + id.slice(i);
    })
    .filter((id) => id.length <= 128);

const messages = (value: string, schema = idString) => {
  const r = schema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => i.message);
};

const EDGE = 'must not begin or end with whitespace';
const HIDDEN = 'must not contain zero-width or bidirectional control characters';
const SURROGATE = 'must not contain unpaired UTF-16 surrogates';

describe('ids: the rule that makes them mean the same in Redis and MySQL', () => {
  it('the reported case: PAD is an id, PAD followed by a space is refused', () => {
    expect(idString.parse('PAD')).toBe('PAD');
    expect(messages('PAD ')).toEqual([EDGE]);
    expect(idString.parse('P A D')).toBe('P A D');
  });

  it('accepts printable ids without those characters, unchanged, as ids and as sources', () => {
    fc.assert(
      fc.property(goodId, (id) => {
        expect(idString.parse(id)).toBe(id);
        expect(sourceString.parse(id)).toBe(id);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses whitespace (any Unicode White_Space) at either end', () => {
    const edge = fc
      .tuple(goodId, fc.array(anyOf(WHITE_SPACE), { minLength: 1, maxLength: 3 }), fc.boolean())
      .map(([id, ws, front]) => (front ? ws.join('') + id : id + ws.join('')));
    fc.assert(
      fc.property(edge, (id) => {
        expect(messages(id)).toContain(EDGE);
        expect(messages(id, sourceString)).toContain(EDGE);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses zero-width and bidirectional control characters anywhere', () => {
    fc.assert(
      fc.property(inserted(anyOf(INVISIBLE)), (id) => {
        expect(messages(id)).toContain(HIDDEN);
        expect(messages(id, sourceString)).toContain(HIDDEN);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses unpaired surrogates anywhere (UTF-8 would make them all U+FFFD)', () => {
    const lone = fc.integer({ min: 0xd800, max: 0xdfff }).map((u) => String.fromCharCode(u));
    fc.assert(
      fc.property(inserted(lone), (id) => {
        expect(messages(id)).toContain(SURROGATE);
        expect(messages(id, sourceString)).toContain(SURROGATE);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('ids: the decoder dead-letters events that carry such ids', () => {
  const message = (env: Record<string, unknown>): ConsumeMessage =>
    ({
      // JSON.stringify writes an unpaired surrogate as a \uXXXX escape, as a publisher may
      content: Buffer.from(JSON.stringify(env)),
      properties: { contentType: 'application/cloudevents+json' },
      fields: { exchange: 'commerce.events', routingKey: String(env.type) },
    }) as unknown as ConsumeMessage;
  const decodeOf = (env: Record<string, unknown>) =>
    decode(message(env), { maxBytes: 256 * 1024, cartTtlMs: () => 60_000 });
  const event = (over: Record<string, unknown>, data: Record<string, unknown> = {}) => ({
    specversion: '1.0',
    id: 'e-1',
    source: '/shop',
    type: 'cart.added',
    tenant: 'acme',
    ...over,
    data: { cartId: 'cart-1', sku: 'SKU-1', quantity: 1, ...data },
  });
  const bad = fc.oneof(
    fc
      .tuple(goodId, anyOf(WHITE_SPACE), fc.boolean())
      .map(([id, ws, front]) => (front ? ws + id : id + ws)),
    inserted(anyOf(INVISIBLE)),
    inserted(fc.integer({ min: 0xd800, max: 0xdfff }).map((u) => String.fromCharCode(u))),
  );
  const ENVELOPE = 'CloudEvents envelope';
  const DATA = 'cart.added data';
  const where = fc.constantFrom(
    { field: 'id', part: ENVELOPE, event: (v: string) => event({ id: v }) },
    { field: 'source', part: ENVELOPE, event: (v: string) => event({ source: v }) },
    { field: 'sku', part: DATA, event: (v: string) => event({}, { sku: v }) },
    { field: 'locationId', part: DATA, event: (v: string) => event({}, { locationId: v }) },
    { field: 'cartId', part: DATA, event: (v: string) => event({}, { cartId: v }) },
  );

  it('refuses them as invalid, naming the field', () => {
    fc.assert(
      fc.property(bad, where, (value, w) => {
        let err: unknown;
        try {
          decodeOf(w.event(value));
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(PermanentError);
        expect((err as PermanentError).reason).toBe('invalid');
        // a tab or a newline at an end is also not printable: that issue may come first
        expect((err as Error).message).toMatch(
          new RegExp(`^invalid ${w.part}: (.+; )?${w.field}: must not (begin|contain) `),
        );
      }),
      { numRuns: Math.max(1, Math.floor(RUNS / 4)) },
    );
  });

  it('accepts the same events with good ids, the ids unchanged', () => {
    fc.assert(
      fc.property(goodId, goodId, (id, sku) => {
        const d = decodeOf(event({ id }, { sku }));
        expect(d.meta.id).toBe(id);
        expect(d.command).toMatchObject({ sku });
      }),
      { numRuns: Math.max(1, Math.floor(RUNS / 4)) },
    );
  });
});
