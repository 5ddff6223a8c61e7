import { z } from 'zod';
import { idString } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';
import { placeableLines, splitLocated } from './fields.js';

/** Trimmed, then upper-cased (which may lengthen it: ß is SS), and 1–64 characters as stored. */
const place = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .transform((s) => s.toUpperCase())
  .pipe(z.string().max(64, 'must be at most 64 characters once upper-cased'));

/**
 * order.placed → placeOrder-6+.lua: all lines or none become an order hold; the cart's hold
 * converts. `fulfillFromLocationId` sets the location of every line (it overrides); the lines left
 * without one are routed (domain/network.ts) towards `shippingAddress` (its country, and
 * region); for a tenant with no locations they are at `default`.
 */
export default defineConsumer({
  type: 'order.placed',
  data: z.object({
    orderId: idString,
    cartId: idString.optional(),
    lines: placeableLines,
    fulfillFromLocationId: idString.optional(),
    shippingAddress: z.object({ country: place, region: place.optional() }).optional(),
  }),
  command: (d, ctx) => {
    const { lines, unlocated: routed } = splitLocated(d.lines, d.fulfillFromLocationId);
    const a = d.shippingAddress;
    return {
      op: 'placeOrder',
      orderId: d.orderId,
      ...(d.cartId !== undefined ? { cartId: d.cartId } : {}),
      ...(d.cartId !== undefined && ctx.eventTimeMs !== undefined
        ? { at: ctx.eventTimeMs, rememberMs: ctx.cartTtlMs }
        : {}),
      lines,
      ...(routed.length > 0 ? { routed } : {}),
      ...(a
        ? { destination: { country: a.country, ...(a.region ? { region: a.region } : {}) } }
        : {}),
    };
  },
  orderingKeys: (d) => [`order:${d.orderId}`, ...(d.cartId ? [`cart:${d.cartId}`] : [])],
});
