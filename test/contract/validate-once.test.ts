/**
 * A delivery is validated once, at the edge: the processor hands what `decode` returns to
 * `Engine.applyValid`, without `parseEvent` checking it again. That is sound only if every
 * command and meta `decode` accepts also passes the engine's schemas (`commandSchema`,
 * `eventMetaSchema`) unchanged. Checked here over generated events: valid examples of every
 * consumed type with one or two mutations, and arbitrary strings (any Unicode, any length) put
 * anywhere in the event, its `time` included.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { decode } from '../../src/broker/decode.js';
import { parseEvent } from '../../src/domain/schemas.js';
import { PermanentError } from '../../src/errors/permanent-error.js';
import {
  CONSUMED_TYPES,
  DECODE_OPTIONS,
  deliveryOf,
  mutate,
  mutation,
  validEvent,
  type Json,
  type Mutation,
} from './mutations.js';

type Obj = { [k: string]: Json };

/** Strings of any code points (lone surrogates too), around the 64 and 128 limits. */
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 140 }),
  fc.string({ unit: 'grapheme', maxLength: 70 }),
  fc
    .constantFrom('ß', 'ŉ', 'ﬀ', 'ı', 'İ', 'ǰ')
    .chain((c) => fc.nat({ max: 70 }).map((n) => c.repeat(n))),
);

/** A mutation of the sample's own kinds, or an arbitrary string set at any path. */
const anyMutation: fc.Arbitrary<Mutation> = fc.oneof(
  mutation,
  fc.record({ kind: fc.constant('set' as const), pick: fc.nat(), value: anyString }),
  fc.record({ kind: fc.constant('place' as const), value: anyString }),
);

/** A generated event as the broker would deliver it. */
const delivery = fc
  .tuple(fc.constantFrom(...CONSUMED_TYPES), fc.array(anyMutation, { minLength: 0, maxLength: 2 }))
  .map(([type, ms]) => {
    const event = ms.reduce((e, m) => mutate(e, m), validEvent(type, 0));
    return deliveryOf(Buffer.from(JSON.stringify(event)), type);
  });

describe('validated once: what decode accepts, the engine accepts unchanged', () => {
  test('20,000 generated deliveries', () => {
    const tally = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(delivery, (msg) => {
        let d;
        try {
          d = decode(msg, DECODE_OPTIONS);
        } catch (e) {
          if (!(e instanceof PermanentError)) throw e;
          tally.refused++;
          return;
        }
        tally.accepted++;
        const again = parseEvent(d.meta, d.command);
        expect(again.meta).toStrictEqual(d.meta);
        expect(again.command).toStrictEqual(d.command);
      }),
      { numRuns: 20_000, seed: Number(process.env.CONTRACT_SEED ?? 20261204) },
    );
    // both sides of the property are exercised
    expect(tally.accepted).toBeGreaterThan(2_000);
    expect(tally.refused).toBeGreaterThan(2_000);
  });

  test('a destination that upper-cases past 64 characters is refused by decode itself', () => {
    const event: Obj = validEvent('order.placed', 0);
    (event.data as Obj).shippingAddress = { country: 'ß'.repeat(33) };
    const msg = deliveryOf(Buffer.from(JSON.stringify(event)), 'order.placed');
    expect(() => decode(msg, DECODE_OPTIONS)).toThrow(/shippingAddress\.country: .*64/);
  });
});
