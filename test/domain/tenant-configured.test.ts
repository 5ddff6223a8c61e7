/**
 * tenant.configured on the decoder's path: what it accepts becomes configureTenant with the
 * event's time; null is kept (it clears), an absent field stays absent; what it refuses is a
 * PermanentError `invalid` naming the field. cart.checkout-started says whether its TTL is the
 * event's own.
 */
import type { ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { decode } from '../../src/broker/decode.js';
import { parseEvent } from '../../src/domain/schemas.js';
import { PermanentError } from '../../src/errors/permanent-error.js';

const message = (env: Record<string, unknown>): ConsumeMessage =>
  ({
    content: Buffer.from(JSON.stringify(env)),
    properties: { contentType: 'application/cloudevents+json' },
    fields: { exchange: 'commerce.events', routingKey: String(env.type) },
  }) as unknown as ConsumeMessage;

const decodeOf = (
  type: string,
  data: Record<string, unknown>,
  over: Record<string, unknown> = {},
) => {
  const d = decode(
    message({
      specversion: '1.0',
      id: 'e-1',
      source: '/admin',
      type,
      tenant: 'acme',
      data,
      ...over,
    }),
    { maxBytes: 256 * 1024, cartTtlMs: () => 60_000, checkoutTtlMs: 900_000 },
  );
  parseEvent(d.meta, d.command);
  return d.command;
};

const refusal = (data: Record<string, unknown>): string => {
  try {
    decodeOf('tenant.configured', data);
  } catch (e) {
    expect(e).toBeInstanceOf(PermanentError);
    expect((e as PermanentError).reason).toBe('invalid');
    return (e as Error).message;
  }
  throw new Error('accepted');
};

describe('tenant.configured', () => {
  const time = '2026-11-23T10:15:00.250+01:00';

  it('becomes configureTenant at the event time; null kept, absent left out', () => {
    expect(
      decodeOf('tenant.configured', { cartTtlSeconds: 5, checkoutTtlSeconds: null }, { time }),
    ).toEqual({
      op: 'configureTenant',
      at: Date.parse(time),
      cartTtlSeconds: 5,
      checkoutTtlSeconds: null,
    });
    expect(decodeOf('tenant.configured', { defaultReorderLevel: 0 }, { time })).toEqual({
      op: 'configureTenant',
      at: Date.parse(time),
      defaultReorderLevel: 0,
    });
  });

  it('without a time: when it was decoded', () => {
    const before = Date.now();
    const c = decodeOf('tenant.configured', { cartTtlSeconds: 60 });
    expect(c).toMatchObject({ op: 'configureTenant', cartTtlSeconds: 60 });
    const at = (c as { at: number }).at;
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
  });

  it('refuses an event naming no setting, and each setting out of bounds or not a whole number', () => {
    expect(refusal({})).toMatch(/must name at least one of cartTtlSeconds/);
    expect(refusal({ unknown: 1 })).toMatch(/must name at least one/);
    expect(refusal({ cartTtlSeconds: 0 })).toMatch(/cartTtlSeconds/);
    expect(refusal({ cartTtlSeconds: 30 * 24 * 3600 + 1 })).toMatch(/cartTtlSeconds/);
    expect(refusal({ cartTtlSeconds: 1.5 })).toMatch(/cartTtlSeconds/);
    expect(refusal({ checkoutTtlSeconds: 604_801 })).toMatch(/checkoutTtlSeconds/);
    expect(refusal({ checkoutTtlSeconds: '60' })).toMatch(/checkoutTtlSeconds/);
    expect(refusal({ defaultReorderLevel: -1 })).toMatch(/defaultReorderLevel/);
    expect(refusal({ defaultReorderLevel: 1e9 + 1 })).toMatch(/defaultReorderLevel/);
  });
});

describe('cart.checkout-started', () => {
  it("marks the event's own TTL, which the tenant's setting does not replace", () => {
    expect(decodeOf('cart.checkout-started', { cartId: 'c', ttlSeconds: 60 })).toEqual({
      op: 'extendCart',
      cartId: 'c',
      ttlMs: 60_000,
      ttlFromEvent: true,
    });
    expect(decodeOf('cart.checkout-started', { cartId: 'c' })).toEqual({
      op: 'extendCart',
      cartId: 'c',
      ttlMs: 900_000,
    });
  });
});
