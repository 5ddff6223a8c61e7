import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/**
 * cart.checkout-started → extendCart-5.lua: the shopper reached payment; the cart's hold lasts
 * at least `ttlSeconds` (else the tenant's checkoutTtlSeconds, else CHECKOUT_TTL_SECONDS) from
 * now, even past the cart TTL. Never shortens it.
 */
export default defineConsumer({
  type: 'cart.checkout-started',
  data: z.object({
    cartId: idString,
    ttlSeconds: z.number().int().min(1).max(604_800).optional(),
  }),
  command: (d, ctx) => ({
    op: 'extendCart',
    cartId: d.cartId,
    ...(d.ttlSeconds !== undefined
      ? { ttlMs: d.ttlSeconds * 1000, ttlFromEvent: true }
      : { ttlMs: ctx.checkoutTtlMs }),
  }),
  orderingKeys: (d) => [`cart:${d.cartId}`],
});
