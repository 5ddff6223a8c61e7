/**
 * The header readers on what amqplib's decoder can produce, including what a hostile
 * publisher gets out of it: amqplib assigns each entry of a table, so an entry named
 * `__proto__` becomes the object's prototype. Generated tables never make a reader throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  displayableHeaders,
  headerCount,
  headerString,
  isByteArray,
  republishableHeaders,
} from '../../src/broker/headers.js';

/** A table as amqplib's decoder builds it: plain assignment, `__proto__` included. */
function decodedTable(entries: [string, unknown][]): Record<string, unknown> {
  const t: Record<string, unknown> = {};
  for (const [k, v] of entries) t[k] = v;
  return t;
}

const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)),
    fc.record({ '!': fc.constantFrom('decimal', 'timestamp', 'long', 'x'), value: tie('value') }),
    fc.array(tie('value'), { maxLength: 3 }),
    fc
      .array(fc.tuple(fc.constantFrom('__proto__', 'toString', 'a', '!', 'value'), tie('value')), {
        maxLength: 3,
      })
      .map(decodedTable),
  ),
}));

describe('header readers', () => {
  it('a table whose __proto__ entry was a byte array is not a byte array', () => {
    const spoofed = decodedTable([['__proto__', Buffer.from('abc')]]);
    expect(Buffer.isBuffer(spoofed)).toBe(true); // what fooled the worker
    expect(isByteArray(spoofed)).toBe(false);
    expect(() => republishableHeaders({ h: spoofed }, 10_000)).not.toThrow();
    expect(() => displayableHeaders({ h: spoofed })).not.toThrow();
  });

  it('only own entries of the expected type are read', () => {
    const h = decodedTable([
      ['__proto__', { 'x-attempts': 3, name: 'inherited' }],
      ['n', '7'],
    ]);
    expect(headerCount(h, 'x-attempts')).toBeUndefined();
    expect(headerString(h, 'name')).toBeUndefined();
    expect(headerCount(h, 'n')).toBeUndefined();
  });

  it('no generated table makes a reader throw, and republished headers stay in budget', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), value), { maxLength: 6 }), (entries) => {
        const headers = decodedTable(entries);
        const out = republishableHeaders(headers, 2_000);
        expect(JSON.stringify(displayableHeaders(headers))).toBeTypeOf('string');
        headerString(headers, 'x-original-routing-key');
        headerCount(headers, 'x-attempts');
        expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
      }),
      { numRuns: 2000 },
    );
  });
});
