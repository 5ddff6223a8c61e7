/**
 * Trace context comes from publishers (envelope attributes or AMQP headers) and goes out again
 * on announcements and dead letters: whatever is read, only a well-formed context may come out,
 * and a well-formed one comes out as it went in.
 */
import type { ConsumeMessage } from 'amqplib';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { traceContextOfUndecoded } from '../../src/broker/decode.js';
import { parseTraceContext, type TraceContext } from '../../src/domain/trace-context.js';

const hex = (n: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: n, maxLength: n });
/** well-formed, near misses of each part, and anything at all */
const traceparentLike = fc.oneof(
  fc
    .tuple(hex(2), hex(32), hex(16), hex(2), fc.constantFrom('', '-', '-01', '\n', '\u0000'))
    .map(([v, t, p, f, tail]) => `${v}-${t}-${p}-${f}${tail}`.toLowerCase()),
  fc.tuple(hex(2), hex(32), hex(16), hex(2)).map((p) => p.join('-')),
  fc.tuple(hex(2), hex(31), hex(17), hex(2)).map((p) => p.join('-')),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.anything(),
);
const tracestateLike = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 700 }),
  fc.string({ unit: fc.constantFrom(...' =,abc\t'), maxLength: 600 }),
  fc.anything(),
);

const WELL_FORMED = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

function expectWellFormed(c: TraceContext | undefined): void {
  if (c === undefined) return;
  const m = WELL_FORMED.exec(c.traceparent);
  expect(m, c.traceparent).not.toBeNull();
  expect(m![1]).toBe(c.traceId);
  expect(m![1]).not.toMatch(/^0+$/);
  expect(m![2]).not.toMatch(/^0+$/);
  if (c.tracestate !== undefined) {
    expect(c.tracestate.length).toBeLessThanOrEqual(512);
    expect(c.tracestate).toMatch(/^[\x20-\x7e]*$/);
    expect(c.tracestate.trim()).not.toBe('');
  }
}

it('whatever is read, what comes out is a well-formed trace context or nothing', () => {
  fc.assert(
    fc.property(traceparentLike, tracestateLike, (parent, state) => {
      expectWellFormed(parseTraceContext(parent, state));
    }),
    { numRuns: 5000 },
  );
});

it('a well-formed version 00 context comes out as it went in', () => {
  const lower = (n: number) =>
    fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
  fc.assert(
    fc.property(
      lower(32).filter((s) => !/^0+$/.test(s)),
      lower(16).filter((s) => !/^0+$/.test(s)),
      lower(2),
      fc.string({ unit: fc.constantFrom(...'abc=,-'), minLength: 1, maxLength: 100 }),
      (traceId, parentId, flags, state) => {
        const traceparent = `00-${traceId}-${parentId}-${flags}`;
        expect(parseTraceContext(traceparent, state)).toEqual({
          traceparent,
          traceId,
          tracestate: state,
        });
      },
    ),
  );
});

it('a message that could not be decoded never throws while its trace context is read', () => {
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 500 }).map((b) => Buffer.from(b)),
    fc
      .record({ traceparent: traceparentLike, tracestate: tracestateLike }, { requiredKeys: [] })
      .map((attributes) => Buffer.from(JSON.stringify(attributes) ?? 'null')),
    fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  );
  const headers = fc.option(
    fc.dictionary(fc.constantFrom('traceparent', 'tracestate', '__proto__', 'x'), fc.anything()),
  );
  fc.assert(
    fc.property(body, headers, (content, h) => {
      const msg = { content, properties: { headers: h ?? undefined }, fields: {} };
      expectWellFormed(traceContextOfUndecoded(msg as unknown as ConsumeMessage, 256 * 1024));
    }),
    { numRuns: 3000 },
  );
});
